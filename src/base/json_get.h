/* Dotted-path getters over a jansson tree ("metadata.name", "spec.objectStore.bucket"), for the
 * objects the control plane reads from the API server. A missing step anywhere along the path, a
 * step through a non-object, or a path segment longer than 127 bytes reads as absent: NULL, or
 * `def` for fm_jint. Keys that themselves contain dots cannot be reached this way (Secret data,
 * label keys): read those with json_object_get. Pure functions; nothing is copied. */
#ifndef FM_JSON_GET_H
#define FM_JSON_GET_H
#include <jansson.h>

/* the value at path, borrowed from obj, or NULL */
json_t *fm_jget(const json_t *obj, const char *path);
/* the string at path, or NULL when absent or not a string */
const char *fm_jstr(const json_t *obj, const char *path);
/* the integer at path, or def when absent or not an integer */
long long fm_jint(const json_t *obj, const char *path, long long def);
/* the first element of array that has the string member key equal to value (borrowed), or NULL:
 * the lookup of lists keyed by a name, such as conditions by "type" or env by "name" */
json_t *fm_jfind(const json_t *array, const char *key, const char *value);
#endif
