"""A short run of the authorizer's differential fuzz target (tests/fuzz/fuzz_authz.c, make
fuzz-authz): whatever the authorizer admits, DuckDB's own statement type and serializer agree
with the allowlist. clang comes from scripts/bootstrap.sh --test."""
import os
import re
import shutil
import subprocess

from services import ROOT


def test_authz_fuzz_short_run():
    assert shutil.which("clang") and shutil.which("clang++"), "clang is missing: run scripts/bootstrap.sh --test"
    p = subprocess.run(["make", "-s", "fuzz-authz", "FUZZ_SECONDS=30"], cwd=ROOT, capture_output=True, text=True,
                       timeout=900, env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-6000:]
    assert "FINDING" not in out, out[-6000:]
    runs = re.search(r"Done (\d+) runs", out)
    assert runs and int(runs.group(1)) > 100, out[-3000:]
