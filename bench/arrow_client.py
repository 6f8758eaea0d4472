"""bench/arrow_client.py: bulk-result clients for bench/run.sh (run with the test venv's python).

  arrow_client.py http URL SQL      featherman: POST /query format=arrow, streamed with requests into
                                    pyarrow.ipc.open_stream(...).read_all() (token: $FEATHERMAN_TOKEN)
  arrow_client.py duckdb SQL        baseline: DuckDB's Python package builds the same Arrow table
                                    in-process (extensions are not needed for this query)

Prints one line: mode, rows, seconds for the measured part (from sending the request / running the
query to holding the whole pyarrow.Table; imports and interpreter start are outside it — time the
whole process from outside for those), and the table's size in memory. Exit status 1 if the table
is not the expected shape.
"""
import os
import sys
import time

import pyarrow as pa
import pyarrow.ipc as ipc


def via_http(url, sql):
    import requests

    t0 = time.perf_counter()
    with requests.post(url, json={"sql": sql, "format": "arrow"}, stream=True,
                       headers={"Authorization": "Bearer " + os.environ["FEATHERMAN_TOKEN"]}) as r:
        if r.status_code != 200:
            sys.exit(f"HTTP {r.status_code}: {r.text[:500]}")
        table = ipc.open_stream(r.raw).read_all()
    return table, time.perf_counter() - t0


def via_duckdb(sql):
    import duckdb

    t0 = time.perf_counter()
    res = duckdb.sql(sql)
    table = res.to_arrow_table() if hasattr(res, "to_arrow_table") else res.fetch_arrow_table()
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    return table, time.perf_counter() - t0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "http":
        table, secs = via_http(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "duckdb":
        table, secs = via_duckdb(sys.argv[2])
    else:
        sys.exit(__doc__)
    if not isinstance(table, pa.Table) or table.num_columns != 3:
        sys.exit(f"unexpected result: {type(table)} {getattr(table, 'schema', '')}")
    types = ",".join(str(t) for t in table.schema.types)
    print(f"mode={sys.argv[1]} rows={table.num_rows} seconds={secs:.3f} table_mb={table.nbytes / 1e6:.0f} types={types}")


if __name__ == "__main__":
    main()
