/* A Prometheus histogram over fixed bucket bounds (seconds), shared by every metrics table:
 * observations are relaxed atomic increments (no lock on a request path), and the text form is
 * written in one place. The bounds are the caller's (at most FM_HISTO_MAX of them, ascending);
 * the same array must be passed to every call on one histogram. _count is written equal to the
 * +Inf bucket even while observations land, as Prometheus requires. */
#ifndef FM_HISTO_H
#define FM_HISTO_H
#include <stdatomic.h>

#include "base/buf.h"

#define FM_HISTO_MAX 24

typedef struct {
    atomic_ullong bucket[FM_HISTO_MAX + 1]; /* the last one: above every bound */
    atomic_ullong sum_us;
} fm_histo;

/* request latencies from 0.5 ms to 60 s: the bounds of the query and HTTP request durations */
extern const double FM_HISTO_LATENCY[];
#define FM_HISTO_LATENCY_N 16

void fm_histo_observe(fm_histo *h, const double *bounds, int nbounds, double seconds);
unsigned long long fm_histo_count(const fm_histo *h);
/* NAME_bucket{LABELS,le="..."}, NAME_sum{LABELS}, NAME_count{LABELS}; labels is "" or a ready
 * label list such as pool="a" (values escaped by the caller) */
void fm_histo_write(const fm_histo *h, const double *bounds, int nbounds, fm_buf *out, const char *name,
                    const char *labels);
#endif
