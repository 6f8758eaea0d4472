/* RFC 3339 timestamps as the Kubernetes API and featherman's own /status write them, UTC only:
 * "2026-11-25T17:00:00Z", optionally with a fraction ("…:00.123Z", any number of digits, read to
 * the millisecond). Offsets other than Z are refused rather than guessed at. */
#ifndef FM_TIMEFMT_H
#define FM_TIMEFMT_H

/* the timestamp as Unix milliseconds; -1 when s is NULL or not of that form */
long long fm_rfc3339_ms(const char *s);
#endif
