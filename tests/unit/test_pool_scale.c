/* Every autoscaling rule of pool_scale.h, driven through time with synthetic pod reports. */
#include <string.h>

#include "operator/pool_scale.h"
#include "unit.h"

static fm_scale_policy policy(void) {
    fm_scale_policy p = {.min_size = 2, .max_size = 6, .target_utilization = 0.8, .scale_up_rate = 2,
                         .scale_down_rate = 1, .scale_interval_ms = 30000, .stabilization_window_ms = 300000,
                         .max_idle_ms = 0, .max_lifetime_ms = 0, .max_queries = 0};
    return p;
}

static fm_pod_state pod(const char *name, int busy, long long idle_since) {
    fm_pod_state s = {.name = name, .ready = true, .slots = 1, .busy = busy, .started_ms = 1,
                      .idle_since_ms = busy ? 0 : idle_since};
    return s;
}

FM_TEST(scale_steady_at_min) {
    fm_scale_policy p = policy();
    fm_scale_history h;
    memset(&h, 0, sizeof h);
    fm_pod_state pods[2] = {pod("a", 0, 100), pod("b", 0, 100)};
    fm_pod_action act[2];
    fm_scale_decision d = fm_scale_decide(&p, pods, 2, 0, 1000000, &h, act);
    CHECK(d.current == 2 && d.desired == 2 && d.create == 0);
    CHECK(act[0] == FM_POD_KEEP && act[1] == FM_POD_KEEP);
    CHECK(d.idle == 2 && d.busy == 0);
}

FM_TEST(scale_empty_pool_repairs_min_at_once) {
    fm_scale_policy p = policy();
    p.min_size = 5;
    p.scale_up_rate = 1;
    fm_scale_history h;
    memset(&h, 0, sizeof h);
    fm_pod_action act[1];
    fm_scale_decision d = fm_scale_decide(&p, NULL, 0, 0, 1000, &h, act);
    CHECK(d.create == 5 && d.desired == 5);
}

FM_TEST(scale_up_rate_and_interval) {
    fm_scale_policy p = policy();
    fm_scale_history h;
    memset(&h, 0, sizeof h);
    fm_pod_state pods[2] = {pod("a", 1, 0), pod("b", 1, 0)};
    fm_pod_action act[6];
    /* 2 busy + 5 queued on 1-slot pods at 0.8 → 9, capped at 6; +2 per interval */
    fm_scale_decision d = fm_scale_decide(&p, pods, 2, 5, 1000000, &h, act);
    CHECK(d.create == 2 && d.desired == 4);
    CHECK(strcmp(d.reason, "ScaleUp") == 0);
    CHECK(d.utilization == 1.0);
    /* the new pods are not ready yet: they count, and the interval has not passed */
    fm_pod_state more[4] = {pod("a", 1, 0), pod("b", 1, 0), pod("c", 0, 0), pod("d", 0, 0)};
    more[2].ready = more[3].ready = false;
    d = fm_scale_decide(&p, more, 4, 5, 1010000, &h, act);
    CHECK(d.create == 0 && d.current == 4);
    d = fm_scale_decide(&p, more, 4, 5, 1031000, &h, act);
    CHECK(d.create == 2 && d.desired == 6);
    /* never beyond maxSize */
    fm_pod_state full[6] = {pod("a", 1, 0), pod("b", 1, 0), pod("c", 1, 0), pod("d", 1, 0), pod("e", 1, 0), pod("f", 1, 0)};
    d = fm_scale_decide(&p, full, 6, 50, 1100000, &h, act);
    CHECK(d.create == 0 && d.desired == 6);
}

FM_TEST(scale_down_waits_for_stabilization_and_spares_busy_pods) {
    fm_scale_policy p = policy();
    fm_scale_history h;
    memset(&h, 0, sizeof h);
    fm_pod_action act[6];
    fm_pod_state busy[6] = {pod("a", 1, 0), pod("b", 1, 0), pod("c", 1, 0), pod("d", 1, 0), pod("e", 1, 0), pod("f", 1, 0)};
    fm_scale_decide(&p, busy, 6, 0, 1000000, &h, act);
    /* load gone; within the window the peak (6... → ceil(6/0.8)=8 → 6) holds */
    fm_pod_state quiet[6] = {pod("a", 1, 0), pod("b", 0, 1100000), pod("c", 0, 1050000),
                             pod("d", 0, 1200000), pod("e", 0, 1100000), pod("f", 0, 1100000)};
    fm_scale_decision d = fm_scale_decide(&p, quiet, 6, 0, 1200000, &h, act);
    CHECK(d.desired == 6);
    for (int i = 0; i < 6; i++) CHECK(act[i] == FM_POD_KEEP);
    /* after the window: one pod per interval, the longest idle, never the busy one */
    d = fm_scale_decide(&p, quiet, 6, 0, 1301000, &h, act);
    CHECK(d.desired == 5 && strcmp(d.reason, "ScaleDown") == 0);
    CHECK(act[2] == FM_POD_DRAIN_SCALE_DOWN);
    CHECK(act[0] == FM_POD_KEEP);
    quiet[2].draining = true;
    d = fm_scale_decide(&p, quiet, 6, 0, 1310000, &h, act); /* interval not passed */
    CHECK(d.desired == 5 && d.current == 5);
    /* all remaining are busy: nothing can be removed */
    for (int i = 0; i < 6; i++) quiet[i].busy = i == 2 ? 0 : 1;
    p.target_utilization = 1;
    p.stabilization_window_ms = 0;
    d = fm_scale_decide(&p, quiet, 6, 0, 1400000, &h, act);
    for (int i = 0; i < 6; i++) CHECK(act[i] == FM_POD_KEEP);
}

FM_TEST(scale_recycles_worn_pods_with_replacements) {
    fm_scale_policy p = policy();
    p.max_queries = 100;
    p.max_lifetime_ms = 3600000;
    fm_scale_history h;
    memset(&h, 0, sizeof h);
    fm_pod_state pods[2] = {pod("a", 0, 5), pod("b", 0, 5)};
    pods[0].queries = 100;
    pods[1].started_ms = 1000;
    fm_pod_action act[2];
    fm_scale_decision d = fm_scale_decide(&p, pods, 2, 0, 2000000, &h, act);
    CHECK(act[0] == FM_POD_DRAIN_RECYCLE && act[1] == FM_POD_KEEP);
    CHECK(d.current == 1 && d.create == 1 && d.desired == 2);
    d = fm_scale_decide(&p, pods, 2, 0, 3601000, &h, act); /* now both */
    CHECK(act[0] == FM_POD_DRAIN_RECYCLE && act[1] == FM_POD_DRAIN_RECYCLE);
    CHECK(d.create == 2 && d.desired == 2);
}

FM_TEST(scale_removes_idle_pods_above_min) {
    fm_scale_policy p = policy();
    p.max_idle_ms = 60000;
    p.stabilization_window_ms = 0;
    fm_scale_history h;
    memset(&h, 0, sizeof h);
    fm_pod_state pods[3] = {pod("a", 0, 1000), pod("b", 0, 1000), pod("c", 0, 1000)};
    fm_pod_action act[3];
    p.target_utilization = 1;
    /* raw recommendation is min (2): the extra pod goes as scale-down; at min nothing goes */
    fm_scale_decision d = fm_scale_decide(&p, pods, 3, 0, 100000, &h, act);
    CHECK(d.desired == 2);
    pods[0].draining = true;
    d = fm_scale_decide(&p, pods, 3, 0, 200000, &h, act);
    CHECK(d.desired == 2 && act[1] == FM_POD_KEEP && act[2] == FM_POD_KEEP);
}

FM_TEST(scale_idle_timeout_overrides_stabilized_peak) {
    fm_scale_policy p = policy();
    p.min_size = 1;
    p.max_idle_ms = 60000;
    fm_scale_history h;
    memset(&h, 0, sizeof h);
    fm_pod_action act[3];
    fm_pod_state busy[3] = {pod("a", 1, 0), pod("b", 1, 0), pod("c", 1, 0)};
    p.target_utilization = 1;
    fm_scale_decide(&p, busy, 3, 0, 1000000, &h, act);
    /* within the window the peak (3) would hold, but b has been idle past maxIdleTime */
    fm_pod_state pods[3] = {pod("a", 1, 0), pod("b", 0, 1000000), pod("c", 0, 1050000)};
    fm_scale_decision d = fm_scale_decide(&p, pods, 3, 0, 1070000, &h, act);
    CHECK(act[1] == FM_POD_DRAIN_IDLE && act[2] == FM_POD_KEEP);
    CHECK(d.desired == 2);
}
