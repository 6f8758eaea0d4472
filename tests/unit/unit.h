/* A tiny unit-test harness: each test file defines tests with FM_TEST(name) { ... } and checks
 * with CHECK / CHECK_STR; tests register themselves at start-up, and unit_main.c runs them all
 * (or those whose name contains argv[1]) and ends with "N passed, N failed". */
#ifndef FM_UNIT_H
#define FM_UNIT_H
#include <stdio.h>
#include <string.h>

typedef void (*fm_test_fn)(int *failed);
void fm_unit_register(const char *name, fm_test_fn fn);

#define FM_TEST(name)                                                                 \
    static void test_##name(int *fm_failed);                                          \
    __attribute__((constructor)) static void register_##name(void) {                  \
        fm_unit_register(#name, test_##name);                                         \
    }                                                                                 \
    static void test_##name(int *fm_failed)

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            *fm_failed = 1;                                                           \
        }                                                                             \
    } while (0)

#define CHECK_STR(got, want)                                                          \
    do {                                                                              \
        const char *g_ = (got), *w_ = (want);                                         \
        if (!g_ || !w_ || strcmp(g_, w_)) {                                           \
            fprintf(stderr, "  %s:%d: got [%s]\n  %*s want [%s]\n", __FILE__, __LINE__, \
                    g_ ? g_ : "(null)", (int)strlen(__FILE__) + 4, "", w_ ? w_ : "(null)"); \
            *fm_failed = 1;                                                           \
        }                                                                             \
    } while (0)
#endif
