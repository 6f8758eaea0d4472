/* bench/fresh_query: the baseline for featherman's warm query path — one whole fresh DuckDB
 * process per query.
 *
 *   fresh_query [-L] [-v] [-P] [-T] [-r N] [-p PG_CONNINFO] STATE_DIR CATALOG SQL
 *
 * Opens an in-memory DuckDB with the pinned offline extensions (extension_directory from the
 * build's cache, auto-install and auto-load off, as featherman's engine does), LOADs ducklake and
 * sqlite_scanner, ATTACHes the lake `featherman local --state STATE_DIR` created for CATALOG
 * (SQLite metadata STATE_DIR/CATALOG/metadata.sqlite, data STATE_DIR/CATALOG/data/) READ_ONLY,
 * runs SQL and prints the result as comma-separated lines with a header, then exits. With
 * -p PG_CONNINFO the catalog's metadata is in Postgres instead (LOAD postgres_scanner, ATTACH
 * 'ducklake:postgres:PG_CONNINFO', data still STATE_DIR/CATALOG/data/).
 * With -L it skips the LOAD/ATTACH (for queries such as SELECT 1 that need no lake); with -v it
 * prints the time of each step (open, each LOAD, ATTACH, the query) to stderr; with -r N it then
 * runs SQL N more times on the same connection and prints, instead of the result, the warm
 * in-process latency (p50/p90/p99/mean in microseconds): DuckDB's own cost for the query. With -P
 * SQL runs as duckdb_prepare then duckdb_execute_prepared instead of one duckdb_query: in
 * auto-commit mode that is two transactions (featherman's query path before it wrapped a statement
 * in a transaction); with -T each run of SQL is wrapped in BEGIN TRANSACTION ... COMMIT, so -P -T is
 * featherman's query path now. */
#include <duckdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int verbose, prepared, txn;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* print: 1 the result, 0 nothing, -1 nothing and never prepared (set-up statements) */
static int run(duckdb_connection con, const char *sql, int print) {
    double t0 = now_ms();
    duckdb_result r;
    duckdb_prepared_statement ps = NULL;
    if (txn && print >= 0) {
        if (duckdb_query(con, "BEGIN TRANSACTION", &r) == DuckDBError) {
            fprintf(stderr, "fresh_query: BEGIN: %s\n", duckdb_result_error(&r));
            duckdb_destroy_result(&r);
            return -1;
        }
        duckdb_destroy_result(&r);
    }
    if (prepared && print >= 0) {
        duckdb_state st = duckdb_prepare(con, sql, &ps);
        if (st == DuckDBError) {
            fprintf(stderr, "fresh_query: %s: %s\n", sql, duckdb_prepare_error(ps));
            duckdb_destroy_prepare(&ps);
            return -1;
        }
        st = duckdb_execute_prepared(ps, &r);
        duckdb_destroy_prepare(&ps);
        if (st == DuckDBError) {
            fprintf(stderr, "fresh_query: %s: %s\n", sql, duckdb_result_error(&r));
            duckdb_destroy_result(&r);
            return -1;
        }
    } else if (duckdb_query(con, sql, &r) == DuckDBError) {
        fprintf(stderr, "fresh_query: %s: %s\n", sql, duckdb_result_error(&r));
        duckdb_destroy_result(&r);
        return -1;
    }
    if (print > 0) {
        idx_t cols = duckdb_column_count(&r), rows = duckdb_row_count(&r);
        for (idx_t c = 0; c < cols; c++) printf("%s%s", c ? "," : "", duckdb_column_name(&r, c));
        printf("\n");
        for (idx_t i = 0; i < rows; i++) {
            for (idx_t c = 0; c < cols; c++) {
                char *v = duckdb_value_varchar(&r, c, i);
                printf("%s%s", c ? "," : "", v ? v : "");
                duckdb_free(v);
            }
            printf("\n");
        }
    }
    duckdb_destroy_result(&r);
    if (txn && print >= 0) {
        duckdb_state st = duckdb_query(con, "COMMIT", &r);
        if (st == DuckDBError) fprintf(stderr, "fresh_query: COMMIT: %s\n", duckdb_result_error(&r));
        duckdb_destroy_result(&r);
        if (st == DuckDBError) return -1;
    }
    if (verbose) fprintf(stderr, "fresh_query: %8.2f ms  %.60s\n", now_ms() - t0, sql);
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* the query REPEAT times on a warm connection: its latency percentiles on stdout */
static int repeat_query(duckdb_connection con, const char *sql, int n) {
    double *lat = calloc((size_t)n, sizeof *lat), sum = 0;
    for (int i = 0; i < n; i++) {
        double t0 = now_ms();
        if (run(con, sql, 0)) return -1;
        lat[i] = (now_ms() - t0) * 1e3;
        sum += lat[i];
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    printf("n=%d p50_us=%.0f p90_us=%.0f p99_us=%.0f mean_us=%.0f\n", n, lat[(n - 1) / 2], lat[(n * 9 + 9) / 10 - 1],
           lat[(n * 99 + 99) / 100 - 1], sum / n);
    free(lat);
    return 0;
}

int main(int argc, char **argv) {
    int attach = 1, repeat = 0, c;
    const char *pg = NULL;
    while ((c = getopt(argc, argv, "LvPTr:p:")) != -1) {
        if (c == 'L') attach = 0;
        else if (c == 'p') pg = optarg;
        else if (c == 'P') prepared = 1;
        else if (c == 'T') txn = 1;
        else if (c == 'v') verbose = 1;
        else if (c == 'r') repeat = atoi(optarg);
        else goto usage;
    }
    if (optind != argc - 3) goto usage;
    const char *state = argv[optind], *catalog = argv[optind + 1], *sql = argv[optind + 2];
    for (const char *p = catalog; *p; p++) /* it is spliced into SQL below */
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')) goto usage;
    if (strchr(state, '\'') || (pg && strchr(pg, '\''))) goto usage;

    duckdb_config cfg;
    duckdb_database db;
    duckdb_connection con;
    char *oerr = NULL;
    double t0 = now_ms();
    if (duckdb_create_config(&cfg) == DuckDBError ||
        duckdb_set_config(cfg, "extension_directory", FEATHERMAN_EXTENSION_DIR) == DuckDBError ||
        duckdb_set_config(cfg, "autoinstall_known_extensions", "false") == DuckDBError ||
        duckdb_set_config(cfg, "autoload_known_extensions", "false") == DuckDBError) {
        fprintf(stderr, "fresh_query: DuckDB configuration refused\n");
        return 1;
    }
    if (duckdb_open_ext(NULL, &db, cfg, &oerr) == DuckDBError || duckdb_connect(db, &con) == DuckDBError) {
        fprintf(stderr, "fresh_query: cannot open DuckDB: %s\n", oerr ? oerr : "?");
        return 1;
    }
    duckdb_destroy_config(&cfg);
    if (verbose) fprintf(stderr, "fresh_query: %8.2f ms  open DuckDB (in-memory)\n", now_ms() - t0);
    int rc = 0;
    if (attach) {
        char q[4096];
        if (pg)
            snprintf(q, sizeof q,
                     "ATTACH 'ducklake:postgres:%s' AS \"%s\" (DATA_PATH '%s/%s/data/', READ_ONLY); USE \"%s\"", pg,
                     catalog, state, catalog, catalog);
        else
            snprintf(q, sizeof q,
                     "ATTACH 'ducklake:sqlite:%s/%s/metadata.sqlite' AS \"%s\" (DATA_PATH '%s/%s/data/', READ_ONLY); "
                     "USE \"%s\"",
                     state, catalog, catalog, state, catalog, catalog);
        rc = run(con, "LOAD ducklake", -1) || run(con, pg ? "LOAD postgres_scanner" : "LOAD sqlite_scanner", -1) ||
             run(con, q, -1);
    }
    if (!rc) rc = run(con, sql, !repeat);
    if (!rc && repeat > 0) rc = repeat_query(con, sql, repeat);
    duckdb_disconnect(&con);
    duckdb_close(&db);
    return rc ? 1 : 0;
usage:
    fprintf(stderr, "usage: fresh_query [-L] [-v] [-P] [-T] [-r N] [-p PG_CONNINFO] STATE_DIR CATALOG SQL\n");
    return 2;
}
