#!/usr/bin/env bash
# Builds the featherman image from the Dockerfile with podman, without any container registry:
#   1. the base: Debian bookworm minbase made by mmdebstrap from Debian's own packages, imported as
#      localhost/featherman-base:bookworm-<key>; the key hashes everything that shapes it (suite,
#      variant, dpkg and apt options, sources), so a warm run reuses it (tarball kept in the cache);
#   2. the image: `podman build` of the unchanged Dockerfile with BASE_IMAGE set to that base and
#      the pinned, sha256-checked downloads of the host's dependency cache mounted read-only where
#      scripts/bootstrap.sh looks for them inside the build (nothing of the mount stays in a layer);
#   3. the tarball: build/image/featherman-<VERSION>-amd64.tar, a docker-archive named
#      docker.io/library/featherman:<VERSION> — the name `featherman:<VERSION>` in the shipped
#      manifests resolves to — for `ctr images import`, `kind load image-archive`, `docker load`.
#
#   scripts/image.sh [--rebuild-base]
#
# Prints BASE=<base image>, IMAGE=<name>, ID=<image id> and TARBALL=<path> on stdout when done;
# progress and timings on stderr.
# podman and mmdebstrap come from Debian (scripts/bootstrap.sh --test installs them).
# build/image/containers.conf holds the podman settings every podman call here and in the tests
# uses (export CONTAINERS_CONF to it): the runc runtime (crun refuses hybrid cgroup hierarchies)
# and open-file/process limits no higher than this process's own hard limits (podman's defaults
# would raise them, which fails where the runtime lacks CAP_SYS_RESOURCE).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${FEATHERMAN_CACHE:-$HOME/.cache/featherman}
VERSION=$(cat "$ROOT/VERSION")
OUT=$ROOT/build/image
REBUILD_BASE=0

die() { printf 'image: %s\n' "$*" >&2; exit 1; }
log() { printf 'image: %s\n' "$*" >&2; }

for a in "$@"; do
    case $a in
        --rebuild-base) REBUILD_BASE=1 ;;
        *) die "unknown argument '$a' (usage: scripts/image.sh [--rebuild-base])" ;;
    esac
done
for t in podman runc mmdebstrap; do
    command -v "$t" >/dev/null 2>&1 || die "$t is not installed (scripts/bootstrap.sh --test installs it)"
done

mkdir -p "$OUT" "$CACHE/image-base"
min() { if [ "$1" = unlimited ] || [ "$1" -gt "$2" ]; then echo "$2"; else echo "$1"; fi; }
NOFILE=$(min "$(ulimit -Hn)" 65536)
NPROC=$(min "$(ulimit -Hu)" 4096)
cat > "$OUT/containers.conf" <<EOF
# written by scripts/image.sh
[containers]
default_ulimits = ["nofile=$NOFILE:$NOFILE", "nproc=$NPROC:$NPROC"]
[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF=$OUT/containers.conf

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

# --- 1. the base ------------------------------------------------------------------------------
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
BASE_ARGS=(--variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
           --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*'
           --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*'
           --dpkgopt='path-exclude=/usr/share/info/*' --aptopt='Acquire::Languages "none"')
BASE_SOURCES=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main"
              "deb http://deb.debian.org/debian-security $SUITE-security main")
KEY=$(printf '%s\n' "$SUITE" amd64 "${BASE_ARGS[@]}" "${BASE_SOURCES[@]}" | sha256sum | cut -c1-12)
BASE=localhost/featherman-base:$SUITE-$KEY
BASE_TAR=$CACHE/image-base/$SUITE-$KEY.tar
t0=$(now)
if [ $REBUILD_BASE = 1 ]; then
    rm -f "$BASE_TAR"
    podman image rm -f "$BASE" >/dev/null 2>&1 || true
fi
if podman image exists "$BASE"; then
    log "base $BASE: cached"
else
    if [ ! -f "$BASE_TAR" ]; then
        log "base: mmdebstrap $SUITE minbase (a minute or two, once per key)"
        mmdebstrap --quiet --format=tar "${BASE_ARGS[@]}" "$SUITE" "$BASE_TAR.part" "${BASE_SOURCES[@]}" \
            >"$OUT/mmdebstrap.log" 2>&1 || { tail -20 "$OUT/mmdebstrap.log" >&2; die "mmdebstrap failed (log: $OUT/mmdebstrap.log)"; }
        mv "$BASE_TAR.part" "$BASE_TAR"
    fi
    podman import --quiet --change 'CMD ["/bin/bash"]' "$BASE_TAR" "$BASE" >/dev/null
    log "base $BASE: made in $(since "$t0") s"
fi

# --- 2. the image -----------------------------------------------------------------------------
# The host bootstrap fetches and sha256-checks the pinned downloads the build will read.
"$ROOT/scripts/bootstrap.sh" >/dev/null
IMAGE=localhost/featherman:$VERSION
SAVE_AS=docker.io/library/featherman:$VERSION
t1=$(now)
podman build --layers --build-arg BASE_IMAGE="$BASE" --iidfile "$OUT/image.id" \
    --volume "$CACHE/downloads:/opt/featherman-deps/downloads:ro" \
    -t "$IMAGE" -t "$SAVE_AS" -f "$ROOT/Dockerfile" "$ROOT" >"$OUT/build.log" 2>&1 \
    || { tail -30 "$OUT/build.log" >&2; die "podman build failed (log: $OUT/build.log)"; }
ID=$(sed 's/^sha256://' "$OUT/image.id")  # this build's image, whatever else retags the name meanwhile
log "image $IMAGE ($ID): built in $(since "$t1") s"

# --- 3. the tarball ---------------------------------------------------------------------------
TARBALL=$OUT/featherman-$VERSION-amd64.tar
t2=$(now)
if [ -f "$TARBALL" ] && [ "$(cat "$TARBALL.id" 2>/dev/null)" = "$ID" ]; then
    log "tarball $TARBALL: up to date"
else
    rm -f "$TARBALL" "$TARBALL.id"
    podman save --quiet --format docker-archive -o "$TARBALL.part" "$SAVE_AS"
    mv "$TARBALL.part" "$TARBALL"
    echo "$ID" > "$TARBALL.id"
    log "tarball $TARBALL: saved in $(since "$t2") s"
fi
echo "BASE=$BASE"
echo "IMAGE=$IMAGE"
echo "ID=$ID"
echo "TARBALL=$TARBALL"
