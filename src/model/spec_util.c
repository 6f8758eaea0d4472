/* Field access and value checks for the spec parsers (spec_util.h). Kept apart from the three
 * kinds so each parser reads as the list of its fields and rules. */
#include "model/spec_util.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "model/sqlquote.h"
#include "base/xalloc.h"

#define API_VERSION "ducklake.featherman.dev/v1alpha1"

void fm_sp_path(char *out, size_t n, const char *parent, const char *key) {
    snprintf(out, n, "%s%s%s", parent, *parent ? "." : "", key);
}

void fm_sp_index(char *out, size_t n, const char *parent, size_t i) { snprintf(out, n, "%s[%zu]", parent, i); }

int fm_sp_known(json_t *obj, const char *path, const char *const *allowed, fm_err *err) {
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        (void)v;
        size_t i;
        for (i = 0; allowed[i]; i++)
            if (strcmp(allowed[i], key) == 0) break;
        if (allowed[i]) continue;
        fm_buf list;
        fm_buf_init(&list);
        for (i = 0; allowed[i]; i++) fm_buf_printf(&list, "%s%s", i ? ", " : "", allowed[i]);
        char shown[80];
        int ok = fm_utf8_valid(key, strlen(key)) && strlen(key) < 64;
        for (const char *c = key; ok && *c; c++)
            if ((unsigned char)*c < 0x20) ok = 0;
        snprintf(shown, sizeof shown, "%s", ok ? key : "(unprintable)");
        fm_fail(err, FM_E_INVALID, "%s%s%s: unknown field (known fields: %s)", path, *path ? "." : "", shown,
                list.data);
        fm_buf_free(&list);
        return -1;
    }
    return 0;
}

static const char *json_kind(json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

/* the child, NULL when absent or null; sets path */
static json_t *child(json_t *parent, const char *ppath, const char *key, char *path, size_t n) {
    fm_sp_path(path, n, ppath, key);
    json_t *v = parent ? json_object_get(parent, key) : NULL;
    return json_is_null(v) ? NULL : v;
}

int fm_sp_obj(json_t *parent, const char *ppath, const char *key, bool required, json_t **out, fm_err *err) {
    char path[256];
    json_t *v = child(parent, ppath, key, path, sizeof path);
    *out = NULL;
    if (!v) return required ? fm_fail(err, FM_E_INVALID, "%s: required field is missing", path) : 0;
    if (!json_is_object(v)) return fm_fail(err, FM_E_INVALID, "%s: must be an object, not %s", path, json_kind(v));
    *out = v;
    return 0;
}

int fm_sp_str(json_t *parent, const char *ppath, const char *key, bool required, const char *def, size_t maxlen,
              char **out, fm_err *err) {
    char path[256];
    json_t *v = child(parent, ppath, key, path, sizeof path);
    *out = NULL;
    if (!v) {
        if (required) return fm_fail(err, FM_E_INVALID, "%s: required field is missing", path);
        *out = def ? fm_xstrdup(def) : NULL;
        return 0;
    }
    if (!json_is_string(v)) return fm_fail(err, FM_E_INVALID, "%s: must be a string, not %s", path, json_kind(v));
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (strlen(s) != n) return fm_fail(err, FM_E_INVALID, "%s: contains a NUL character", path);
    if (!fm_utf8_valid(s, n)) return fm_fail(err, FM_E_INVALID, "%s: is not valid UTF-8", path);
    if (n > maxlen) return fm_fail(err, FM_E_INVALID, "%s: is %zu bytes long (at most %zu)", path, n, maxlen);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\n' && s[i] != '\t')
            return fm_fail(err, FM_E_INVALID, "%s: contains a control character", path);
    if (required && n == 0) return fm_fail(err, FM_E_INVALID, "%s: must not be empty", path);
    *out = fm_xstrdup(s);
    return 0;
}

int fm_sp_enum(json_t *parent, const char *ppath, const char *key, const char *def, const char *const *values,
               char **out, fm_err *err) {
    if (fm_sp_str(parent, ppath, key, def == NULL, def, 64, out, err)) return -1;
    for (size_t i = 0; values[i]; i++)
        if (strcmp(values[i], *out) == 0) return 0;
    char path[256];
    fm_sp_path(path, sizeof path, ppath, key);
    fm_buf list;
    fm_buf_init(&list);
    for (size_t i = 0; values[i]; i++) fm_buf_printf(&list, "%s%s", i ? ", " : "", values[i]);
    fm_fail(err, FM_E_INVALID, "%s: \"%s\" is not one of %s", path, *out, list.data);
    fm_buf_free(&list);
    free(*out);
    *out = NULL;
    return -1;
}

int fm_sp_int(json_t *parent, const char *ppath, const char *key, long def, long min, long max, long *out,
              fm_err *err) {
    char path[256];
    json_t *v = child(parent, ppath, key, path, sizeof path);
    *out = def;
    if (!v) return 0;
    if (!json_is_integer(v)) return fm_fail(err, FM_E_INVALID, "%s: must be an integer, not %s", path, json_kind(v));
    json_int_t i = json_integer_value(v);
    if (i < min || i > max)
        return fm_fail(err, FM_E_INVALID, "%s: %lld is out of range %ld..%ld", path, (long long)i, min, max);
    *out = (long)i;
    return 0;
}

int fm_sp_num(json_t *parent, const char *ppath, const char *key, double def, double *out, fm_err *err) {
    char path[256];
    json_t *v = child(parent, ppath, key, path, sizeof path);
    *out = def;
    if (!v) return 0;
    if (!json_is_number(v)) return fm_fail(err, FM_E_INVALID, "%s: must be a number, not %s", path, json_kind(v));
    *out = json_number_value(v);
    return 0;
}

int fm_sp_bool(json_t *parent, const char *ppath, const char *key, bool def, bool *out, fm_err *err) {
    char path[256];
    json_t *v = child(parent, ppath, key, path, sizeof path);
    *out = def;
    if (!v) return 0;
    if (!json_is_boolean(v)) return fm_fail(err, FM_E_INVALID, "%s: must be true or false, not %s", path, json_kind(v));
    *out = json_is_true(v);
    return 0;
}

int fm_sp_duration(json_t *parent, const char *ppath, const char *key, long def_ms, long min_ms, long *out,
                   fm_err *err) {
    char *s = NULL;
    *out = def_ms;
    if (fm_sp_str(parent, ppath, key, false, NULL, 64, &s, err)) return -1;
    if (!s) return 0;
    char path[256];
    fm_sp_path(path, sizeof path, ppath, key);
    long ms = fm_duration_ms(s);
    int rc = 0;
    if (ms < 0)
        rc = fm_fail(err, FM_E_INVALID, "%s: \"%s\" is not a duration (e.g. \"30s\", \"5m\", \"1h30m\", \"250ms\")",
                     path, s);
    else if (ms < min_ms)
        rc = fm_fail(err, FM_E_INVALID, "%s: \"%s\" is shorter than the minimum %ldms", path, s, min_ms);
    else
        *out = ms;
    free(s);
    return rc;
}

long fm_duration_ms(const char *s) {
    if (!s || !*s) return -1;
    if (strcmp(s, "0") == 0) return 0;
    double total = 0;
    const char *p = s;
    while (*p) {
        if (!isdigit((unsigned char)*p) && *p != '.') return -1;
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isdigit((unsigned char)end[-1])) return -1;
        p = end;
        double unit;
        if (strncmp(p, "ms", 2) == 0) unit = 1, p += 2;
        else if (*p == 's') unit = 1000, p++;
        else if (*p == 'm') unit = 60000, p++;
        else if (*p == 'h') unit = 3600000, p++;
        else return -1;
        total += v * unit;
        if (total > 1e15) return -1;
    }
    return (long)llround(total);
}

bool fm_sp_dns1123_label(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 63) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !(c == '-' && i > 0 && i < n - 1)) return false;
    }
    return true;
}

bool fm_sp_dns1123_subdomain(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 253) return false;
    char label[254];
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == '.' || !*p) {
            size_t len = (size_t)(p - start);
            memcpy(label, start, len);
            label[len] = 0;
            if (!fm_sp_dns1123_label(label)) return false;
            if (!*p) return true;
            start = p + 1;
        }
    }
}

bool fm_sp_bucket_name(const char *s) {
    size_t n = strlen(s);
    if (n < 3 || n > 63) return false;
    int dots = 0, digits_only = 1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '.' && c != '-') return false;
        if ((i == 0 || i == n - 1) && !alnum) return false;
        if (c == '.') {
            dots++;
            if (s[i + 1] == '.' || s[i + 1] == '-' || s[i - 1] == '-') return false;
        } else if (!(c >= '0' && c <= '9')) {
            digits_only = 0;
        }
    }
    if (dots == 3 && digits_only) return false; /* looks like an IP address */
    if (strncmp(s, "xn--", 4) == 0) return false;
    return true;
}

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

/* one value of a cron field: a number in [lo, hi] or a 3-letter name */
static bool cron_value(const char **pp, int lo, int hi, const char *const *names) {
    const char *p = *pp;
    if (isdigit((unsigned char)*p)) {
        long v = 0;
        while (isdigit((unsigned char)*p) && v < 1000) v = v * 10 + (*p++ - '0');
        if (v < lo || v > hi) return false;
        *pp = p;
        return true;
    }
    for (size_t i = 0; names && names[i]; i++)
        if (strncasecmp(p, names[i], 3) == 0) {
            *pp = p + 3;
            return true;
        }
    return false;
}

static bool cron_field(const char *f, size_t len, int lo, int hi, const char *const *names) {
    char buf[128];
    if (len == 0 || len >= sizeof buf) return false;
    memcpy(buf, f, len);
    buf[len] = 0;
    for (char *item = strtok(buf, ","); item; item = strtok(NULL, ",")) {
        const char *p = item;
        if (*p == '*') p++;
        else {
            if (!cron_value(&p, lo, hi, names)) return false;
            if (*p == '-') {
                p++;
                if (!cron_value(&p, lo, hi, names)) return false;
            }
        }
        if (*p == '/') {
            p++;
            if (!cron_value(&p, 1, hi > 0 ? hi : 1, NULL)) return false;
        }
        if (*p) return false;
    }
    return buf[len - 1] != ',' && buf[0] != ',';
}

bool fm_sp_cron(const char *s, char *why, size_t n) {
    static const struct {
        const char *name;
        int lo, hi;
        const char *const *names;
    } fields[5] = {{"minute", 0, 59, NULL}, {"hour", 0, 23, NULL}, {"day of month", 1, 31, NULL},
                   {"month", 1, 12, months}, {"day of week", 0, 7, days}};
    const char *p = s;
    int k = 0;
    while (*p) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        const char *start = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        if (k == 5) {
            snprintf(why, n, "has more than 5 fields (minute hour day-of-month month day-of-week)");
            return false;
        }
        if (!cron_field(start, (size_t)(p - start), fields[k].lo, fields[k].hi, fields[k].names)) {
            snprintf(why, n, "field %d (%s) \"%.*s\" is not valid (values %d-%d, *, ranges, lists, /steps)", k + 1,
                     fields[k].name, (int)(p - start > 32 ? 32 : p - start), start, fields[k].lo, fields[k].hi);
            return false;
        }
        k++;
    }
    if (k != 5) {
        snprintf(why, n, "has %d fields, a cron schedule has 5 (minute hour day-of-month month day-of-week)", k);
        return false;
    }
    return true;
}

double fm_sp_quantity(const char *s) {
    static const struct {
        const char *suffix;
        double mult;
    } units[] = {{"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
                 {"Pi", 1125899906842624.0}, {"Ei", 1152921504606846976.0}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9},
                 {"T", 1e12}, {"P", 1e15}, {"E", 1e18}, {"", 1}};
    if (!s || !isdigit((unsigned char)*s)) return -1;
    const char *p = s;
    while (isdigit((unsigned char)*p)) p++;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return -1;
        while (isdigit((unsigned char)*p)) p++;
    }
    double v = strtod(s, NULL);
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (strcmp(p, units[i].suffix) == 0) return v * units[i].mult;
    return -1;
}

char *fm_sp_prefix(const char *s, const char *path, fm_err *err) {
    if (s[0] == '/') return fm_fail(err, FM_E_INVALID, "%s: must not start with \"/\"", path), NULL;
    for (const char *p = s; *p; p++) {
        if (*p == '\\' || (unsigned char)*p < 0x20)
            return fm_fail(err, FM_E_INVALID, "%s: must not contain control characters or \"\\\"", path), NULL;
    }
    /* no empty, "." or ".." segments; one trailing '/' is fine */
    const char *seg = s;
    for (const char *p = s; *s; p++) {
        if (*p != '/' && *p) continue;
        size_t len = (size_t)(p - seg);
        bool trailing = !*p && len == 0;
        if (!trailing && (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.')))
            return fm_fail(err, FM_E_INVALID, "%s: must not contain empty, \".\" or \"..\" segments", path), NULL;
        if (!*p) break;
        seg = p + 1;
    }
    fm_buf b;
    fm_buf_init(&b);
    fm_buf_puts(&b, s);
    if (b.len && b.data[b.len - 1] != '/') fm_buf_putc(&b, '/');
    return fm_buf_steal(&b);
}

static bool secret_key_ok(const char *k) {
    if (!*k || strlen(k) > 253) return false;
    for (const char *p = k; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.') return false;
    return true;
}

int fm_sp_secret_ref(json_t *parent, const char *ppath, const char *key, bool required, const char *fa,
                     const char *da, const char *fb, const char *db, fm_secret_ref *ref, fm_err *err) {
    json_t *o;
    char path[256];
    fm_sp_path(path, sizeof path, ppath, key);
    memset(ref, 0, sizeof *ref);
    if (fm_sp_obj(parent, ppath, key, required, &o, err)) return -1;
    if (!o) return 0;
    const char *allowed[] = {"name", fa, fb, NULL};
    if (fm_sp_known(o, path, allowed, err)) return -1;
    if (fm_sp_str(o, path, "name", true, NULL, 253, &ref->name, err)) return -1;
    if (!fm_sp_dns1123_subdomain(ref->name))
        return fm_fail(err, FM_E_INVALID, "%s.name: \"%s\" is not a valid Secret name (DNS-1123 subdomain)", path,
                       ref->name);
    if (fm_sp_str(o, path, fa, false, da, 253, &ref->key_a, err)) return -1;
    if (!secret_key_ok(ref->key_a))
        return fm_fail(err, FM_E_INVALID, "%s.%s: \"%s\" is not a valid Secret key", path, fa, ref->key_a);
    if (fb) {
        if (fm_sp_str(o, path, fb, false, db, 253, &ref->key_b, err)) return -1;
        if (!secret_key_ok(ref->key_b))
            return fm_fail(err, FM_E_INVALID, "%s.%s: \"%s\" is not a valid Secret key", path, fb, ref->key_b);
    }
    return 0;
}

int fm_sp_header(json_t *doc, const char *kind, char **name, char **ns, bool *paused, json_t **spec, fm_err *err) {
    *name = *ns = NULL;
    *paused = false;
    *spec = NULL;
    if (!json_is_object(doc)) return fm_fail(err, FM_E_INVALID, "document must be an object");
    static const char *const top[] = {"apiVersion", "kind", "metadata", "spec", "status", NULL};
    if (fm_sp_known(doc, "", top, err)) return -1;
    char *s = NULL;
    if (fm_sp_str(doc, "", "apiVersion", true, NULL, 128, &s, err)) return -1;
    int bad = strcmp(s, API_VERSION) != 0;
    if (bad) fm_fail(err, FM_E_INVALID, "apiVersion: \"%s\" is not %s", s, API_VERSION);
    free(s);
    if (bad) return -1;
    if (fm_sp_str(doc, "", "kind", true, NULL, 128, &s, err)) return -1;
    bad = strcmp(s, kind) != 0;
    if (bad) fm_fail(err, FM_E_INVALID, "kind: \"%s\" is not %s", s, kind);
    free(s);
    if (bad) return -1;
    json_t *md, *ann;
    if (fm_sp_obj(doc, "", "metadata", true, &md, err)) return -1;
    if (fm_sp_str(md, "metadata", "name", true, NULL, 253, name, err)) return -1;
    if (!fm_sp_dns1123_subdomain(*name))
        return fm_fail(err, FM_E_INVALID,
                       "metadata.name: \"%s\" is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', "
                       "starting and ending with a letter or digit, at most 253)",
                       *name);
    if (fm_sp_str(md, "metadata", "namespace", false, "default", 63, ns, err)) return -1;
    if (!fm_sp_dns1123_label(*ns))
        return fm_fail(err, FM_E_INVALID, "metadata.namespace: \"%s\" is not a DNS-1123 label", *ns);
    if (fm_sp_obj(md, "metadata", "annotations", false, &ann, err)) return -1;
    if (ann) {
        char *r = NULL;
        if (fm_sp_str(ann, "metadata.annotations", "featherman.dev/reconcile", false, NULL, 64, &r, err)) return -1;
        *paused = r && strcmp(r, "paused") == 0;
        free(r);
    }
    return fm_sp_obj(doc, "", "spec", true, spec, err);
}
