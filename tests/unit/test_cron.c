/* Cron schedules: fields, names, steps, the day-of-month/day-of-week OR rule, prev/next. */
#include "base/cron.h"
#include "unit.h"

static time_t at(int y, int mo, int d, int h, int mi) {
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return timegm(&tm);
}

FM_TEST(cron_parse_and_match) {
    fm_cron c;
    CHECK(fm_cron_parse("*/15 2 * * *", &c) == 0);
    CHECK(fm_cron_match(&c, at(2026, 11, 25, 2, 30)));
    CHECK(!fm_cron_match(&c, at(2026, 11, 25, 2, 31)));
    CHECK(!fm_cron_match(&c, at(2026, 11, 25, 3, 0)));
    CHECK(fm_cron_parse("0 0 1 jan,Jul *", &c) == 0);
    CHECK(fm_cron_match(&c, at(2026, 7, 1, 0, 0)) && !fm_cron_match(&c, at(2026, 8, 1, 0, 0)));
    /* 2026-11-25 is a Wednesday; 13th or Friday (either) */
    CHECK(fm_cron_parse("0 12 13 * FRI", &c) == 0);
    CHECK(fm_cron_match(&c, at(2026, 11, 27, 12, 0)) && fm_cron_match(&c, at(2026, 11, 13, 12, 0)));
    CHECK(!fm_cron_match(&c, at(2026, 11, 25, 12, 0)));
    CHECK(fm_cron_parse("0 0 * * 7", &c) == 0 && fm_cron_match(&c, at(2026, 11, 29, 0, 0)));
    CHECK(fm_cron_parse("5-10/5 * * * *", &c) == 0 && fm_cron_match(&c, at(2026, 1, 1, 0, 10)));
    CHECK(fm_cron_parse("* * * *", &c) == -1);
    CHECK(fm_cron_parse("60 * * * *", &c) == -1);
    CHECK(fm_cron_parse("* * * * * *", &c) == -1);
    CHECK(fm_cron_parse("a * * * *", &c) == -1);
}

FM_TEST(cron_prev_and_next) {
    fm_cron c;
    CHECK(fm_cron_parse("0 * * * *", &c) == 0);
    time_t now = at(2026, 11, 25, 17, 42) + 13;
    CHECK(fm_cron_prev(&c, now, 86400) == at(2026, 11, 25, 17, 0));
    CHECK(fm_cron_next(&c, now) == at(2026, 11, 25, 18, 0));
    CHECK(fm_cron_prev(&c, now, 600) == 0);
}
