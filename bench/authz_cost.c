/* What the authorizer costs per statement: DuckDB's parse alone (duckdb_extract_statements, which
 * the query path does anyway) against parse + description + policy (fm_authz_check_extracted),
 * and for scale one prepared-and-executed SELECT 1 on the same connection. A DuckLake catalog on
 * a DuckDB metadata file is attached as in the engine.
 *   build/bench/authz_cost [iterations]     (make bench) */
#include <duckdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/authz.h"

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void must(duckdb_connection con, const char *sql) {
    duckdb_result r;
    if (duckdb_query(con, sql, &r) == DuckDBError) {
        fprintf(stderr, "%s: %s\n", sql, duckdb_result_error(&r));
        exit(1);
    }
    duckdb_destroy_result(&r);
}

/* mode 0: parse; 1: parse + authorize; 2: parse + authorize + prepare + execute */
static double one(duckdb_connection con, const fm_authz *a, const char *sql, int mode) {
    double t0 = now_ns();
    duckdb_extracted_statements st = NULL;
    idx_t n = duckdb_extract_statements(con, sql, &st);
    for (idx_t i = 0; i < n && mode >= 1; i++) {
        fm_err e;
        if (fm_authz_check_extracted(a, FM_SCOPE_ADMIN, st, i, &e)) {
            fprintf(stderr, "refused: %s\n", e.msg);
            exit(1);
        }
        if (mode == 2) {
            duckdb_prepared_statement p = NULL;
            duckdb_result r;
            if (duckdb_prepare_extracted_statement(con, st, i, &p) == DuckDBError ||
                duckdb_execute_prepared(p, &r) == DuckDBError)
                exit(1);
            duckdb_destroy_result(&r);
            duckdb_destroy_prepare(&p);
        }
    }
    duckdb_destroy_extracted(&st);
    return now_ns() - t0;
}

int main(int argc, char **argv) {
    int iters = argc > 1 ? atoi(argv[1]) : 20000;
    char dir[] = "/tmp/fm-authz-bench-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    duckdb_config dc;
    duckdb_create_config(&dc);
    duckdb_set_config(dc, "extension_directory", FEATHERMAN_EXTENSION_DIR);
    duckdb_set_config(dc, "autoinstall_known_extensions", "false");
    duckdb_set_config(dc, "autoload_known_extensions", "false");
    duckdb_database db;
    duckdb_connection con;
    if (duckdb_open_ext(NULL, &db, dc, NULL) == DuckDBError || duckdb_connect(db, &con) == DuckDBError) return 1;
    duckdb_destroy_config(&dc);
    fm_authz *a = fm_authz_new("lake");
    fm_err e;
    if (fm_authz_snapshot_functions(a, con, &e)) return 1;
    char sql[512];
    snprintf(sql, sizeof sql, "ATTACH 'ducklake:%s/m.ducklake' AS lake (DATA_PATH '%s/data/')", dir, dir);
    must(con, "LOAD ducklake");
    must(con, sql);
    must(con, "USE lake");
    must(con, "CREATE TABLE events (id BIGINT, country VARCHAR, amount DOUBLE, ts TIMESTAMP)");
    if (fm_authz_snapshot_catalogs(a, con, &e)) return 1;
    const char *queries[] = {
        "SELECT 1",
        "SELECT country, count(*) AS n, sum(amount) AS total FROM events GROUP BY country ORDER BY country",
        "WITH a AS (SELECT id, amount FROM events WHERE country IN ('DE', 'FR')) SELECT id, sum(amount) OVER "
        "(PARTITION BY id ORDER BY amount), upper(CAST(id AS VARCHAR)) FROM a JOIN events USING (id) "
        "WHERE EXISTS (SELECT 1 FROM range(3)) LIMIT 10"};
    double *d = malloc(sizeof *d * (size_t)iters);
    printf("authz_cost: %d iterations per figure, ns per request (p50 / p99)\n", iters);
    for (size_t q = 0; q < sizeof queries / sizeof *queries; q++) {
        double p50[3], p99[3];
        for (int mode = 0; mode < 3; mode++) {
            if (mode == 2 && q > 0) break;
            for (int i = 0; i < iters / 10; i++) one(con, a, queries[q], mode); /* warm-up */
            for (int i = 0; i < iters; i++) d[i] = one(con, a, queries[q], mode);
            qsort(d, (size_t)iters, sizeof *d, cmp_d);
            p50[mode] = d[iters / 2];
            p99[mode] = d[iters * 99 / 100];
        }
        printf("query %zu (%.40s...)\n  parse only            %8.0f / %8.0f\n  parse + authorize     %8.0f / %8.0f\n"
               "  authorizer's share    %8.0f (p50 difference)\n",
               q + 1, queries[q], p50[0], p99[0], p50[1], p99[1], p50[1] - p50[0]);
        if (q == 0) printf("  + prepare + execute   %8.0f / %8.0f\n", p50[2], p99[2]);
    }
    free(d);
    fm_authz_free(a);
    duckdb_disconnect(&con);
    duckdb_close(&db);
    return 0;
}
