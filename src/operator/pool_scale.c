/* The pool autoscaler's decision (contract in pool_scale.h). */
#include "operator/pool_scale.h"

#include <math.h>

/* a fixed ring: entries closer together than window/32 are merged (keeping the peak), so a
 * fast reconcile loop cannot push the window's peak out of the ring */
static void remember(fm_scale_history *h, long long now, int rec, long window) {
    if (h->n) {
        size_t last = (h->next + FM_SCALE_HISTORY - 1) % FM_SCALE_HISTORY;
        if (now - h->at_ms[last] < window / (FM_SCALE_HISTORY / 2)) {
            if (rec > h->recommended[last]) h->recommended[last] = rec;
            return;
        }
    }
    h->at_ms[h->next] = now;
    h->recommended[h->next] = rec;
    h->next = (h->next + 1) % FM_SCALE_HISTORY;
    if (h->n < FM_SCALE_HISTORY) h->n++;
}

/* the highest recommendation within the window: scale-down follows the peak, not the dip */
static int stabilized(const fm_scale_history *h, long long now, long window, int fallback) {
    int best = fallback;
    for (size_t i = 0; i < h->n; i++)
        if (now - h->at_ms[i] <= window && h->recommended[i] > best) best = h->recommended[i];
    return best;
}

static bool due(long long last, long long now, long interval) { return last == 0 || now - last >= interval; }

/* counts ready capacity into d (busy, idle) and returns the pods that are not draining; every
 * action starts as KEEP */
static int count_pods(const fm_pod_state *pods, size_t npods, fm_pod_action *actions, fm_scale_decision *d,
                      int *ready, int *slots, int *busy_slots) {
    int active = 0;
    for (size_t i = 0; i < npods; i++) {
        actions[i] = FM_POD_KEEP;
        if (pods[i].draining) continue;
        active++;
        if (!pods[i].ready) continue;
        (*ready)++;
        *slots += pods[i].slots > 0 ? pods[i].slots : 1;
        *busy_slots += pods[i].busy;
        if (pods[i].busy) d->busy++;
        else d->idle++;
    }
    return active;
}

/* lifecycle: recycle worn-out pods, a few at a time so capacity never collapses; returns how many */
static int recycle(const fm_scale_policy *p, const fm_pod_state *pods, size_t npods, long long now_ms,
                   fm_pod_action *actions) {
    int budget = p->scale_up_rate > 0 ? p->scale_up_rate : 1, recycled = 0;
    for (size_t i = 0; i < npods && recycled < budget; i++) {
        const fm_pod_state *s = &pods[i];
        if (s->draining || !s->ready) continue;
        bool old = p->max_lifetime_ms > 0 && now_ms - s->started_ms >= p->max_lifetime_ms;
        bool worn = p->max_queries > 0 && s->queries >= p->max_queries;
        if (old || worn) {
            actions[i] = FM_POD_DRAIN_RECYCLE;
            recycled++;
        }
    }
    return recycled;
}

static void scale_up(const fm_scale_policy *p, int raw, int current, int active, int recycled, long long now_ms,
                     fm_scale_history *h, fm_scale_decision *d) {
    int want = raw > p->min_size ? raw : p->min_size;
    int floor_gap = p->min_size - current; /* below minSize is repaired at once */
    /* replacements for recycled pods are not rate-limited: they keep capacity, not add it */
    int room = (due(h->last_up_ms, now_ms, p->scale_interval_ms) ? p->scale_up_rate : 0) + recycled;
    int n = want - current;
    int limit = (floor_gap > room ? floor_gap : room);
    if (n > limit) n = limit;
    if (n > 0) {
        d->create = n;
        h->last_up_ms = now_ms;
        if (want > active) d->reason = "ScaleUp";
    }
}

/* longest-idle first, only pods with no running query; returns how many were chosen */
static int scale_down(const fm_scale_policy *p, const fm_pod_state *pods, size_t npods, int raw, int current,
                      long long now_ms, fm_scale_history *h, fm_pod_action *actions) {
    int excess = current - stabilized(h, now_ms, p->stabilization_window_ms, raw);
    int budget = p->scale_down_rate, removed = 0;
    while (budget > 0 && current - removed > p->min_size) {
        long best = -1;
        for (size_t i = 0; i < npods; i++) {
            const fm_pod_state *s = &pods[i];
            if (actions[i] != FM_POD_KEEP || s->draining || !s->ready || s->busy) continue;
            if (best < 0 || s->idle_since_ms < pods[best].idle_since_ms) best = (long)i;
        }
        if (best < 0) break;
        const fm_pod_state *s = &pods[best];
        bool idle_too_long = p->max_idle_ms > 0 && s->idle_since_ms > 0 && now_ms - s->idle_since_ms >= p->max_idle_ms;
        if (removed < excess) actions[best] = FM_POD_DRAIN_SCALE_DOWN;
        else if (idle_too_long) actions[best] = FM_POD_DRAIN_IDLE;
        else break;
        removed++;
        budget--;
    }
    return removed;
}

fm_scale_decision fm_scale_decide(const fm_scale_policy *p, const fm_pod_state *pods, size_t npods, int queue_length,
                                  long long now_ms, fm_scale_history *h, fm_pod_action *actions) {
    fm_scale_decision d = {0};
    int busy_slots = 0, slots = 0, ready = 0;
    int active = count_pods(pods, npods, actions, &d, &ready, &slots, &busy_slots);
    d.utilization = slots ? (double)busy_slots / slots : 0;
    double per_pod = ready ? (double)slots / ready : 1;
    double target = p->target_utilization > 0 && p->target_utilization <= 1 ? p->target_utilization : 1;
    int raw = (int)ceil((busy_slots + (queue_length > 0 ? queue_length : 0)) / per_pod / target - 1e-9);
    if (raw < p->min_size) raw = p->min_size;
    if (raw > p->max_size) raw = p->max_size;
    remember(h, now_ms, raw, p->stabilization_window_ms);

    int recycled = recycle(p, pods, npods, now_ms, actions);
    int current = active - recycled;
    d.reason = recycled ? "Recycle" : "Steady";
    if (raw > current || current < p->min_size) {
        scale_up(p, raw, current, active, recycled, now_ms, h, &d);
    } else if (current > p->min_size && due(h->last_down_ms, now_ms, p->scale_interval_ms)) {
        int removed = scale_down(p, pods, npods, raw, current, now_ms, h, actions);
        if (removed) {
            h->last_down_ms = now_ms;
            current -= removed;
            d.reason = "ScaleDown";
        }
    }
    d.current = current;
    d.desired = current + d.create;
    return d;
}
