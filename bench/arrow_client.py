"""bench/arrow_client.py: bulk-result clients for bench/run.sh (run with the test venv's python).

  arrow_client.py http URL CATALOG SQL     featherman: POST /query format=arrow, streamed with requests
                                           into pyarrow.ipc.open_stream(...).read_all()
                                           (token: $FEATHERMAN_TOKEN)
  arrow_client.py duckdb STATE CATALOG SQL baseline: DuckDB's Python package attaches the same lake
                                           (SQLite metadata STATE/CATALOG/metadata.sqlite, READ_ONLY,
                                           extensions from $FEATHERMAN_EXTENSION_DIR) and builds the
                                           same Arrow table in-process

Prints one line: mode, rows, seconds for the measured part (from sending the request / running the
query to holding the whole pyarrow.Table; interpreter start, imports and the baseline's ATTACH are
outside it — time the whole process from outside for those), the table's size in memory and its
column types. Exit status 1 on an error or an empty table.
"""
import os
import sys
import time

import pyarrow as pa
import pyarrow.ipc as ipc


def via_http(url, catalog, sql):
    import requests

    t0 = time.perf_counter()
    with requests.post(url, json={"sql": sql, "format": "arrow", "catalog": catalog}, stream=True,
                       headers={"Authorization": "Bearer " + os.environ["FEATHERMAN_TOKEN"]}) as r:
        if r.status_code != 200:
            sys.exit(f"HTTP {r.status_code}: {r.text[:500]}")
        table = ipc.open_stream(r.raw).read_all()
    return table, time.perf_counter() - t0


def via_duckdb(state, catalog, sql):
    import duckdb

    con = duckdb.connect(config={"extension_directory": os.environ["FEATHERMAN_EXTENSION_DIR"],
                                 "autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    con.execute("LOAD ducklake; LOAD sqlite_scanner")
    con.execute(f"ATTACH 'ducklake:sqlite:{state}/{catalog}/metadata.sqlite' AS \"{catalog}\" "
                f"(DATA_PATH '{state}/{catalog}/data/', READ_ONLY)")
    con.execute(f'USE "{catalog}"')
    t0 = time.perf_counter()
    res = con.sql(sql)
    table = res.to_arrow_table() if hasattr(res, "to_arrow_table") else res.fetch_arrow_table()
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    return table, time.perf_counter() - t0


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "http":
        table, secs = via_http(*sys.argv[2:])
    elif len(sys.argv) == 5 and sys.argv[1] == "duckdb":
        table, secs = via_duckdb(*sys.argv[2:])
    else:
        sys.exit(__doc__)
    if not isinstance(table, pa.Table) or table.num_rows == 0:
        sys.exit(f"unexpected result: {type(table)} {getattr(table, 'schema', '')}")
    types = ",".join(str(t) for t in table.schema.types)
    print(f"mode={sys.argv[1]} rows={table.num_rows} seconds={secs:.3f} table_mb={table.nbytes / 1e6:.0f} types={types}")


if __name__ == "__main__":
    main()
