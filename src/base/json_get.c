/* Dotted-path getters (contract in json_get.h). */
#include "base/json_get.h"

#include <string.h>

json_t *fm_jget(const json_t *obj, const char *path) {
    char key[128];
    const json_t *cur = obj;
    while (cur && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof key) return NULL;
        memcpy(key, path, n);
        key[n] = 0;
        cur = json_object_get(cur, key);
        path += n + (dot ? 1 : 0);
    }
    return (json_t *)cur;
}

const char *fm_jstr(const json_t *obj, const char *path) { return json_string_value(fm_jget(obj, path)); }

long long fm_jint(const json_t *obj, const char *path, long long def) {
    json_t *v = fm_jget(obj, path);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

json_t *fm_jfind(const json_t *array, const char *key, const char *value) {
    size_t i;
    json_t *e;
    json_array_foreach(array, i, e) {
        const char *v = json_string_value(json_object_get(e, key));
        if (v && value && !strcmp(v, value)) return e;
    }
    return NULL;
}
