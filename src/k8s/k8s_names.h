/* Names shared by the operator, the gateway and the workers in a cluster: the API group and
 * resources, the labels and annotations that tie objects together, and the objects the operator
 * creates per namespace. One place, so a label the operator writes is the label the gateway reads.
 *
 * Pool pods (created by the operator, found by the gateway through the API, never by DNS):
 *   labels     FM_LABEL_NAME=featherman, FM_LABEL_COMPONENT=pool-worker, FM_LABEL_POOL=<pool>,
 *              FM_LABEL_CATALOG=<catalog>, FM_LABEL_MANAGED_BY
 *   container  "featherman", args: worker serve ..., the catalog CR in env FEATHERMAN_CATALOG_SPEC,
 *              listens on $POD_IP:FM_WORKER_PORT (port name "query"), readiness GET /readyz,
 *              GET /status reports slots/busy/idleSince/queriesServed/startedAt
 *   token      env FEATHERMAN_TOKEN from Secret FM_INTERNAL_TOKEN_SECRET key "token": only the
 *              gateway holds it (and the operator, to read /status)
 *   draining   annotation FM_ANNOT_DRAINING="true": the gateway sends it nothing new; the operator
 *              deletes it once /status shows busy == 0 (or after maxQueryDuration); it writes
 *              FM_ANNOT_DRAINING_SINCE beside it
 * Queue length: the gateway annotates each DuckLakePool with FM_ANNOT_QUEUE_LENGTH (queries
 *   waiting in its FIFO) and FM_ANNOT_QUEUE_AT (Unix ms); the operator's autoscaler counts it when
 *   fresh. With several gateway replicas the last writer wins (an under-estimate, never stale
 *   for long).
 * Gateway tokens for clients: Secret named by the gateway's --tokens-secret (default
 *   FM_QUERY_TOKENS_SECRET); every key's value is one valid token (rotation: add a key, then remove
 *   the old one; no restart).
 * Job fallback: a Job labelled FM_LABEL_COMPONENT=query-once, FM_LABEL_CATALOG, running
 *   worker serve --once; the gateway calls its pod like a pool pod (managed-by FM_MANAGED_BY_GATEWAY).
 * File-backed catalogs (sqlite/duckdb metadata): the catalog's volume is the claim named
 *   <catalog>FM_CATALOG_PVC_SUFFIX, mounted at the worker's state directory. */
#ifndef FM_K8S_NAMES_H
#define FM_K8S_NAMES_H

#define FM_GROUP "ducklake.featherman.dev"
#define FM_VERSION "v1alpha1"
#define FM_API_VERSION FM_GROUP "/" FM_VERSION

#define FM_LABEL_NAME "app.kubernetes.io/name"
#define FM_LABEL_COMPONENT "app.kubernetes.io/component"
#define FM_LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define FM_MANAGED_BY "featherman-operator"
#define FM_MANAGED_BY_GATEWAY "featherman-gateway"
#define FM_LABEL_CATALOG "featherman.dev/catalog"
#define FM_LABEL_TABLE "featherman.dev/table"
#define FM_LABEL_POOL "featherman.dev/pool"
#define FM_LABEL_OPERATION "featherman.dev/operation"

#define FM_COMPONENT_POOL "pool-worker"
#define FM_COMPONENT_JOB "catalog-job"
#define FM_COMPONENT_ONCE "query-once"

#define FM_ANNOT_DRAINING "featherman.dev/draining"
#define FM_ANNOT_SPEC_HASH "featherman.dev/pod-spec-hash" /* pool pods: rolled when it changes */
#define FM_ANNOT_DRAINING_SINCE "featherman.dev/draining-since" /* Unix ms the operator began the drain */
/* on a DuckLakePool, written by the gateway: queries waiting in its queue, and when (Unix ms) */
#define FM_ANNOT_QUEUE_LENGTH "featherman.dev/queue-length"
#define FM_ANNOT_QUEUE_AT "featherman.dev/queue-length-at"
#define FM_ANNOT_RECONCILE "featherman.dev/reconcile" /* "paused" stops reconciling */

#define FM_FINALIZER "featherman.dev/finalizer"
#define FM_FIELD_MANAGER "featherman-operator"

#define FM_INTERNAL_TOKEN_SECRET "featherman-internal-token"
#define FM_QUERY_TOKENS_SECRET "featherman-query-tokens"
#define FM_WORKER_PORT 8080
#define FM_CATALOG_PVC_SUFFIX "-metadata"
#define FM_DEFAULT_IMAGE "featherman:" FEATHERMAN_VERSION
#endif
