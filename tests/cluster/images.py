#!/usr/bin/env python3
"""Container images the kubelet test cluster needs besides featherman's own, made here without a
registry or a container builder: each is a docker-archive (what `ctr images import`, `docker load`
and `kind load image-archive` read) assembled from files with the standard library only.

    images.py pause     build (once) and print the path of the pause image's tarball

The pause image is `FROM scratch` plus one static binary compiled from images/pause.c; the
tarball is cached in $FEATHERMAN_CACHE/test-images/ under a key of everything that shapes it (the
source, this script, the compiler's version), so a warm call only prints the path. Layers are
written deterministically (mtime 0, owner 0:0), so the same inputs give the same image ID."""
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("FEATHERMAN_CACHE", os.path.expanduser("~/.cache/featherman"))
PAUSE_IMAGE = "featherman.test/pause:1"


def log(msg):
    print(f"images: {msg}", file=sys.stderr, flush=True)


def _tar_bytes(files):
    """files: [(path in the image, bytes, mode)] -> an uncompressed tar of them, deterministic."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        dirs = set()
        for name, _, _ in files:
            parts = name.strip("/").split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        for d in sorted(dirs):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 0
            t.addfile(ti)
        for name, data, mode in sorted(files):
            ti = tarfile.TarInfo(name.strip("/"))
            ti.size, ti.mode, ti.mtime = len(data), mode, 0
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def docker_archive(out, repo_tag, files, config):
    """Writes a one-layer docker-archive: files as the layer, config (the image config's
    `config` object: Entrypoint, User, Env...) for amd64/linux, named repo_tag. Returns the image ID."""
    layer = _tar_bytes(files)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    image_config = {"architecture": "amd64", "os": "linux", "config": config, "created": "1970-01-01T00:00:00Z",
                    "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                    "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "tests/cluster/images.py"}]}
    cfg = json.dumps(image_config, sort_keys=True, separators=(",", ":")).encode()
    image_id = hashlib.sha256(cfg).hexdigest()
    layer_dir = diff_id.split(":")[1]
    manifest = json.dumps([{"Config": f"{image_id}.json", "RepoTags": [repo_tag],
                            "Layers": [f"{layer_dir}/layer.tar"]}]).encode()
    repo, _, tag = repo_tag.rpartition(":")
    repositories = json.dumps({repo: {tag: layer_dir}}).encode()
    tmp = out + ".part"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as t:
        for name, data in ((f"{image_id}.json", cfg), (f"{layer_dir}/layer.tar", layer),
                           ("manifest.json", manifest), ("repositories", repositories)):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
            t.addfile(ti, io.BytesIO(data))
    os.replace(tmp, out)
    return image_id


def pause_tarball():
    """The pause image's tarball, built once per key. Returns its path."""
    src = os.path.join(HERE, "images", "pause.c")
    cc = os.environ.get("CC", "gcc")
    ccver = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    h = hashlib.sha256()
    for f in (src, os.path.abspath(__file__)):
        with open(f, "rb") as fh:
            h.update(fh.read())
    h.update(ccver.encode())
    out_dir = os.path.join(CACHE, "test-images")
    out = os.path.join(out_dir, f"pause-{h.hexdigest()[:12]}.tar")
    if os.path.exists(out):
        return out
    os.makedirs(out_dir, exist_ok=True)
    binary = out + ".bin"
    p = subprocess.run([cc, "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror", "-Os", "-static",
                        "-s", "-o", binary, src], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"compiling {src} failed (a static build needs libc6-dev):\n{p.stderr}")
    with open(binary, "rb") as f:
        data = f.read()
    os.unlink(binary)
    docker_archive(out, PAUSE_IMAGE, [("pause", data, 0o755)],
                   {"Entrypoint": ["/pause"], "User": "65535:65535", "WorkingDir": "/"})
    log(f"built {PAUSE_IMAGE} -> {out}")
    return out


def main(argv):
    if len(argv) == 2 and argv[1] == "pause":
        print(pause_tarball())
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
