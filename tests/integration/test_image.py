"""The container image, built for real from the Dockerfile by scripts/image.sh (a base made from
Debian's packages, podman, no registry), then run the way a cluster runs it: as user 65532, with a
read-only root filesystem, no capabilities and no privilege escalation. `featherman --version` and
`featherman local` on examples/local answer inside it; the saved tarball carries the name the
shipped manifests use; no path of the host or of the build stage is baked into the binaries."""
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time

import pytest
import requests

from services import ROOT, free_port

VERSION = open(os.path.join(ROOT, "VERSION")).read().strip()
CONF = os.path.join(ROOT, "build", "image", "containers.conf")
LIBDIR = "usr/local/lib/featherman"


def image_sh(*args, timeout=3600):
    return subprocess.run(["nice", os.path.join(ROOT, "scripts", "image.sh"), *args], capture_output=True,
                          text=True, timeout=timeout)


def podman(*args, check=True, timeout=300):
    p = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, CONTAINERS_CONF=CONF))
    if check and p.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p


@pytest.fixture(scope="module")
def built():
    p = image_sh()
    assert p.returncode == 0, p.stdout + p.stderr
    out = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
    out["log"] = p.stderr
    return out


def test_the_build_context_is_only_what_the_build_reads(built, tmp_path):
    # The same context and .dockerignore as the real build, copied whole into a throw-away image.
    (tmp_path / "Containerfile").write_text(f"FROM {built['BASE']}\nCOPY . /ctx\n")
    tag = f"localhost/featherman-context-test:{os.getpid()}"
    planted = os.path.join(ROOT, "build", "planted-by-test_image")
    open(planted, "w").close()
    try:
        podman("build", "--layers=false", "-q", "-t", tag, "-f", str(tmp_path / "Containerfile"), ROOT)
        files = podman("run", "--rm", "--entrypoint", "find", tag, "/ctx", "-type", "f").stdout.split()
    finally:
        os.unlink(planted)
        podman("rmi", "-f", tag, check=False)
    top = {f.split("/")[2] for f in files}
    assert top == {"Makefile", "VERSION", "deps", "scripts", "src"}, sorted(top)
    assert sorted(f for f in files if f.startswith(("/ctx/deps/", "/ctx/scripts/"))) == \
        ["/ctx/deps/pins.tsv", "/ctx/scripts/bootstrap.sh"]
    assert len([f for f in files if f.startswith("/ctx/src/") and f.endswith(".c")]) > 20


# Every container runs under the restrictions the shipped manifests' securityContext applies.
LOCKED = ["--read-only", "--user", "65532:65532", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]


def test_version_runs_as_non_root_on_a_read_only_root(built):
    p = podman("run", "--rm", *LOCKED, built["ID"], "--version")
    assert p.stdout.strip() == f"featherman {VERSION}"


def test_the_image_defaults_to_non_root_and_the_binary(built):
    cfg = json.loads(podman("image", "inspect", built["ID"]).stdout)[0]["Config"]
    assert cfg["User"] == "65532:65532"
    assert cfg["Entrypoint"] == ["/usr/local/bin/featherman"]
    assert "HOME=/tmp" in cfg["Env"]


def image_files(tarball, wanted):
    """Reads files of the image's root filesystem from the docker-archive, later layers winning."""
    found = {}
    with tarfile.open(tarball) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))
        for layer in manifest[0]["Layers"]:
            with tarfile.open(fileobj=outer.extractfile(layer)) as inner:
                for m in inner.getmembers():
                    name = m.name.lstrip("./")
                    if wanted(name):
                        found[name] = inner.extractfile(m).read() if m.isfile() else m
    return manifest, found


def test_the_tarball_is_named_as_the_manifests_and_bakes_only_image_paths(built, tmp_path):
    manifest, files = image_files(built["TARBALL"], lambda n: n.startswith(LIBDIR + "/") or n == "usr/local/bin/featherman")
    assert manifest[0]["RepoTags"] == [f"docker.io/library/featherman:{VERSION}"]
    assert manifest[0]["Config"].split("/")[-1].replace(".json", "") == built["ID"]
    assert files["usr/local/bin/featherman"].issym()
    assert files["usr/local/bin/featherman"].linkname == "/usr/local/lib/featherman/featherman"
    exts = sorted(n.split("/")[-1] for n in files if n.endswith(".duckdb_extension"))
    assert exts == ["ducklake.duckdb_extension", "httpfs.duckdb_extension", "postgres_scanner.duckdb_extension",
                    "sqlite_scanner.duckdb_extension"]
    assert all(f"/extensions/v1.5.5/linux_amd64/" in n for n in files if n.endswith(".duckdb_extension"))

    engine = files[LIBDIR + "/libfeatherman-engine.so"]
    (tmp_path / "engine.so").write_bytes(engine)
    dyn = subprocess.run(["readelf", "-d", str(tmp_path / "engine.so")], capture_output=True, text=True, check=True).stdout
    assert re.search(r"RUNPATH\)\s+Library runpath: \[/usr/local/lib/featherman\]", dyn), dyn
    assert b"/usr/local/lib/featherman/extensions\0" in engine
    cache = os.path.realpath(os.environ.get("FEATHERMAN_CACHE", os.path.expanduser("~/.cache/featherman")))
    for name in ("featherman", "libfeatherman-engine.so"):
        strings = re.findall(rb"[\x20-\x7e]{4,}", files[f"{LIBDIR}/{name}"])
        bad = [s for s in strings if re.match(rb"/(root|home|work|opt|src)/", s)
               or ROOT.encode() in s or cache.encode() in s]
        assert bad == [], f"{name} names build or host paths: {bad[:10]}"


def test_the_tarball_loads_as_the_same_image_into_an_empty_store(built):
    # A store of its own, as on another machine (loading into the build's store would also rewrite
    # the records the layer cache relies on). vfs: nothing to unmount before it is removed; short
    # paths: podman refuses a long runroot.
    d = tempfile.mkdtemp(prefix="fm-img-")
    store = ["--storage-driver", "vfs", "--root", os.path.join(d, "root"), "--runroot", os.path.join(d, "run")]
    try:
        p = podman(*store, "load", "-i", built["TARBALL"])
        assert f"Loaded image: docker.io/library/featherman:{VERSION}" in p.stdout + p.stderr
        loaded = podman(*store, "image", "inspect", "--format", "{{.Id}}", f"featherman:{VERSION}")
        assert loaded.stdout.strip() == built["ID"]
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_featherman_local_answers_inside_the_locked_down_container(built, tmp_path):
    port, token, name = free_port(), "image-smoke-token", f"fm-image-test-{os.getpid()}"
    examples = os.path.join(ROOT, "examples")
    podman("run", "-d", "--name", name, *LOCKED, "-e", f"FEATHERMAN_TOKEN={token}",
           "-p", f"127.0.0.1:{port}:8080", "-v", f"{examples}:/examples:ro",
           built["ID"], "local", "--manifests", "/examples/local", "--listen", "0.0.0.0:8080")
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 120
        while True:
            try:
                if requests.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            state = podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
            assert state == "running", f"container {state}:\n" + podman("logs", name).stderr
            assert time.time() < deadline, "not ready:\n" + podman("logs", name).stderr
            time.sleep(0.1)

        def curl(*args):
            return subprocess.run(["curl", "-sS", "--fail-with-body", url + "/query",
                                   "-H", f"Authorization: Bearer {token}", *args],
                                  capture_output=True, text=True, timeout=60, check=True).stdout

        assert curl("--data-binary", "@" + os.path.join(examples, "sample-data.json")) == "Count\n5\n"
        rows = curl("-d", '{"sql": "SELECT * FROM users ORDER BY id"}')
        assert rows == ("id,name,country,created_at\n"
                        "1,Ada,GB,2024-01-05 09:00:00\n"
                        "2,Grace,US,2024-02-11 14:30:00\n"
                        "3,Edsger,NL,2024-03-20 08:15:00\n"
                        "4,Barbara,US,2024-04-02 17:45:00\n"
                        "5,Hedy,AT,2024-05-09 11:20:00\n")
        status = requests.get(url + "/status", headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
        assert status["sandboxed"] is True and status["version"] == VERSION
        podman("stop", "-t", "30", name)
        assert podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip() == "0", \
            podman("logs", name).stderr
    finally:
        podman("rm", "-f", name, check=False)


def test_a_warm_run_reuses_the_base_the_layers_and_the_tarball(built):
    p = image_sh(timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert ": cached" in p.stderr and ": up to date" in p.stderr, p.stderr
    assert "ID=" + built["ID"] in p.stdout.splitlines()


def test_an_unknown_argument_is_refused():
    p = image_sh("--push")
    assert p.returncode == 1
    assert "unknown argument '--push'" in p.stderr


def test_a_missing_tool_is_named(tmp_path):
    for tool in ("dirname", "cat"):
        os.symlink(shutil.which(tool), tmp_path / tool)
    p = subprocess.run([shutil.which("bash"), os.path.join(ROOT, "scripts", "image.sh")], capture_output=True,
                       text=True, timeout=60, env={"PATH": str(tmp_path), "HOME": os.environ["HOME"]})
    assert p.returncode == 1
    assert "podman is not installed (scripts/bootstrap.sh --test installs it)" in p.stderr
