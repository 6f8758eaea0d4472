/* leader: leader election on a coordination.k8s.io/v1 Lease, as client-go does it, so that of
 * several operator replicas exactly one reconciles.
 *
 * The holder renews the Lease every retry period; a candidate takes it over when the holder has
 * released it (empty holderIdentity) or when the record has not changed for leaseDurationSeconds
 * as measured on the candidate's own clock since it first observed that record (so clock skew
 * between replicas does not matter). Every write is a compare-and-swap on resourceVersion, so two
 * candidates cannot both win. A leader that cannot renew within the renew deadline, or sees
 * another holder, stops leading (on_stopped) and does not try again: the process should exit
 * and restart clean, because its reconcilers may have stale assumptions. kube_leader_stop
 * releases a held lease so a successor need not wait for expiry.
 *
 * The decision and the record it writes are pure functions, tested without a server. */
#ifndef FM_KUBE_LEADER_H
#define FM_KUBE_LEADER_H
#include <jansson.h>

#include "base/err.h"
#include "kube/kube_http.h"

typedef enum { KUBE_LEADER_WAIT, KUBE_LEADER_ACQUIRE, KUBE_LEADER_RENEW } kube_leader_action;

/* lease: the current Lease object or NULL when there is none; now and observed_at in seconds on
 * one clock, observed_at = when this caller first saw the lease's current record. */
kube_leader_action kube_leader_decide(const json_t *lease, const char *identity, double now, double observed_at);

/* The Lease to write for an ACQUIRE or RENEW (from lease, keeping its metadata and
 * resourceVersion; NULL: a new Lease ns/name). now is Unix time. */
json_t *kube_leader_record(const json_t *lease, kube_leader_action act, const char *ns, const char *name,
                           const char *identity, double now, int lease_duration_s);
/* The Lease that gives it up: holder cleared, leaseDurationSeconds 1. */
json_t *kube_leader_release_record(const json_t *lease, double now);

/* MicroTime "2006-01-02T15:04:05.000000Z" ⇄ Unix seconds; parse returns -1 when malformed */
void kube_micro_time(double t, char out[32]);
double kube_parse_time(const char *s);

typedef struct {
    const char *ns, *name; /* the Lease */
    const char *identity;  /* unique per replica: the pod name, or host + pid */
    int lease_duration_s;  /* 0 → 15 */
    int renew_deadline_s;  /* 0 → 10 */
    double retry_period_s; /* 0 → 2 */
    void (*on_started)(void *ud);
    void (*on_stopped)(void *ud); /* lost or released, only after on_started */
    void *ud;
} kube_leader_config;

typedef struct kube_leader kube_leader;
kube_leader *kube_leader_start(kube_client *c, const kube_leader_config *cfg, fm_err *err);
int kube_leader_is_leader(kube_leader *l);
/* 1 when leadership was held and then lost (not released) */
int kube_leader_lost(kube_leader *l);
/* stops the thread, releases a held lease, frees l */
void kube_leader_stop(kube_leader *l);
#endif
