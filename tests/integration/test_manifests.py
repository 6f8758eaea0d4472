"""`featherman local` refuses bad manifests before it changes anything, with messages that name
the file and the field; a missing Secret or a dead S3 is a clear start-up error. Bad flags are
refused naming the flag; path options are absolute, and a lake whose stored data path is not is
repaired or explained."""
import glob
import os
import sqlite3
import subprocess
import tempfile

import duckdb
import pytest

from featherman import Server, binary, env, run_local_expect_failure, write_manifests
from services import free_port

EXT = os.environ.get("FEATHERMAN_EXTENSION_DIR", os.path.expanduser("~/.cache/featherman/duckdb-1.5.5/extensions"))

CATALOG = """
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeCatalog
metadata: {name: lake}
spec: {metadata: {type: sqlite}}
"""


def table(columns, partitioning=None):
    part = f"\n  format: {{partitioning: {partitioning}}}" if partitioning else ""
    return CATALOG + f"""---
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeTable
metadata: {{name: users}}
spec:
  catalogRef: lake
  name: users
  columns: {columns}{part}
"""


@pytest.mark.parametrize("text,needles", [
    (table("[{name: id, type: INTEGR}]"), ["lake.yaml", "spec.columns[0].type", "INTEGR"]),
    (table("[{name: id, type: 'INTEGER); DROP TABLE x; --'}]"), ["lake.yaml", "spec.columns[0].type"]),
    (table("[{name: id, type: INTEGER}, {name: name, type: VARCHAR}]", '["created_at"]'),
     ["spec.format.partitioning[0]", "created_at", "is not a declared column"]),
    (CATALOG + "---\nkind: [unclosed\n", ["lake.yaml"]),
    (CATALOG + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", ["ConfigMap"]),
    (table("[{name: id, type: INTEGER}]").replace("catalogRef: lake", "catalogRef: nope"), ["nope"]),
    (CATALOG.replace("type: sqlite", "type: oracle"), ["spec.metadata.type", "oracle"]),
])
def test_invalid_manifests_are_refused_with_a_clear_message(text, needles):
    code, out = run_local_expect_failure(text)
    assert code != 0
    for n in needles:
        assert n in out, (n, out)


def test_missing_secret_is_named():
    code, out = run_local_expect_failure("""
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeCatalog
metadata: {name: lake}
spec:
  metadata: {type: sqlite}
  objectStore: {endpoint: '127.0.0.1:9', bucket: bkt, useSSL: false, credentialsSecret: {name: s3-creds}}
""")
    assert code != 0 and "s3-creds" in out, out


def test_unreachable_s3_fails_the_start_clearly():
    port = free_port()   # nothing listens there
    code, out = run_local_expect_failure(f"""
apiVersion: v1
kind: Secret
metadata: {{name: s3-creds}}
stringData: {{AWS_ACCESS_KEY_ID: k, AWS_SECRET_ACCESS_KEY: s3-secret-value}}
---
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeCatalog
metadata: {{name: lake}}
spec:
  metadata: {{type: sqlite}}
  dataInliningRowLimit: 0
  objectStore: {{endpoint: '127.0.0.1:{port}', bucket: bkt, useSSL: false, credentialsSecret: {{name: s3-creds}}}}
---
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeTable
metadata: {{name: t}}
spec: {{catalogRef: lake, name: t, columns: [{{name: x, type: INTEGER}}]}}
""", timeout=180)
    assert code != 0
    assert "lake" in out
    assert "s3-secret-value" not in out


# --- options and paths ---------------------------------------------------------------------------
# Path options are made absolute when they are read: the data path DuckLake stores at creation is
# derived from --state, and a relative one meant something else from every other directory.

SQLITE_LAKE = CATALOG + """---
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeTable
metadata: {name: t}
spec: {catalogRef: lake, name: t, columns: [{name: x, type: INTEGER}]}
"""


@pytest.mark.parametrize("args,flag", [
    (["local", "--manifests", "m", "--slots", "4x"], "--slots"),
    (["local", "--manifests", "m", "--slots", "0"], "--slots"),
    (["local", "--manifests", "m", "--threads", "-1"], "--threads"),
    (["local", "--manifests", "m", "--memory-limit", "lots"], "--memory-limit"),
    (["local", "--manifests", "m", "--listen", "8080"], "--listen"),
    (["local", "--manifests", "m", "--state"], "--state"),
    (["local", "--manifests", "m", "--sluts", "4"], "--sluts"),
    (["local"], "--manifests"),
    (["worker", "serve", "--slots", "0"], "--slots"),
    (["worker", "serve", "--threads", "two"], "--threads"),
    (["worker", "job", "init", "--memory-limit", "1M"], "--memory-limit"),
    (["worker", "job", "vacuum"], "vacuum"),
])
def test_bad_flags_are_refused_naming_the_flag(tmp_path, args, flag):
    p = subprocess.run([binary()] + args, capture_output=True, text=True, timeout=60, cwd=tmp_path,
                       env=env(FEATHERMAN_TOKEN="t"))
    assert p.returncode == 2, p.stdout + p.stderr
    first = p.stderr.splitlines()[0]
    assert first.startswith("featherman ") and flag in first, p.stderr
    assert not os.listdir(tmp_path), "a refused start created files"


def start_in(cwd, monkeypatch, args, manifests_text=SQLITE_LAKE, expect_ready=True):
    """featherman local started from directory cwd with the given --manifests/--state arguments"""
    monkeypatch.chdir(cwd)
    port = free_port()
    logs = tempfile.mkdtemp(prefix="fm-logs-")
    return Server(["local"] + args + ["--listen", f"127.0.0.1:{port}"], "tok-0123456789", port, logs,
                  extra_env={"FEATHERMAN_TOKEN": "tok-0123456789"}, expect_ready=expect_ready)


def test_relative_state_then_absolute_path_from_another_directory(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    write_manifests(str(a / "m"), SQLITE_LAKE)
    srv = start_in(a, monkeypatch, ["--manifests", "m", "--state", "st"])
    assert srv.query("INSERT INTO t VALUES (1), (2), (3)").status_code == 200
    srv.stop()
    # the same relative flags from another directory would be another lake; the absolute path is this one
    srv = start_in(b, monkeypatch, ["--manifests", str(a / "m"), "--state", str(a / "st")])
    assert srv.rows("SELECT sum(x) AS s FROM t") == [{"s": 6}]
    logs = srv.stop()
    assert f"data {a}/st/lake/data/" in logs
    srv = start_in(a / "st", monkeypatch, ["--manifests", "../m", "--state", "."])   # another spelling
    assert srv.rows("SELECT count(*) AS n FROM t") == [{"n": 3}]
    srv.stop()


def python_duckdb():
    con = duckdb.connect(config={"extension_directory": EXT, "autoinstall_known_extensions": "false",
                                 "autoload_known_extensions": "false"})
    con.execute("LOAD ducklake")
    con.execute("LOAD sqlite")
    return con


def make_old_lake(root, monkeypatch, meta="sqlite", metadata="st/lake/metadata.sqlite"):
    """A lake as `featherman local --state st` made it before paths were made absolute: DuckLake's
    stored data path is "st/lake/data/", relative to the directory it was started from. Written by
    DuckDB's own Python package and the same DuckLake extension; rows in Parquet files."""
    monkeypatch.chdir(root)
    os.makedirs("st/lake/data")
    os.makedirs(os.path.dirname(metadata), exist_ok=True)
    con = python_duckdb()
    target = f"sqlite:{metadata}" if meta == "sqlite" else metadata
    con.execute(f"ATTACH 'ducklake:{target}' AS lake (DATA_PATH 'st/lake/data/')")
    con.execute("CALL lake.set_option('data_inlining_row_limit', 0)")
    con.execute("CREATE TABLE lake.t (x INTEGER)")
    con.execute("INSERT INTO lake.t VALUES (10), (20)")
    con.close()
    assert glob.glob("st/lake/data/**/*.parquet", recursive=True)


def stored_data_path(metadata_file, meta="sqlite"):
    con = python_duckdb()
    kind = "TYPE sqlite, " if meta == "sqlite" else ""
    con.execute(f"ATTACH '{metadata_file}' AS m ({kind}READ_ONLY)")
    (v,) = con.execute("SELECT value FROM m.ducklake_metadata WHERE key = 'data_path'").fetchone()
    con.close()
    return v


@pytest.mark.parametrize("meta,ext", [("sqlite", "sqlite"), ("duckdb", "ducklake")])
def test_lake_with_a_relative_stored_data_path_is_repaired(tmp_path, monkeypatch, meta, ext):
    old, elsewhere = tmp_path / "old", tmp_path / "elsewhere"
    old.mkdir()
    elsewhere.mkdir()
    make_old_lake(old, monkeypatch, meta, f"st/lake/metadata.{ext}")
    write_manifests(str(old / "m"), SQLITE_LAKE.replace("type: sqlite", f"type: {meta}"))
    srv = start_in(elsewhere, monkeypatch, ["--manifests", str(old / "m"), "--state", str(old / "st")])
    assert srv.rows("SELECT sum(x) AS s FROM t") == [{"s": 30}]
    assert srv.query("INSERT INTO t VALUES (5)").status_code == 200
    logs = srv.stop()
    assert '\\"st/lake/data/\\" (relative, from an older featherman)' in logs, logs
    assert stored_data_path(old / f"st/lake/metadata.{ext}", meta) == f"{old}/st/lake/data/"
    # repaired once: the next start, from the lake's own directory with the relative flag, needs nothing
    srv = start_in(old, monkeypatch, ["--manifests", "m", "--state", "st"])
    assert srv.rows("SELECT sum(x) AS s FROM t") == [{"s": 35}]
    assert "older featherman" not in srv.stop()


def test_relative_stored_data_path_it_cannot_place_is_explained(tmp_path, monkeypatch):
    # the metadata file is not in its default place beside the data: what the relative path meant
    # is not knowable, so nothing is changed and the message says what to do
    old = tmp_path / "old"
    old.mkdir()
    make_old_lake(old, monkeypatch, "sqlite", "meta/lake.sqlite")
    text = SQLITE_LAKE.replace("spec: {metadata: {type: sqlite}}",
                               f"spec: {{metadata: {{type: sqlite, path: '{old}/meta/lake.sqlite'}}}}")
    write_manifests(str(old / "m"), text)
    srv = start_in(tmp_path, monkeypatch, ["--manifests", str(old / "m"), "--state", str(old / "st")],
                   expect_ready=False)
    assert srv.proc.wait(120) == 1
    out = srv.stop(check=False)
    assert 'relative data path \\"st/lake/data/\\"' in out, out
    assert "UPDATE ducklake_metadata SET value" in out and f"{old}/st/lake/data/" in out
    assert "OVERRIDE_DATA_PATH" not in out
    assert stored_data_path(old / "meta/lake.sqlite") == "st/lake/data/"


def test_moved_state_directory_is_explained_and_a_symlinked_one_repaired(tmp_path, monkeypatch):
    write_manifests(str(tmp_path / "m"), SQLITE_LAKE)
    real, link = tmp_path / "real", tmp_path / "link"
    real.mkdir()
    link.symlink_to(real)
    srv = start_in(tmp_path, monkeypatch, ["--manifests", "m", "--state", "link"])
    assert srv.query("INSERT INTO t VALUES (7)").status_code == 200
    srv.stop()
    # the same directory by its other name: the stored spelling is updated
    srv = start_in(tmp_path, monkeypatch, ["--manifests", "m", "--state", "real"])
    assert srv.rows("SELECT x FROM t") == [{"x": 7}]
    assert "(the same directory)" in srv.stop()
    # moved: the old place is gone, and which data is meant is the user's call
    os.rename(real, tmp_path / "moved")
    srv = start_in(tmp_path, monkeypatch, ["--manifests", "m", "--state", "moved"], expect_ready=False)
    assert srv.proc.wait(120) == 1
    out = srv.stop(check=False)
    assert f'created with its data at \\"{real}/lake/data/\\"' in out, out
    assert f"{tmp_path}/moved/lake/data/" in out and "--state it was created with" in out


def test_failed_repair_of_the_stored_data_path_is_an_error(tmp_path, monkeypatch):
    # a metadata store that refuses the update (here a SQLite trigger): the start stops, naming
    # the file and the store's own reason, and the stored value is what it was
    old = tmp_path / "old"
    old.mkdir()
    make_old_lake(old, monkeypatch)
    db = sqlite3.connect(old / "st/lake/metadata.sqlite")
    db.execute("CREATE TRIGGER frozen BEFORE UPDATE ON ducklake_metadata BEGIN SELECT RAISE(ABORT, 'store is frozen'); END")
    db.commit()
    db.close()
    write_manifests(str(old / "m"), SQLITE_LAKE)
    srv = start_in(tmp_path, monkeypatch, ["--manifests", str(old / "m"), "--state", str(old / "st")],
                   expect_ready=False)
    assert srv.proc.wait(120) == 1
    out = srv.stop(check=False)
    assert f"cannot update the stored data path in {old}/st/lake/metadata.sqlite" in out and "store is frozen" in out, out
    assert stored_data_path(old / "st/lake/metadata.sqlite") == "st/lake/data/"
