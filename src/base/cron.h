/* 5-field cron schedules (minute hour day-of-month month day-of-week; *, N, a-b, lists, /step,
 * JAN-DEC and SUN-SAT names, 7 = Sunday; when both day fields are restricted a day matches
 * either, as in Vixie cron), evaluated in UTC. Used for materialization and backup schedules:
 * only the latest due slot runs, so an operator that was down does not replay missed runs. */
#ifndef FM_CRON_H
#define FM_CRON_H
#include <stdbool.h>
#include <time.h>

typedef struct {
    unsigned long long minute; /* bit i = value i */
    unsigned hour, dom, month, dow;
    bool dom_star, dow_star;
} fm_cron;

int fm_cron_parse(const char *expr, fm_cron *out); /* 0 or -1 */
bool fm_cron_match(const fm_cron *c, time_t t);     /* t's minute matches */
/* the latest matching minute ≤ now within `lookback` seconds, or 0 */
time_t fm_cron_prev(const fm_cron *c, time_t now, long lookback);
/* the first matching minute > now within a year, or 0 */
time_t fm_cron_next(const fm_cron *c, time_t now);
#endif
