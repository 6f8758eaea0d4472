#include "base/buf.h"
#include "base/json_out.h"
#include "unit.h"

static void js(const char *in, size_t n, const char *want, int *fm_failed) {
    fm_buf b;
    fm_buf_init(&b);
    fm_json_string(&b, in, n);
    CHECK_STR(b.data, want);
    fm_buf_free(&b);
}

FM_TEST(json_string_escapes) {
    js("plain", 5, "\"plain\"", fm_failed);
    js("a\"b\\c\n\t\r", 8, "\"a\\\"b\\\\c\\n\\t\\r\"", fm_failed);
    js("\x01", 1, "\"\\u0001\"", fm_failed);
    js("caf\xc3\xa9 \xe2\x82\xac", 9, "\"caf\xc3\xa9 \xe2\x82\xac\"", fm_failed);
    js("bad\xff", 4, "\"bad\xef\xbf\xbd\"", fm_failed);
    js("\xed\xa0\x80", 3, "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"", fm_failed); /* a surrogate is not UTF-8 */
    js("nul\0x", 5, "\"nul\\u0000x\"", fm_failed);
}
