/* The pool autoscaler's decision, as a pure function of what the operator observed, so every
 * rule is unit-tested without a cluster. The workers are the truth about load: each Ready pod
 * reports its slots, busy slots, idle-since, queries served and start time (GET /status); the
 * gateway reports queue length.
 *
 * Rules (the DuckLakePool spec's knobs):
 *  - demand = Σ busy slots + queued queries, in pods = demand / slots per pod;
 *    raw = ceil(demand_pods / targetUtilization), clamped to [minSize, maxSize]
 *    (pods that are being drained or recycled do not count as capacity);
 *  - scale up at once, by at most scaleUpRate pods per scaleInterval;
 *  - scale down only to the highest recommendation seen during stabilizationWindow, by at most
 *    scaleDownRate pods per scaleInterval, and only idle pods (busy == 0) are chosen — longest
 *    idle first; a pod with a running query is never removed by scaling;
 *  - lifecycle: a pod past maxLifetime or maxQueries is recycled (drained, then deleted, and a
 *    replacement counted in desired); a pod idle longer than maxIdleTime is removed while the
 *    pool stays ≥ minSize (subject to the same scaleDownRate);
 *  - not-yet-ready pods count toward current, so a slow start never triggers a second scale-up.
 * The caller keeps fm_scale_history between calls (one per pool). */
#ifndef FM_POOL_SCALE_H
#define FM_POOL_SCALE_H
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int min_size, max_size;
    double target_utilization;   /* (0,1] */
    int scale_up_rate, scale_down_rate;
    long scale_interval_ms, stabilization_window_ms;
    long max_idle_ms, max_lifetime_ms; /* 0 = never */
    long max_queries;                  /* 0 = unlimited */
} fm_scale_policy;

typedef struct {
    const char *name;
    bool ready;          /* passed its readiness probe and answered /status */
    bool draining;       /* already chosen for removal (annotation), finishing its queries */
    int slots, busy;     /* from /status; slots ≥ 1 */
    long long started_ms, idle_since_ms; /* idle_since_ms = 0 while busy */
    long long queries;   /* served so far */
} fm_pod_state;

#define FM_SCALE_HISTORY 64
typedef struct {
    long long at_ms[FM_SCALE_HISTORY];
    int recommended[FM_SCALE_HISTORY];
    size_t n, next;
    long long last_up_ms, last_down_ms; /* last time pods were added / removed */
} fm_scale_history;

typedef enum { FM_POD_KEEP, FM_POD_DRAIN_SCALE_DOWN, FM_POD_DRAIN_IDLE, FM_POD_DRAIN_RECYCLE } fm_pod_action;

typedef struct {
    int current;   /* pods that exist and are not draining */
    int desired;   /* what the pool should have once this decision is carried out */
    int create;    /* pods to create now */
    int busy, idle;
    double utilization; /* busy slots / slots of ready pods, 0 when none */
    const char *reason; /* a short word for Events: "ScaleUp", "ScaleDown", "Recycle", "Steady", ... */
} fm_scale_decision;

/* pods[i] gets actions[i]; returns the decision. now_ms is monotonic-ish wall time. */
fm_scale_decision fm_scale_decide(const fm_scale_policy *p, const fm_pod_state *pods, size_t npods, int queue_length,
                                  long long now_ms, fm_scale_history *h, fm_pod_action *actions);
#endif
