"""Names from manifests reach SQL only through the quoting functions: hostile table and column
names create exactly those names, or are refused, and never run as SQL."""
import os

import duckdb

from featherman import start_local
from test_backends import python_duckdb

HOSTILE_TABLE = 'x"; DROP TABLE victim; --'
HOSTILE_COLUMN = "a'b\"c;d"


def test_hostile_names_create_exactly_those_names():
    text = f"""
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeCatalog
metadata: {{name: lake}}
spec: {{metadata: {{type: duckdb}}}}
---
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeTable
metadata: {{name: victim}}
spec: {{catalogRef: lake, name: victim, columns: [{{name: v, type: INTEGER}}]}}
---
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeTable
metadata: {{name: hostile}}
spec:
  catalogRef: lake
  name: '{HOSTILE_TABLE}'
  columns:
    - name: '{HOSTILE_COLUMN.replace("'", "''")}'
      type: VARCHAR
      comment: "'); DROP TABLE victim; --"
"""
    srv = start_local(text)
    try:
        names = [r["table_name"] for r in srv.rows("SELECT table_name FROM duckdb_tables() WHERE database_name = 'lake' "
                                                     "ORDER BY table_name")]
        assert names == sorted(["victim", HOSTILE_TABLE])
        cols = srv.rows("SELECT column_name FROM duckdb_columns() WHERE database_name = 'lake' AND table_name = "
                        "'x\"; DROP TABLE victim; --'")
        assert cols == [{"column_name": HOSTILE_COLUMN}]
        # the metadata file's place in the state directory (duckdb_databases() is not open to queries)
        path = os.path.join(srv.state, "state", "lake", "metadata.ducklake")
        assert os.path.exists(path), path
    finally:
        srv.stop()
    con = python_duckdb()
    con.execute("LOAD ducklake")
    con.execute(f"ATTACH 'ducklake:{path}' AS l (READ_ONLY)")
    assert sorted(r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name='l'").fetchall()) \
        == sorted(["victim", HOSTILE_TABLE])
