/* The data model of featherman's custom resources (group ducklake.featherman.dev, v1alpha1),
 * parsed and validated from a JSON document (a manifest converted from YAML, or a CR from the
 * API server). Field names are the CRDs' (config/crd). Parsing applies the CRD defaults and checks
 * everything the API server's schema would (so `featherman local` refuses what kubectl would),
 * plus what only code can check: the type grammar, partition entries naming declared columns.
 * Error messages name the field path, e.g.
 *   "spec.format.partitioning[0]: \"created_at\" is not a declared column (columns: id, name)".
 * The caller prefixes file / object names. All strings are malloc'd and owned by the struct;
 * absent optional strings are NULL. Secrets are only *referenced* here, never resolved. */
#ifndef FM_SPEC_H
#define FM_SPEC_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

typedef struct {
    char *name;       /* Secret name */
    char *key_a;      /* accessKeyField (default "AWS_ACCESS_KEY_ID") or, for a password, key (default "password") */
    char *key_b;      /* secretKeyField (default "AWS_SECRET_ACCESS_KEY"); NULL for a password */
} fm_secret_ref;

typedef struct {
    char *name;       /* metadata.name (required, DNS-1123 subdomain) */
    char *namespace_; /* metadata.namespace, default "default" */
    bool paused;      /* annotation featherman.dev/reconcile: paused */

    char *metadata_type; /* "sqlite" (default) | "duckdb" | "postgres" */
    char *metadata_path; /* file backends: optional path of the metadata file */
    char *storage_class; /* file backends' volume: spec.metadata.storageClass or the older top-level spec.storageClass */
    char *size;          /* spec.metadata.size or spec.size; quantity ≥ 1Gi, default "1Gi" */
    struct {
        char *host;
        int port;          /* default 5432 */
        char *database;
        char *schema;      /* METADATA_SCHEMA; default: NULL (DuckLake's default) */
        char *user;
        fm_secret_ref password; /* passwordSecret {name, key} */
        char *sslmode;     /* disable|allow|prefer|require|verify-ca|verify-full, default "prefer" */
    } pg;

    bool has_object_store; /* spec.objectStore present; without it (local mode only) data stays on local disk */
    struct {
        char *endpoint;    /* host[:port], no scheme; NULL = AWS default */
        char *bucket;      /* required when objectStore is present; S3 bucket naming rules */
        char *prefix;      /* "" default; no leading '/', normalised to end in '/' when non-empty */
        char *region;      /* default "us-east-1" */
        char *url_style;   /* "path" (default) | "vhost" */
        bool use_ssl;      /* default true */
        fm_secret_ref credentials;           /* credentialsSecret (name required when objectStore present) */
        fm_secret_ref read_only_credentials; /* readOnlyCredentialsSecret, name may be NULL */
    } store;

    bool encryption;                /* spec.encryption.enabled */
    long data_inlining_row_limit;   /* spec.dataInliningRowLimit, -1 when unset */
    struct {
        char *schedule;   /* 5-field cron or NULL */
        int retention_days; /* default 7 */
        bool suspend;
    } backup;
    char *deletion_policy; /* "retain" (default) | "delete" */
} fm_catalog_spec;

typedef struct {
    char *name;
    char *type;       /* canonical type (typegrammar.h) */
    bool nullable;    /* default true */
    char *comment;
    char *renamed_from; /* renamedFrom: the column's previous name, so a change of name is a RENAME, not drop+add */
} fm_column_spec;

typedef enum { FM_PART_IDENTITY, FM_PART_YEAR, FM_PART_MONTH, FM_PART_DAY, FM_PART_HOUR, FM_PART_BUCKET } fm_part_kind;

typedef struct {
    fm_part_kind kind;
    char *column;     /* equals a declared column name exactly */
    int buckets;      /* FM_PART_BUCKET: N ≥ 1 */
} fm_partition_spec;

typedef struct {
    char *name;
    char *namespace_;
    bool paused;

    char *catalog_ref;   /* spec.catalogRef: a string (the short form) or {name: ...} */
    char *table;         /* spec.name (required, immutable) */
    fm_column_spec *columns;
    size_t ncolumns;     /* ≥ 1, names unique */
    char *compression;   /* spec.format.compression upper-cased: ZSTD|SNAPPY|GZIP|LZ4|LZ4_RAW|BROTLI|UNCOMPRESSED, or NULL */
    fm_partition_spec *partitions; /* spec.format.partitioning; an exact column-name match wins over a transform reading */
    size_t npartitions;
    char *deletion_policy; /* "retain" (default) | "delete" */
    struct {
        bool enabled;
        char *sql;          /* required when enabled */
        char *schedule;     /* cron or NULL */
        char *mode;         /* "overwrite" (default) | "append" */
        char *dest_bucket;  /* destination.bucket; NULL = local mode writes under its state dir */
        char *dest_prefix;  /* destination.prefix */
        char *compression;  /* format.compression, default "ZSTD" */
    } materialize;
} fm_table_spec;

typedef struct {
    char *name;
    char *namespace_;
    bool paused;
    char *catalog_ref;    /* spec.catalogRef.name */
    bool read_only;       /* spec.catalogRef.readOnly */
    int min_size;         /* default 1 */
    int max_size;         /* default 3; min ≤ max */
    double target_utilization; /* default 0.8, (0,1] */
    long max_idle_ms, max_lifetime_ms;  /* durations "300s", "1h", "1m30s" */
    long max_queries;      /* 0 = unlimited */
    int scale_up_rate, scale_down_rate; /* default 2 / 1 */
    long scale_interval_ms, stabilization_window_ms; /* default 30s / 300s */
    int queue_max_length;  /* default 100 */
    long queue_max_wait_ms; /* default 30s */
    long max_query_duration_ms; /* default 60s */
    json_t *template_;     /* spec.template as given (resources, nodeSelector, tolerations, env), borrowed ref incremented */
} fm_pool_spec;

int fm_catalog_spec_parse(json_t *doc, fm_catalog_spec *out, fm_err *err);
int fm_table_spec_parse(json_t *doc, fm_table_spec *out, fm_err *err);
int fm_pool_spec_parse(json_t *doc, fm_pool_spec *out, fm_err *err);
void fm_catalog_spec_free(fm_catalog_spec *c);
void fm_table_spec_free(fm_table_spec *t);
void fm_pool_spec_free(fm_pool_spec *p);

/* "300s", "5m", "1h30m", "250ms" → milliseconds; -1 on a malformed duration */
long fm_duration_ms(const char *s);
#endif
