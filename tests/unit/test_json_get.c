/* Dotted-path getters (base/json_get.h) and RFC 3339 timestamps (base/timefmt.h). */
#include <string.h>

#include "base/json_get.h"
#include "base/timefmt.h"
#include "unit.h"

FM_TEST(json_get_paths) {
    json_t *o = json_loads("{\"metadata\":{\"name\":\"a\",\"generation\":7,\"labels\":{\"x.y/z\":\"v\"}},"
                           "\"spec\":{\"n\":\"12\",\"list\":[1]}}", 0, NULL);
    CHECK(o != NULL);
    CHECK_STR(fm_jstr(o, "metadata.name"), "a");
    CHECK(fm_jint(o, "metadata.generation", -1) == 7);
    CHECK(fm_jget(o, "metadata") == json_object_get(o, "metadata"));
    CHECK(fm_jget(o, "") == o);
    /* absent steps, wrong types and steps through non-objects read as absent */
    CHECK(fm_jstr(o, "metadata.namespace") == NULL);
    CHECK(fm_jstr(o, "metadata.generation") == NULL);
    CHECK(fm_jint(o, "spec.n", -2) == -2);
    CHECK(fm_jint(o, "nothing.here", 5) == 5);
    CHECK(fm_jget(o, "spec.list.0") == NULL);
    CHECK(fm_jget(o, "metadata.name.more") == NULL);
    CHECK(fm_jget(NULL, "metadata") == NULL);
    /* a key with dots is not reachable by path (it splits): callers use json_object_get */
    CHECK(fm_jstr(o, "metadata.labels.x.y/z") == NULL);
    char longkey[200];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = 0;
    CHECK(fm_jget(o, longkey) == NULL);
    json_decref(o);
}

FM_TEST(json_get_find_by_key) {
    json_t *a = json_loads("[{\"type\":\"Ready\",\"status\":\"True\"},{\"name\":\"x\"},7,"
                           "{\"type\":3},{\"type\":\"Applied\"},{\"type\":\"Ready\",\"n\":2}]", 0, NULL);
    CHECK(a != NULL);
    CHECK(fm_jfind(a, "type", "Ready") == json_array_get(a, 0)); /* the first one */
    CHECK(fm_jfind(a, "type", "Applied") == json_array_get(a, 4));
    CHECK(fm_jfind(a, "name", "x") == json_array_get(a, 1));
    CHECK(fm_jfind(a, "type", "Nope") == NULL);
    CHECK(fm_jfind(a, "type", NULL) == NULL);
    CHECK(fm_jfind(NULL, "type", "Ready") == NULL);
    CHECK(fm_jfind(json_array_get(a, 0), "type", "Ready") == NULL); /* not an array */
    json_decref(a);
}

FM_TEST(timefmt_rfc3339) {
    CHECK(fm_rfc3339_ms("2026-01-02T03:04:05Z") == 1767323045000LL);
    CHECK(fm_rfc3339_ms("2026-01-02T03:04:05.5Z") == 1767323045500LL);
    CHECK(fm_rfc3339_ms("2026-01-02T03:04:05.123456789Z") == 1767323045123LL);
    CHECK(fm_rfc3339_ms("yesterday") == -1);
    CHECK(fm_rfc3339_ms("2026-01-02T03:04:05+01:00") == -1);
    CHECK(fm_rfc3339_ms("2026-01-02T03:04:05.Z") == -1);
    CHECK(fm_rfc3339_ms("2026-01-02T03:04:05") == -1);
    CHECK(fm_rfc3339_ms(NULL) == -1);
}
