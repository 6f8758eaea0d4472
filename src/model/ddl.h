/* Table DDL from a table spec, and the plan that turns an existing table into the spec.
 * All names go through fm_sql_ident, types are the canonical ones from the grammar. `qualified`
 * is the already-quoted "catalog"."table" (or "catalog"."schema"."table") the caller built.
 *
 * fm_ddl_create: CREATE TABLE IF NOT EXISTS <qualified> (<col> <type> [NOT NULL], ...);
 *   followed, when the spec partitions, by ALTER TABLE <qualified> SET PARTITIONED BY (...);
 *   and one COMMENT ON COLUMN per column comment. Statements are separated by ";\n".
 * fm_ddl_plan: given the table's current columns (name, canonical type, nullable) in order,
 *   appends the ALTER statements that make it match the spec, in this order: RENAME COLUMN for a
 *   spec column whose renamedFrom names a current column (and whose own name is not current);
 *   ADD COLUMN for new names (nullable only, existing rows have no value); SET DATA TYPE where
 *   fm_type_widening_ok allows; SET/DROP NOT NULL; SET PARTITIONED BY (or RESET PARTITIONED BY)
 *   before any drop, so a dropped column is no longer a key, when `current_partition` — the clause text
 *   fm_ddl_partition_clause would print for the table as it is, or NULL when unpartitioned —
 *   differs; last DROP COLUMN for current names no longer in the spec (DuckLake keeps them in
 *   older snapshots). Any change DuckLake cannot make (narrowing, a type change that is not a widening,
 *   a spec that would leave no column, renamedFrom naming no current column while the new name
 *   is absent too is fine: it is an ADD) is refused with FM_E_REFUSED and a message naming the
 *   column and both types; on refusal nothing is appended. An empty plan appends nothing.
 * fm_ddl_partition_clause: "(col, year(col), bucket(8, col))" for SET PARTITIONED BY. */
#ifndef FM_DDL_H
#define FM_DDL_H
#include <stdbool.h>

#include "base/buf.h"
#include "base/err.h"
#include "model/spec.h"

typedef struct {
    const char *name;
    const char *type; /* canonical */
    bool nullable;
} fm_current_column;

int fm_ddl_create(fm_buf *sql, const char *qualified, const fm_table_spec *t, fm_err *err);
int fm_ddl_plan(fm_buf *sql, const char *qualified, const fm_table_spec *t, const fm_current_column *cur,
                size_t ncur, const char *current_partition, fm_err *err);
int fm_ddl_partition_clause(fm_buf *out, const fm_table_spec *t, fm_err *err);

#endif
