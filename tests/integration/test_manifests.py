"""`featherman local` refuses bad manifests before it changes anything, with messages that name
the file and the field; a missing Secret or a dead S3 is a clear start-up error."""
import pytest

from featherman import run_local_expect_failure
from services import free_port

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
