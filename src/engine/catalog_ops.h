/* The one layer of catalog operations (fm_catalog_*): `featherman worker job <op>` runs one of them
 * in a Kubernetes Job; `featherman local` runs the same functions in-process. Each works on an
 * engine opened for the catalog (engine.h) and reports what it found as JSON (the Job's
 * termination message, the operator's source of status for catalogs it cannot open itself).
 *   init         list the data prefix once (a dead endpoint or refused credentials fail here with
 *                FM_E_UNAVAILABLE and a message starting "objectStore: "), set the catalog options
 *                from the spec (data inlining row limit) and report the engine version, DuckLake
 *                format version, snapshot id, data path and tables.
 *   apply_table  create the table from its spec, or ALTER it to match (ddl.h); a change DuckLake
 *                cannot make is refused (FM_E_REFUSED) and nothing changes. Sets the table's
 *                parquet_compression option. Reports applied columns, snapshot id, rows, files,
 *                bytes.
 *   materialize  runs the spec's SQL (one SELECT, checked by the SQL guard, on a locked-down
 *                connection) into Parquet at dest_uri: <dest>/<table>.parquet when overwriting,
 *                <dest>/<table>-<UTC time>.parquet when appending. Reports rows, files, location.
 *   drop_table   DROP TABLE (deletionPolicy delete of a DuckLakeTable); its files are removed by
 *                the catalog's cleanup.
 *   destroy      drop every table, expire every snapshot and delete every data file under the
 *                catalog's data path (deletionPolicy delete of a DuckLakeCatalog). The metadata
 *                store itself goes with its volume, or stays in Postgres. */
#ifndef FM_CATALOG_OPS_H
#define FM_CATALOG_OPS_H
#include <jansson.h>

#include "engine/engine.h"
#include "base/err.h"
#include "model/spec.h"

int fm_catalog_init(fm_engine *e, const fm_catalog_spec *c, json_t **report, fm_err *err);
int fm_catalog_apply_table(fm_engine *e, const fm_table_spec *t, json_t **report, fm_err *err);
int fm_catalog_table_report(fm_engine *e, const char *table, json_t **report, fm_err *err);
/* con: a locked-down connection of e (user SQL runs here) */
int fm_catalog_materialize(fm_engine *e, duckdb_connection con, const fm_table_spec *t, const char *dest_uri, json_t **report,
                      fm_err *err);
/* the materialization destination of a table: s3://bucket/prefix/ or <state_dir>/exports/<table>/ */
char *fm_catalog_materialize_dest(const fm_table_spec *t, const char *state_dir);
int fm_catalog_drop_table(fm_engine *e, const char *table, json_t **report, fm_err *err);
int fm_catalog_destroy(fm_engine *e, json_t **report, fm_err *err);
#endif
