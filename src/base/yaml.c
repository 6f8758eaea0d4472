/* YAML text to JSON (yaml.h). YAML is read with libyaml's event API and typed by the YAML 1.2
 * core schema, so a document means the same here as to kubectl (which reads YAML 1.2-ish via
 * sigs.k8s.io/yaml): `0.8` is a number, `10Gi` and "0 2 * * *" are strings, `on`/`yes` stay
 * strings. Aliases are refused (billion-laughs, and no CR needs them); duplicate keys are refused
 * (YAML forbids them, and the later one would silently win). Every error names the origin and
 * line. */
#include "base/yaml.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/buf.h"

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

json_t *fm_yaml_parse_docs(const char *text, size_t len, const char *origin, fm_err *err, fm_buf *lines) {
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
    return fm_yaml_parse_docs(text, len, origin ? origin : "<input>", err, NULL);
}
