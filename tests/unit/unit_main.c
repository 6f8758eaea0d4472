/* Runs every registered unit test; the last line is the count that CI reads. */
#include <stdlib.h>

#include "unit.h"

#define MAX_TESTS 1024
static struct {
    const char *name;
    fm_test_fn fn;
} tests[MAX_TESTS];
static int ntests;

void fm_unit_register(const char *name, fm_test_fn fn) {
    if (ntests == MAX_TESTS) abort();
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0;
    for (int i = 0; i < ntests; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
        int f = 0;
        tests[i].fn(&f);
        printf("%s %s\n", f ? "FAIL" : "ok  ", tests[i].name);
        f ? failed++ : passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
