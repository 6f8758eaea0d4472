/* Query slots on a real in-memory DuckDB: each release replaces the request's connection, a slot
 * whose fresh connection cannot be opened leaves service, and COMMIT and the watchdog never both
 * win. */
#include <duckdb.h>
#include <stdlib.h>

#include "engine/slots.h"
#include "unit.h"

typedef struct {
    duckdb_database db;
    int fail; /* the next connects fail */
    int calls;
} factory;

static int connect_fn(void *ud, duckdb_connection *out) {
    factory *f = ud;
    f->calls++;
    if (f->fail) return -1;
    return duckdb_connect(f->db, out) == DuckDBError ? -1 : 0;
}

static int ok(duckdb_connection con, const char *sql) {
    duckdb_result r;
    int rc = duckdb_query(con, sql, &r) == DuckDBSuccess;
    duckdb_destroy_result(&r);
    return rc;
}

static int setup(factory *f, fm_slots *s, int n) {
    memset(f, 0, sizeof *f);
    if (duckdb_open(NULL, &f->db) == DuckDBError) return -1;
    duckdb_connection cons[4];
    for (int i = 0; i < n; i++)
        if (connect_fn(f, &cons[i])) return -1;
    fm_slots_init(s, cons, n, 0, 0);
    fm_slots_set_connect(s, connect_fn, f);
    return 0;
}

FM_TEST(slots_release_gives_the_next_request_a_fresh_connection) {
    factory f;
    fm_slots s;
    CHECK(!setup(&f, &s, 1));
    fm_err err;
    fm_err_clear(&err);
    int i = fm_slots_acquire(&s, 0, NULL, NULL, &err);
    CHECK(i == 0);
    duckdb_connection first = s.slot[0].con;
    CHECK(ok(first, "CREATE TEMP TABLE leftover AS SELECT 1 AS x"));
    CHECK(ok(first, "SET VARIABLE v = 42"));
    CHECK(ok(first, "BEGIN TRANSACTION"));
    fm_slots_release(&s, i, 1);
    i = fm_slots_acquire(&s, 0, NULL, NULL, &err);
    CHECK(i == 0);
    CHECK(s.slot[0].con != NULL);
    CHECK(!ok(s.slot[0].con, "SELECT * FROM leftover"));
    CHECK(ok(s.slot[0].con, "BEGIN TRANSACTION")); /* no transaction was left open */
    duckdb_result r;
    CHECK(duckdb_query(s.slot[0].con, "SELECT getvariable('v') IS NULL", &r) == DuckDBSuccess);
    CHECK(duckdb_value_boolean(&r, 0, 0));
    duckdb_destroy_result(&r);
    fm_slots_release(&s, i, 1);
    CHECK(f.calls == 2); /* renewed when next taken */
    /* a clean read keeps its connection */
    i = fm_slots_acquire(&s, 0, NULL, NULL, &err);
    duckdb_connection kept = s.slot[i].con;
    fm_slots_release(&s, i, 0);
    CHECK(s.slot[i].con == kept && f.calls == 3);
    i = fm_slots_acquire(&s, 0, NULL, NULL, &err);
    CHECK(s.slot[i].con == kept && f.calls == 3);
    fm_slots_release(&s, i, 0);
    fm_slots_destroy(&s);
    duckdb_close(&f.db);
}

FM_TEST(slots_a_slot_without_a_fresh_connection_leaves_service) {
    factory f;
    fm_slots s;
    CHECK(!setup(&f, &s, 2));
    fm_err err;
    fm_err_clear(&err);
    int i = fm_slots_acquire(&s, 0, NULL, NULL, &err);
    f.fail = 1;
    fm_slots_release(&s, i, 1);
    fm_err_clear(&err);
    CHECK(fm_slots_acquire(&s, 0, NULL, NULL, &err) < 0); /* the first free slot is i: it cannot be renewed */
    CHECK(err.code == FM_E_UNAVAILABLE);
    CHECK(s.nbroken == 1);
    CHECK(s.slot[i].con == NULL);
    f.fail = 0;
    int j = fm_slots_acquire(&s, 0, NULL, NULL, &err);
    CHECK(j >= 0 && j != i);
    fm_err_clear(&err);
    CHECK(fm_slots_acquire(&s, 0, NULL, NULL, &err) < 0); /* the broken one is never handed out */
    CHECK(err.code == FM_E_BUSY);
    fm_slots_release(&s, j, 1);
    fm_slots_destroy(&s);
    duckdb_close(&f.db);
}

FM_TEST(slots_commit_and_the_watchdog_never_both_win) {
    factory f;
    fm_slots s;
    CHECK(!setup(&f, &s, 1));
    fm_err err;
    fm_err_clear(&err);
    /* past its deadline, but COMMIT came first: the watchdog leaves it alone */
    int i = fm_slots_acquire(&s, 1, NULL, NULL, &err);
    CHECK(fm_slot_begin_commit(&s.slot[i].state) == 0);
    fm_slots_watch(&s, 1000);
    CHECK(atomic_load(&s.slot[i].state) == FM_SLOT_COMMITTING);
    fm_slots_release(&s, i, 1);
    /* the watchdog came first: the run must not commit */
    i = fm_slots_acquire(&s, 1, NULL, NULL, &err);
    fm_slots_watch(&s, 1000);
    CHECK(atomic_load(&s.slot[i].state) == FM_SLOT_TIMED_OUT);
    CHECK(fm_slot_begin_commit(&s.slot[i].state) == -1);
    fm_slots_release(&s, i, 1);
    fm_slots_destroy(&s);
    duckdb_close(&f.db);
}
