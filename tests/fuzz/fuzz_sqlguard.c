/* libFuzzer target for the SQL guard's lexer: any input must lex without crashing or reading
 * out of bounds, and a clean (accepted) text followed by a new statement calling a denied
 * function must be refused. Build and run: make fuzz (needs clang; skipped otherwise). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sqlguard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static fm_sqlguard *g;
    if (!g) {
        g = fm_sqlguard_new();
        fm_sqlguard_deny_function(g, "sqlite_scan");
    }
    static const char tail[] = "\n;SELECT sqlite_scan(1)";
    char *s = malloc(size + sizeof tail);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    fm_err e;
    if (fm_sqlguard_check_text(g, s, &e) == 0 && strlen(s) == size) {
        memcpy(s + size, tail, sizeof tail);
        if (fm_sqlguard_check_text(g, s, &e) != -1) abort(); /* a call slipped through */
    }
    free(s);
    return 0;
}
