/* Checked option values (base/opts.h): every malformed value is refused naming the flag. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/opts.h"
#include "unit.h"

FM_TEST(opt_int_accepts_only_whole_decimal_numbers_in_range) {
    fm_err e;
    long v = 7;
    CHECK(fm_opt_int("slots", "4", 1, 64, &v, &e) == 0 && v == 4);
    CHECK(fm_opt_int("slots", "-3", -5, 5, &v, &e) == 0 && v == -3);
    const char *badv[] = {"", "x", "4x", " 4", "+4", "0x10", "4.0", "0", "65", "99999999999999999999999", NULL};
    for (int i = 0; badv[i]; i++) {
        v = 7;
        fm_err_clear(&e);
        CHECK(fm_opt_int("slots", badv[i], 1, 64, &v, &e) == -1 && v == 7);
        CHECK(e.code == FM_E_INVALID && strstr(e.msg, "--slots: expected an integer from 1 to 64"));
    }
    CHECK(fm_opt_int("slots", NULL, 1, 64, &v, &e) == -1);
}

FM_TEST(opt_duration_units_and_bounds) {
    fm_err e;
    long v = 0;
    CHECK(fm_opt_duration("drain", "250ms", 0, 3600000, &v, &e) == 0 && v == 250);
    CHECK(fm_opt_duration("drain", "30s", 0, 3600000, &v, &e) == 0 && v == 30000);
    CHECK(fm_opt_duration("drain", "5m", 0, 3600000, &v, &e) == 0 && v == 300000);
    CHECK(fm_opt_duration("drain", "1h", 0, 3600000, &v, &e) == 0 && v == 3600000);
    CHECK(fm_opt_duration("drain", "1500", 0, 3600000, &v, &e) == 0 && v == 1500);
    const char *badv[] = {"", "s", "30sec", "30 s", "-1s", "2h", "1.5s", "9999999999999999999h", NULL};
    for (int i = 0; badv[i]; i++) {
        fm_err_clear(&e);
        CHECK(fm_opt_duration("drain", badv[i], 0, 3600000, &v, &e) == -1);
        CHECK(strstr(e.msg, "--drain: expected a duration") != NULL);
    }
}

FM_TEST(opt_size_units_and_bounds) {
    fm_err e;
    unsigned long long v = 0;
    CHECK(fm_opt_size("max-body", "1048576", 1, 1ULL << 40, &v, &e) == 0 && v == 1048576);
    CHECK(fm_opt_size("max-body", "512KiB", 1, 1ULL << 40, &v, &e) == 0 && v == 512 * 1024);
    CHECK(fm_opt_size("max-body", "64M", 1, 1ULL << 40, &v, &e) == 0 && v == 64ULL << 20);
    CHECK(fm_opt_size("max-body", "2gib", 1, 1ULL << 40, &v, &e) == 0 && v == 2ULL << 30);
    CHECK(fm_opt_size("max-body", "3GB", 1, 1ULL << 40, &v, &e) == 0 && v == 3000000000ULL);
    const char *badv[] = {"", "MiB", "12XB", "-1", "1.5GiB", "0", "2TiB", NULL};
    for (int i = 0; badv[i]; i++) {
        fm_err_clear(&e);
        CHECK(fm_opt_size("max-body", badv[i], 1, 1ULL << 40, &v, &e) == -1);
        CHECK(strstr(e.msg, "--max-body: expected a size") != NULL);
    }
}

FM_TEST(opt_path_made_absolute) {
    fm_err e;
    char *p = NULL;
    char *cwd = getcwd(NULL, 0);
    CHECK(fm_opt_path_abs("state", "/var/lib/x", &p, &e) == 0);
    CHECK_STR(p, "/var/lib/x");
    free(p);
    CHECK(fm_opt_path_abs("state", "build/x", &p, &e) == 0);
    CHECK(p && !strncmp(p, cwd, strlen(cwd)) && !strcmp(p + strlen(cwd), "/build/x"));
    free(p);
    CHECK(fm_opt_path_abs("state", "./y", &p, &e) == 0);
    CHECK(p && !strcmp(p + strlen(cwd), "/y"));
    free(p);
    CHECK(fm_opt_path_abs("state", "", &p, &e) == -1 && strstr(e.msg, "--state: expected a path"));
    free(cwd);
}
