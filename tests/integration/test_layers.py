"""The layer rules (docs/ARCHITECTURE.md) hold for src/, and the checker really refuses a forbidden
edge: each planted include below must make scripts/check-layers.sh fail naming the file."""
import os
import shutil
import subprocess

import pytest

from services import ROOT

CHECK = os.path.join(ROOT, "scripts", "check-layers.sh")


def run(src):
    return subprocess.run(["bash", CHECK, str(src)], capture_output=True, text=True, timeout=120)


def test_the_tree_obeys_the_layers():
    p = run(os.path.join(ROOT, "src"))
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.mark.parametrize("where,line,says", [
    ("gateway/gw_proxy.c", '#include "engine/slots.h"', "gateway may not depend on engine"),
    ("operator/rec_pool.c", '#include "gateway/gw_route.h"', "operator may not depend on gateway"),
    ("gateway/gw_route.c", '#include "operator/pool_scale.h"', "gateway may not depend on operator"),
    ("engine/server.c", '#include "kube/kube_http.h"', "engine may not depend on kube"),
    ("engine/local.c", '#include "k8s/k8s_names.h"', "engine may not depend on k8s"),
    ("base/buf.c", '#include "model/spec.h"', "base may not depend on model"),
    ("kube/informer.c", '#include "model/manifest.h"', "kube may not depend on model"),
    ("model/spec_pool.c", '#  include "http/request.h"', "model may not depend on http"),
    ("operator/operator.c", "#include <duckdb.h>", "only src/engine/ may link DuckDB"),
    ("http/request.c", '#include "engine/engine.h"', "http may not depend on engine"),
    ("engine/sqlparse.cpp", '#include "kube/kube_http.h"', "engine may not depend on kube"),
    ("gateway/gw_route.c", '#include "duckdb/parser/parser.hpp"', "only src/engine/ may link DuckDB"),
])
def test_a_planted_forbidden_include_fails(tmp_path, where, line, says):
    src = tmp_path / "src"
    shutil.copytree(os.path.join(ROOT, "src"), src)
    with open(src / where, "a") as f:
        f.write("\n" + line + "\n")
    p = run(src)
    assert p.returncode == 1, p.stdout
    assert where in p.stdout and says in p.stdout, p.stdout


def test_an_unknown_folder_is_refused(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(os.path.join(ROOT, "src"), src)
    os.makedirs(src / "misc")
    (src / "misc" / "x.c").write_text('#include "base/buf.h"\n')
    p = run(src)
    assert p.returncode == 1 and "misc/x.c" in p.stdout and "not a known layer" in p.stdout, p.stdout


CHECK_ALLOC = os.path.join(ROOT, "scripts", "check-alloc.sh")


def test_the_tree_follows_the_allocation_policy():
    p = subprocess.run(["bash", CHECK_ALLOC, os.path.join(ROOT, "src")], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.mark.parametrize("line,says", [
    ("static void *f(void) { return malloc(4); }", "bare malloc"),
    ("static char *f(const char *s) { return strdup(s); }", "bare strdup"),
    ("static void *f(void *p) { return realloc(p, 8); }", "bare realloc"),
    ("static void f(char **o) { (void)!asprintf(o, \"%d\", 1); }", "bare asprintf"),
])
def test_a_planted_bare_allocation_fails(tmp_path, line, says):
    src = tmp_path / "src"
    shutil.copytree(os.path.join(ROOT, "src"), src)
    with open(src / "base" / "cron.c", "a") as f:
        f.write("\n/* malloc( in a comment and \"strdup(\" in a string are not calls */\n" + line + "\n")
    p = subprocess.run(["bash", CHECK_ALLOC, str(src)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 1, p.stdout
    lines = [l for l in p.stdout.splitlines() if l.startswith("check-alloc: base/cron.c:")]
    assert len(lines) == 1 and says in lines[0], p.stdout
