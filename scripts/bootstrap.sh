#!/usr/bin/env bash
# Installs everything featherman needs on a fresh Debian machine, idempotently.
#   scripts/bootstrap.sh          build + run dependencies (Debian packages, DuckDB, extensions, nanoarrow)
#   scripts/bootstrap.sh --test   also the test dependencies (PostgreSQL, MinIO, pinned Python clients)
# Downloads are pinned in deps/pins.tsv (version + sha256) and cached outside the work tree in
# $FEATHERMAN_CACHE (default ~/.cache/featherman). Writes build/config.mk for the Makefile.
# Nothing is fetched at run time: DuckDB loads its extensions from the cache directory offline.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${FEATHERMAN_CACHE:-$HOME/.cache/featherman}
WANT_TEST=0
[ "${1:-}" = "--test" ] && WANT_TEST=1
mkdir -p "$CACHE/downloads" "$ROOT/build"

log() { printf 'bootstrap: %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------------------------
APT_BUILD="gcc g++ make pkg-config curl ca-certificates libjansson-dev libyaml-dev libmicrohttpd-dev libcurl4-openssl-dev libssl-dev python3 python3-venv"
APT_TEST="postgresql openssl clang libclang-rt-dev" # clang + libFuzzer: make fuzz-authz
# The image (scripts/image.sh, tests/integration/test_image.py): podman builds the Dockerfile and
# runs the image with runc; mmdebstrap makes the base image from Debian's packages.
APT_TEST="$APT_TEST podman runc mmdebstrap"
# The kubelet test cluster (tests/cluster/up --kubelet): containerd as the kubelet's container
# runtime (its CRI plugin runs containers with runc), the CNI bridge/host-local/loopback plugins
# for pod networking, iptables for the bridge plugin's masquerade rules and conntrack for the
# kubelet's and the plugins' connection cleanup.
APT_TEST="$APT_TEST containerd containernetworking-plugins iptables conntrack"
need=()
pkgs=$APT_BUILD
[ $WANT_TEST = 1 ] && pkgs="$pkgs $APT_TEST"
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    log "installing Debian packages: ${need[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- pinned downloads ------------------------------------------------------------------------
# fetch NAME -> prints the verified file's path
fetch() {
    local name=$1 line ver sha url file
    line=$(awk -F'\t' -v n="$name" '$1==n' "$ROOT/deps/pins.tsv")
    [ -n "$line" ] || { log "no pin for $name"; exit 1; }
    ver=$(cut -f2 <<<"$line"); sha=$(cut -f3 <<<"$line"); url=$(cut -f4 <<<"$line")
    file="$CACHE/downloads/$name-$ver-$(basename "$url")"
    if [ ! -f "$file" ] || ! echo "$sha  $file" | sha256sum -c --quiet - 2>/dev/null; then
        log "fetching $name $ver"
        curl -fsSL --retry 3 -o "$file.part" "$url"
        if ! echo "$sha  $file.part" | sha256sum -c --quiet - ; then
            log "sha256 mismatch for $name ($url)"; rm -f "$file.part"; exit 1
        fi
        mv "$file.part" "$file"
    fi
    echo "$file"
}

DUCKDB_VER=1.5.5
DUCKDB_DIR="$CACHE/duckdb-$DUCKDB_VER"
if [ ! -f "$DUCKDB_DIR/.done" ]; then
    rm -rf "$DUCKDB_DIR"; mkdir -p "$DUCKDB_DIR/lib" "$DUCKDB_DIR/include"
    tar -xzf "$(fetch libduckdb)" -C "$DUCKDB_DIR/lib" --strip-components=1 package/libduckdb.so
    tar -xzf "$(fetch duckdb-sdist)" -C "$DUCKDB_DIR/include" --strip-components=5 \
        "duckdb-$DUCKDB_VER/external/duckdb/src/include/duckdb.h"
    extdir="$DUCKDB_DIR/extensions/v$DUCKDB_VER/linux_amd64"
    mkdir -p "$extdir"
    for e in ducklake httpfs postgres_scanner sqlite_scanner; do
        python3 - "$(fetch "ext-$e")" "$extdir" "$e" <<'EOF'
import sys, zipfile, shutil, os
whl, dest, name = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    member = [m for m in z.namelist() if m.endswith(name + ".duckdb_extension")][0]
    with z.open(member) as src, open(os.path.join(dest, name + ".duckdb_extension"), "wb") as out:
        shutil.copyfileobj(src, out)
EOF
    done
    touch "$DUCKDB_DIR/.done"
fi

# DuckDB's C++ headers, for the one C++ file (src/engine/sqlparse.cpp) that reads DuckDB's parse
# tree: the same pinned release as libduckdb.so, so the class layouts match the library.
DUCKDB_CXX_INCLUDE="$DUCKDB_DIR/include-cxx"
if [ ! -f "$DUCKDB_CXX_INCLUDE/.done" ]; then
    rm -rf "$DUCKDB_CXX_INCLUDE"; mkdir -p "$DUCKDB_CXX_INCLUDE"
    tar -xzf "$(fetch duckdb-sdist)" -C "$DUCKDB_CXX_INCLUDE" --strip-components=5 \
        "duckdb-$DUCKDB_VER/external/duckdb/src/include"
    touch "$DUCKDB_CXX_INCLUDE/.done"
fi

NANOARROW_VER=0.9.0
NANOARROW_DIR="$CACHE/nanoarrow-$NANOARROW_VER"
if [ ! -f "$NANOARROW_DIR/.done" ]; then
    rm -rf "$NANOARROW_DIR"; mkdir -p "$NANOARROW_DIR"
    tar -xzf "$(fetch nanoarrow-sdist)" -C "$NANOARROW_DIR" --strip-components=2 \
        "nanoarrow-$NANOARROW_VER/subprojects"
    mv "$NANOARROW_DIR"/flatcc-* "$NANOARROW_DIR/flatcc"
    touch "$NANOARROW_DIR/.done"
fi

# a plain bootstrap keeps the test lines an earlier --test run wrote
KEEP=""
if [ $WANT_TEST = 0 ] && [ -f "$ROOT/build/config.mk" ]; then
    KEEP=$(grep -E '^(TEST_VENV|MINIO_BIN|PG_BIN|K8S_BIN_DIR|ETCD_BIN) ' "$ROOT/build/config.mk" || true)
fi
cat > "$ROOT/build/config.mk" <<EOF
# written by scripts/bootstrap.sh
DUCKDB_DIR := $DUCKDB_DIR
DUCKDB_CXX_INCLUDE := $DUCKDB_CXX_INCLUDE
NANOARROW_DIR := $NANOARROW_DIR
FEATHERMAN_EXTENSION_DIR := $DUCKDB_DIR/extensions
EOF
if [ -n "$KEEP" ]; then printf '%s\n' "$KEEP" >> "$ROOT/build/config.mk"; fi

# --- test dependencies -----------------------------------------------------------------------
if [ $WANT_TEST = 1 ]; then
    reqsum=$(cat "$ROOT/tests/requirements.txt" | sha256sum | cut -c1-16)
    VENV="$CACHE/venv-$reqsum"
    if [ ! -f "$VENV/.done" ]; then
        log "creating the test venv"
        rm -rf "$VENV"; python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q --require-hashes --no-deps -r "$ROOT/tests/requirements.txt"
        touch "$VENV/.done"
    fi
    MINIO_VER=$(awk '$1=="minio"{print $2}' "$ROOT/deps/go-tools.txt")
    MINIO_DIR="$CACHE/minio-$MINIO_VER"
    if [ ! -x "$MINIO_DIR/minio" ]; then
        command -v go >/dev/null || { log "Go is needed to build MinIO (go install)"; exit 1; }
        log "building MinIO $MINIO_VER with go install (several minutes, once)"
        mkdir -p "$MINIO_DIR"
        GOBIN="$MINIO_DIR" GOFLAGS=-trimpath go install "github.com/minio/minio@$MINIO_VER"
    fi
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    CLUSTER_CFG=$("$ROOT/tests/cluster/build.sh" --print-config)  # kube-apiserver & co., etcd (cached)
    cat >> "$ROOT/build/config.mk" <<EOF
TEST_VENV := $VENV
MINIO_BIN := $MINIO_DIR/minio
PG_BIN := $PGBIN
$CLUSTER_CFG
EOF
fi
log "ready (cache: $CACHE)"
