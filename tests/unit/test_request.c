#include <string.h>

#include "http/request.h"
#include "unit.h"

static int parse(const char *body, fm_query_request *r, fm_err *e) {
    fm_err_clear(e);
    return fm_query_request_parse(body, strlen(body), r, e);
}

FM_TEST(request_valid) {
    fm_query_request r;
    fm_err e;
    CHECK(parse("{\"sql\":\"SELECT 1\",\"catalog\":\"lake\",\"format\":\"arrow\",\"timeoutMs\":500}", &r, &e) == 0);
    CHECK_STR(r.sql, "SELECT 1");
    CHECK_STR(r.catalog, "lake");
    CHECK(r.has_format && r.format == FM_FMT_ARROW);
    CHECK(r.timeout_ms == 500);
    fm_query_request_free(&r);
    CHECK(parse("{\"sql\":\"SELECT 1\"}", &r, &e) == 0);
    CHECK(r.catalog == NULL && !r.has_format && r.timeout_ms == 0);
    fm_query_request_free(&r);
}

FM_TEST(request_errors) {
    fm_query_request r;
    fm_err e;
    CHECK(parse("{\"sql\":", &r, &e) == -1 && strstr(e.msg, "not valid JSON"));
    CHECK(parse("[1]", &r, &e) == -1 && strstr(e.msg, "JSON object"));
    CHECK(parse("{}", &r, &e) == -1 && strstr(e.msg, "\"sql\" is required"));
    CHECK(parse("{\"sql\":\"\"}", &r, &e) == -1 && strstr(e.msg, "non-empty"));
    CHECK(parse("{\"sql\":1}", &r, &e) == -1 && strstr(e.msg, "non-empty string"));
    CHECK(parse("{\"sql\":\"x\",\"format\":\"xml\"}", &r, &e) == -1 && strstr(e.msg, "\"format\""));
    CHECK(parse("{\"sql\":\"x\",\"timeoutMs\":-1}", &r, &e) == -1 && strstr(e.msg, "timeoutMs"));
    CHECK(parse("{\"sql\":\"x\",\"timeoutMs\":1.5}", &r, &e) == -1 && strstr(e.msg, "timeoutMs"));
    CHECK(parse("{\"sql\":\"x\",\"fromat\":\"csv\"}", &r, &e) == -1 && strstr(e.msg, "unknown field \"fromat\""));
    CHECK(parse("{\"sql\":\"x\",\"sql\":\"y\"}", &r, &e) == -1);
    CHECK(parse("{\"sql\":\"a\\u0000b\"}", &r, &e) == -1 && strstr(e.msg, "NUL"));
    CHECK(e.code == FM_E_INVALID);
}
