#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_events.h"
#include "kube/leader.h"
#include "unit.h"

static json_t *lease(const char *holder, int dur, long transitions) {
    json_t *l = json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:{s:i,s:I,s:s,s:s}}", "apiVersion", "coordination.k8s.io/v1",
                          "kind", "Lease", "metadata", "name", "op", "namespace", "sys", "resourceVersion", "42", "spec",
                          "leaseDurationSeconds", dur, "leaseTransitions", (json_int_t)transitions, "acquireTime",
                          "2024-01-01T00:00:00.000000Z", "renewTime", "2024-01-01T00:00:10.000000Z");
    if (holder) json_object_set_new(json_object_get(l, "spec"), "holderIdentity", json_string(holder));
    return l;
}

FM_TEST(kube_leader_decisions) {
    CHECK(kube_leader_decide(NULL, "me", 100, 100) == KUBE_LEADER_ACQUIRE);
    json_t *mine = lease("me", 15, 0);
    CHECK(kube_leader_decide(mine, "me", 1000, 0) == KUBE_LEADER_RENEW);
    json_t *other = lease("other", 15, 3);
    CHECK(kube_leader_decide(other, "me", 100, 100) == KUBE_LEADER_WAIT);
    CHECK(kube_leader_decide(other, "me", 114.9, 100) == KUBE_LEADER_WAIT);
    CHECK(kube_leader_decide(other, "me", 115, 100) == KUBE_LEADER_ACQUIRE);
    json_t *released = lease("", 1, 3);
    CHECK(kube_leader_decide(released, "me", 100, 100) == KUBE_LEADER_ACQUIRE);
    json_t *noholder = lease(NULL, 15, 3);
    CHECK(kube_leader_decide(noholder, "me", 100, 100) == KUBE_LEADER_ACQUIRE);

    /* records: acquiring from another holder bumps transitions and acquireTime; renewing does not */
    json_t *r = kube_leader_record(other, KUBE_LEADER_ACQUIRE, "sys", "op", "me", 1700000000.25, 15);
    json_t *sp = json_object_get(r, "spec");
    CHECK_STR(json_string_value(json_object_get(sp, "holderIdentity")), "me");
    CHECK(json_integer_value(json_object_get(sp, "leaseTransitions")) == 4);
    CHECK(json_integer_value(json_object_get(sp, "leaseDurationSeconds")) == 15);
    CHECK_STR(json_string_value(json_object_get(sp, "acquireTime")), "2023-11-14T22:13:20.250000Z");
    CHECK_STR(json_string_value(json_object_get(sp, "renewTime")), "2023-11-14T22:13:20.250000Z");
    CHECK_STR(json_string_value(json_object_get(json_object_get(r, "metadata"), "resourceVersion")), "42");
    json_decref(r);
    r = kube_leader_record(mine, KUBE_LEADER_RENEW, "sys", "op", "me", 1700000000, 15);
    sp = json_object_get(r, "spec");
    CHECK(json_integer_value(json_object_get(sp, "leaseTransitions")) == 0);
    CHECK_STR(json_string_value(json_object_get(sp, "acquireTime")), "2024-01-01T00:00:00.000000Z");
    CHECK_STR(json_string_value(json_object_get(sp, "renewTime")), "2023-11-14T22:13:20.000000Z");
    json_t *rel = kube_leader_release_record(r, 1700000001);
    CHECK_STR(json_string_value(json_object_get(json_object_get(rel, "spec"), "holderIdentity")), "");
    CHECK(json_integer_value(json_object_get(json_object_get(rel, "spec"), "leaseDurationSeconds")) == 1);
    CHECK(kube_leader_decide(rel, "other", 0, 0) == KUBE_LEADER_ACQUIRE);
    json_decref(rel);
    json_decref(r);
    r = kube_leader_record(NULL, KUBE_LEADER_ACQUIRE, "sys", "op", "me", 0, 15);
    CHECK_STR(json_string_value(json_object_get(json_object_get(r, "metadata"), "namespace")), "sys");
    CHECK(json_integer_value(json_object_get(json_object_get(r, "spec"), "leaseTransitions")) == 0);
    CHECK_STR(json_string_value(json_object_get(json_object_get(r, "spec"), "renewTime")), "1970-01-01T00:00:00.000000Z");
    json_decref(r);
    json_decref(mine);
    json_decref(other);
    json_decref(released);
    json_decref(noholder);

    fm_err e;
    kube_leader_config bad = {.ns = "sys", .name = "op", .identity = "me", .lease_duration_s = 5, .renew_deadline_s = 5};
    CHECK(kube_leader_start(NULL, &bad, &e) == NULL && e.code == FM_E_INVALID);
}

FM_TEST(kube_time_format) {
    CHECK(fabs(kube_parse_time("2023-11-14T22:13:20.250000Z") - 1700000000.25) < 1e-6);
    CHECK(kube_parse_time("2023-11-14T22:13:20Z") == 1700000000);
    CHECK(kube_parse_time("2023-11-14T22:13:20+01:00") == -1);
    CHECK(kube_parse_time("yesterday") == -1);
    char b[32];
    kube_micro_time(1700000000.5, b);
    CHECK_STR(b, "2023-11-14T22:13:20.500000Z");
}

FM_TEST(kube_event_objects) {
    json_t *pod = json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s}}", "apiVersion", "ducklake.featherman.dev/v1alpha1", "kind",
                            "DuckLakeTable", "metadata", "name", "events", "namespace", "team", "uid", "u-1",
                            "resourceVersion", "9");
    json_t *ev = kube_event_object(pod, "Warning", "AlterRefused", "cannot narrow BIGINT to INT", "featherman-operator",
                                   "op-0", 1700000000);
    CHECK_STR(json_string_value(json_object_get(json_object_get(ev, "metadata"), "namespace")), "team");
    CHECK(!strncmp(json_string_value(json_object_get(json_object_get(ev, "metadata"), "name")), "events.", 7));
    json_t *io = json_object_get(ev, "involvedObject");
    CHECK_STR(json_string_value(json_object_get(io, "kind")), "DuckLakeTable");
    CHECK_STR(json_string_value(json_object_get(io, "uid")), "u-1");
    CHECK_STR(json_string_value(json_object_get(ev, "type")), "Warning");
    CHECK_STR(json_string_value(json_object_get(ev, "reason")), "AlterRefused");
    CHECK(json_integer_value(json_object_get(ev, "count")) == 1);
    CHECK_STR(json_string_value(json_object_get(ev, "firstTimestamp")), "2023-11-14T22:13:20Z");
    CHECK_STR(json_string_value(json_object_get(json_object_get(ev, "source"), "host")), "op-0");
    json_decref(ev);
    /* long messages are cut on a UTF-8 boundary */
    char big[2000];
    memset(big, 'a', sizeof big);
    memcpy(big + 1023, "\xc3\xa9", 2); /* é straddles the cut at 1024 */
    big[10] = (char)0xff;                /* and invalid UTF-8 is replaced, not a reason to drop the event */
    big[sizeof big - 1] = 0;
    ev = kube_event_object(pod, "Normal", "R", big, "c", NULL, 0);
    const char *m = json_string_value(json_object_get(ev, "message"));
    CHECK(m && strlen(m) == 1023 && m[10] == '?');
    CHECK(json_object_get(ev, "reportingInstance") == NULL);
    json_decref(ev);
    /* dedup keys differ by message, type, reason and object */
    char *k1 = kube_event_key(pod, "Normal", "R", "m");
    char *k2 = kube_event_key(pod, "Normal", "R", "m");
    char *k3 = kube_event_key(pod, "Normal", "R", "m2");
    CHECK(!strcmp(k1, k2) && strcmp(k1, k3));
    free(k1);
    free(k2);
    free(k3);
    json_decref(pod);
}
