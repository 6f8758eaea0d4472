/* Fixed-bucket histograms (contract in histo.h). */
#include "base/histo.h"

const double FM_HISTO_LATENCY[FM_HISTO_LATENCY_N] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                     0.25,   0.5,   1,      2.5,   5,    10,    30,   60};

void fm_histo_observe(fm_histo *h, const double *bounds, int nb, double s) {
    int b = nb;
    for (int i = 0; i < nb; i++)
        if (s <= bounds[i]) {
            b = i;
            break;
        }
    atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (unsigned long long)(s * 1e6), memory_order_relaxed);
}

unsigned long long fm_histo_count(const fm_histo *h) {
    unsigned long long n = 0;
    for (int i = 0; i <= FM_HISTO_MAX; i++) n += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
    return n;
}

void fm_histo_write(const fm_histo *h, const double *bounds, int nb, fm_buf *o, const char *name, const char *labels) {
    const char *sep = *labels ? "," : "";
    unsigned long long cum = 0;
    for (int i = 0; i <= nb; i++) {
        cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        if (i < nb) fm_buf_printf(o, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, bounds[i], cum);
        else fm_buf_printf(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, cum);
    }
    double sum = (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6;
    if (*labels) fm_buf_printf(o, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels, sum, name, labels, cum);
    else fm_buf_printf(o, "%s_sum %.6f\n%s_count %llu\n", name, sum, name, cum);
}
