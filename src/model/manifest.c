/* Manifests for `featherman local` (manifest.h). YAML is read with libyaml's event API and
 * typed by the YAML 1.2 core schema, so a manifest means the same here as to kubectl (which
 * reads YAML 1.2-ish via sigs.k8s.io/yaml): `0.8` is a number, `10Gi` and "0 2 * * *" are
 * strings, `on`/`yes` stay strings. Aliases are refused (billion-laughs, and no CR needs them);
 * duplicate keys are refused (YAML forbids them, and the later one would silently win). Every
 * error names the file and line. */
#include "model/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/buf.h"

#define MAX_FILE (16 * 1024 * 1024)
#define MAX_DEPTH 64

static bool all(const char *s, size_t n, const char *set) {
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr(set, s[i])) return false;
    return true;
}

/* a plain scalar typed by the YAML 1.2 core schema */
static json_t *core_scalar(const char *s, size_t n) {
    if (n == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
        return json_null();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) return json_false();
    const char *d = (s[0] == '-' || s[0] == '+') ? s + 1 : s;
    size_t dn = n - (size_t)(d - s);
    int base = 0;
    if (all(d, dn, "0123456789")) base = 10;
    else if (s == d && n > 2 && !strncmp(s, "0o", 2) && all(s + 2, n - 2, "01234567")) base = 8;
    else if (s == d && n > 2 && !strncmp(s, "0x", 2) && all(s + 2, n - 2, "0123456789abcdefABCDEF")) base = 16;
    if (base) {
        errno = 0;
        long long v = strtoll(base == 10 ? s : s + 2, NULL, base);
        if (errno == 0) return json_integer(v);
        return json_real(strtod(s, NULL));
    }
    /* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
    const char *p = d;
    size_t digits = 0;
    while (*p >= '0' && *p <= '9') p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') p++, digits++;
    }
    if (digits && (*p == 'e' || *p == 'E')) {
        p++;
        if (*p == '-' || *p == '+') p++;
        if (!(*p >= '0' && *p <= '9')) return json_stringn(s, n);
        while (*p >= '0' && *p <= '9') p++;
    }
    if (digits && !*p) return json_real(strtod(s, NULL));
    return json_stringn(s, n); /* .inf/.nan have no JSON form: kept as text */
}

typedef struct {
    json_t *node;
    json_t *key; /* pending mapping key (a string) */
} frame;

static int fail_at(fm_err *err, const char *origin, size_t line, const char *fmt, const char *arg) {
    char msg[512];
    snprintf(msg, sizeof msg, fmt, arg);
    return fm_fail(err, FM_E_INVALID, "%s:%zu: %s", origin, line + 1, msg);
}

/* attach v to the innermost container, or make it the root */
static int attach(frame *st, int depth, json_t **root, json_t *v, const char *origin, size_t line, fm_err *err) {
    if (depth == 0) {
        *root = v;
        return 0;
    }
    frame *f = &st[depth - 1];
    if (json_is_array(f->node)) return json_array_append_new(f->node, v), 0;
    if (!f->key) {
        if (!json_is_string(v) && !json_is_integer(v) && !json_is_real(v) && !json_is_boolean(v) && !json_is_null(v)) {
            json_decref(v);
            return fail_at(err, origin, line, "%s", "mapping keys must be scalars");
        }
        f->key = v;
        return 0;
    }
    json_t *k = f->key;
    f->key = NULL;
    char buf[64];
    const char *ks = buf;
    if (json_is_string(k)) ks = json_string_value(k);
    else if (json_is_integer(k)) snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(k));
    else if (json_is_real(k)) snprintf(buf, sizeof buf, "%g", json_real_value(k));
    else snprintf(buf, sizeof buf, "%s", json_is_true(k) ? "true" : json_is_false(k) ? "false" : "null");
    int rc = 0;
    if (json_object_get(f->node, ks)) {
        rc = fail_at(err, origin, line, "duplicate key \"%.100s\"", ks);
        json_decref(v);
    } else {
        json_object_set_new(f->node, ks, v);
    }
    json_decref(k);
    return rc;
}

/* the mapping-key scalars above keep their text for keys: re-read plain keys as strings */
static json_t *scalar(yaml_event_t *ev, bool as_key) {
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    if (as_key || ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || ev->data.scalar.tag) return json_stringn(s, n);
    return core_scalar(s, n);
}

static json_t *parse_docs(const char *text, size_t len, const char *origin, fm_err *err, fm_buf *lines) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) abort();
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    json_t *docs = json_array(), *root = NULL;
    frame st[MAX_DEPTH];
    int depth = 0, rc = 0, done = 0;
    while (!done && !rc) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            const char *ctx = parser.context ? parser.context : "";
            fm_fail(err, FM_E_INVALID, "%s:%zu: %s%s%s", origin, parser.problem_mark.line + 1,
                    parser.problem ? parser.problem : "syntax error", *ctx ? " " : "", ctx);
            rc = -1;
            break;
        }
        size_t line = ev.start_mark.line;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT: done = 1; break;
        case YAML_DOCUMENT_START_EVENT:
            root = NULL;
            if (lines) {
                int l = (int)line + 1;
                fm_buf_append(lines, &l, sizeof l);
            }
            break;
        case YAML_DOCUMENT_END_EVENT: json_array_append_new(docs, root ? root : json_null()), root = NULL; break;
        case YAML_ALIAS_EVENT:
            rc = fail_at(err, origin, line, "aliases (*%s) are not supported", (const char *)ev.data.alias.anchor);
            break;
        case YAML_SCALAR_EVENT: {
            const char *tag = (const char *)ev.data.scalar.tag;
            if (tag && strcmp(tag, YAML_STR_TAG) != 0 && strcmp(tag, "!") != 0) {
                rc = fail_at(err, origin, line, "tag %.60s is not supported", tag);
                break;
            }
            bool as_key = depth > 0 && json_is_object(st[depth - 1].node) && !st[depth - 1].key;
            rc = attach(st, depth, &root, scalar(&ev, as_key), origin, line, err);
            break;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            if (depth == MAX_DEPTH) {
                rc = fail_at(err, origin, line, "%s", "nesting is too deep");
                break;
            }
            json_t *c = ev.type == YAML_SEQUENCE_START_EVENT ? json_array() : json_object();
            if (depth > 0 && json_is_object(st[depth - 1].node) && !st[depth - 1].key) {
                json_decref(c);
                rc = fail_at(err, origin, line, "%s", "mapping keys must be scalars");
                break;
            }
            st[depth].node = c;
            st[depth].key = NULL;
            depth++;
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            json_t *c = st[--depth].node;
            rc = attach(st, depth, &root, c, origin, line, err);
            break;
        }
        default: break;
        }
        yaml_event_delete(&ev);
    }
    /* on error, release what is still on the stack */
    while (depth > 0) {
        depth--;
        json_decref(st[depth].key);
        json_decref(st[depth].node);
    }
    if (rc) json_decref(root);
    yaml_parser_delete(&parser);
    if (rc) {
        json_decref(docs);
        return NULL;
    }
    return docs;
}

json_t *fm_yaml_to_json(const char *text, size_t len, const char *origin, fm_err *err) {
    return parse_docs(text, len, origin ? origin : "<input>", err, NULL);
}

static const char *const kinds[] = {"DuckLakeCatalog", "DuckLakeTable", "DuckLakePool", "Secret", NULL};

static int add_doc(fm_manifest_set *out, const char *path, int index, int line, json_t *doc, fm_err *err) {
    char where[64] = "";
    if (line > 0) snprintf(where, sizeof where, " (line %d)", line);
    if (!json_is_object(doc))
        return fm_fail(err, FM_E_INVALID, "%s: document %d%s: must be a mapping with apiVersion, kind, metadata", path,
                       index + 1, where);
    json_t *k = json_object_get(doc, "kind");
    if (!json_is_string(k))
        return fm_fail(err, FM_E_INVALID, "%s: document %d%s: kind is missing", path, index + 1, where);
    const char *kind = json_string_value(k);
    size_t i;
    for (i = 0; kinds[i]; i++)
        if (!strcmp(kinds[i], kind)) break;
    if (!kinds[i])
        return fm_fail(err, FM_E_INVALID,
                       "%s: document %d%s: unknown kind \"%.80s\" (expected DuckLakeCatalog, DuckLakeTable, "
                       "DuckLakePool or Secret)",
                       path, index + 1, where, kind);
    if (i == 3) {
        json_t *av = json_object_get(doc, "apiVersion");
        if (!json_is_string(av) || strcmp(json_string_value(av), "v1"))
            return fm_fail(err, FM_E_INVALID, "%s: document %d%s: a Secret must have apiVersion v1", path, index + 1,
                           where);
    }
    fm_manifest_doc *d = realloc(out->docs, (out->n + 1) * sizeof *d);
    if (!d) abort();
    out->docs = d;
    d = &out->docs[out->n++];
    d->file = strdup(path);
    d->index = index;
    d->kind = strdup(kind);
    d->doc = json_incref(doc);
    return 0;
}

static char *read_file(const char *path, size_t *len, fm_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return fm_fail(err, FM_E_NOT_FOUND, "%s: %s", path, strerror(errno)), NULL;
    fm_buf b;
    fm_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        fm_buf_append(&b, chunk, n);
        if (b.len > MAX_FILE) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad || b.len > MAX_FILE) {
        fm_buf_free(&b);
        return fm_fail(err, FM_E_INVALID, "%s: %s", path, bad ? "read error" : "larger than 16 MiB"), NULL;
    }
    *len = b.len;
    return fm_buf_steal(&b);
}

static bool has_ext(const char *name, const char *ext) {
    size_t n = strlen(name), e = strlen(ext);
    return n > e && !strcmp(name + n - e, ext);
}

int fm_manifest_load_file(const char *path, fm_manifest_set *out, fm_err *err) {
    size_t len;
    char *text = read_file(path, &len, err);
    if (!text) return -1;
    json_t *docs;
    fm_buf lines;
    fm_buf_init(&lines);
    if (has_ext(path, ".json")) {
        json_error_t je;
        json_t *d = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!d) {
            free(text);
            return fm_fail(err, FM_E_INVALID, "%s:%d: %s", path, je.line, je.text);
        }
        docs = json_is_array(d) ? d : json_pack("[o]", d);
    } else {
        docs = parse_docs(text, len, path, err, &lines);
    }
    free(text);
    if (!docs) {
        fm_buf_free(&lines);
        return -1;
    }
    size_t i;
    json_t *doc;
    int rc = 0;
    json_array_foreach(docs, i, doc) {
        if (json_is_null(doc)) continue; /* empty document */
        int line = (i + 1) * sizeof(int) <= lines.len ? ((int *)(void *)lines.data)[i] : 0;
        if ((rc = add_doc(out, path, (int)i, line, doc, err))) break;
    }
    fm_buf_free(&lines);
    json_decref(docs);
    return rc;
}

static int manifest_file(const struct dirent *e) {
    return e->d_name[0] != '.' && (has_ext(e->d_name, ".yaml") || has_ext(e->d_name, ".yml") || has_ext(e->d_name, ".json"));
}

int fm_manifest_load_dir(const char *dir, fm_manifest_set *out, fm_err *err) {
    memset(out, 0, sizeof *out);
    struct dirent **list;
    int n = scandir(dir, &list, manifest_file, alphasort);
    if (n < 0) return fm_fail(err, FM_E_NOT_FOUND, "%s: %s", dir, strerror(errno));
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (!rc) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
            rc = fm_manifest_load_file(path, out, err);
        }
        free(list[i]);
    }
    free(list);
    if (rc) fm_manifest_set_free(out);
    return rc;
}

void fm_manifest_set_free(fm_manifest_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->docs[i].file);
        free(s->docs[i].kind);
        json_decref(s->docs[i].doc);
    }
    free(s->docs);
    s->docs = NULL;
    s->n = 0;
}

static int b64val(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* standard base64 with optional padding; NULL on malformed input */
static char *b64decode(const char *s) {
    fm_buf b;
    fm_buf_init(&b);
    unsigned acc = 0;
    int bits = 0, pad = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '\n' || *p == '\r' || *p == ' ') continue;
        if (*p == '=') {
            pad++;
            continue;
        }
        int v = b64val((unsigned char)*p);
        if (v < 0 || pad) {
            fm_buf_free(&b);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            fm_buf_putc(&b, (char)((acc >> bits) & 0xff));
        }
    }
    if (bits >= 6 || pad > 2) {
        fm_buf_free(&b);
        return NULL;
    }
    return fm_buf_steal(&b);
}

char *fm_secret_value(json_t *secret_doc, const char *key) {
    json_t *v = json_object_get(json_object_get(secret_doc, "stringData"), key);
    if (json_is_string(v)) return strdup(json_string_value(v));
    v = json_object_get(json_object_get(secret_doc, "data"), key);
    if (json_is_string(v)) return b64decode(json_string_value(v));
    return NULL;
}
