#!/usr/bin/env bash
# Builds the test cluster's binaries from the Go module proxy, once per version:
#   $FEATHERMAN_CACHE/k8s-<ver>/bin/{kube-apiserver,kube-controller-manager,kubectl}
#   $FEATHERMAN_CACHE/k8s-<ver>/bin/{kubelet,kube-proxy,kube-scheduler}   (the kubelet cluster's node)
#   $FEATHERMAN_CACHE/etcd-<ver>/bin/etcd
# The versions are the ones the wrapper modules under tests/cluster/build/{k8s,etcd} require
# (their go.sum pins every module by hash). Idempotent: a version whose binaries exist is skipped.
# Prints each build's wall time. Go package parallelism: $FEATHERMAN_GO_JOBS (default: nproc).
# With --print-config it only prints the config.mk lines (K8S_BIN_DIR, ETCD_BIN) after building.
# `build.sh helm` builds only the helm CLI (tests/cluster/build/helm), cached in
# $FEATHERMAN_CACHE/helm-<ver>/bin/helm, and prints that path: the chart's tests call it, so helm
# is built only where those tests run.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${FEATHERMAN_CACHE:-$HOME/.cache/featherman}
JOBS=${FEATHERMAN_GO_JOBS:-$(nproc)}
PRINT_CONFIG=0 ONLY_HELM=0
[ "${1:-}" = "--print-config" ] && PRINT_CONFIG=1
[ "${1:-}" = "helm" ] && ONLY_HELM=1

log() { printf 'cluster-build: %s\n' "$*" >&2; }
command -v go >/dev/null || { log "Go is needed to build kube-apiserver/etcd (install Go >= 1.26)"; exit 1; }

modver() { # modver DIR MODULE -> the version DIR/go.mod requires
    awk -v m="$2" '($1==m || ($1=="require" && $2==m)) {print ($1=="require") ? $3 : $2; exit}' "$1/go.mod"
}

# helm: only on request (`build.sh helm`); prints the binary's path on stdout.
build_helm() {
    local ver dir start
    ver=$(modver "$HERE/build/helm" helm.sh/helm/v4)
    [ -n "$ver" ] || { log "cannot read the pinned helm version from $HERE/build/helm/go.mod"; exit 1; }
    dir="$CACHE/helm-$ver"
    if [ -x "$dir/bin/helm" ]; then
        log "helm $ver: cached in $dir"
    else
        log "building helm $ver with -p $JOBS"
        start=$(date +%s)
        rm -rf "$dir.tmp"; mkdir -p "$dir.tmp/bin"
        (cd "$HERE/build/helm" && GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOFLAGS="${GOFLAGS:-} -mod=readonly -buildvcs=false" \
            CGO_ENABLED=0 go build -p "$JOBS" -trimpath \
            -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$ver -X helm.sh/helm/v4/internal/version.gitTreeState=clean" \
            -o "$dir.tmp/bin/helm" helm.sh/helm/v4/cmd/helm)
        rm -rf "$dir"; mv "$dir.tmp" "$dir"
        log "helm $ver built in $(( $(date +%s) - start ))s -> $dir/bin/helm"
    fi
    echo "$dir/bin/helm"
}
[ $ONLY_HELM = 1 ] && { build_helm; exit 0; }

K8S_VER=$(modver "$HERE/build/k8s" k8s.io/kubernetes)
ETCD_VER=$(modver "$HERE/build/etcd" go.etcd.io/etcd/server/v3)
[ -n "$K8S_VER" ] && [ -n "$ETCD_VER" ] || { log "cannot read the pinned versions from the wrapper go.mod files"; exit 1; }
K8S_DIR="$CACHE/k8s-$K8S_VER"
ETCD_DIR="$CACHE/etcd-$ETCD_VER"

export GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOFLAGS="${GOFLAGS:-} -mod=readonly -buildvcs=false"

k8s_ldflags() {
    local major minor date ld p
    major=${K8S_VER#v}; major=${major%%.*}
    minor=${K8S_VER#v*.}; minor=${minor%%.*}
    date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    ld="-s -w"
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ld="$ld -X $p.gitVersion=$K8S_VER -X $p.gitMajor=$major -X $p.gitMinor=$minor"
        ld="$ld -X $p.gitTreeState=clean -X $p.buildDate=$date"
    done
    echo "$ld"
}

build_k8s() {
    local bins="kube-apiserver kube-controller-manager kubectl" b missing=0
    for b in $bins; do [ -x "$K8S_DIR/bin/$b" ] || missing=1; done
    [ $missing = 1 ] || { log "Kubernetes $K8S_VER: cached in $K8S_DIR"; return 0; }
    local start
    log "building Kubernetes $K8S_VER (kube-apiserver, kube-controller-manager, kubectl) with -p $JOBS; this takes a while, once"
    start=$(date +%s)
    rm -rf "$K8S_DIR.tmp"; mkdir -p "$K8S_DIR.tmp/bin"
    (cd "$HERE/build/k8s" && CGO_ENABLED=0 go build -p "$JOBS" -trimpath -ldflags "$(k8s_ldflags)" -o "$K8S_DIR.tmp/bin/" \
        k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl)
    # keep the node binaries of an earlier build (they are built separately, below)
    for b in kubelet kube-proxy kube-scheduler; do
        [ -x "$K8S_DIR/bin/$b" ] && mv "$K8S_DIR/bin/$b" "$K8S_DIR.tmp/bin/"
    done
    rm -rf "$K8S_DIR"; mv "$K8S_DIR.tmp" "$K8S_DIR"
    log "Kubernetes $K8S_VER built in $(( $(date +%s) - start ))s -> $K8S_DIR/bin"
}

# The kubelet cluster's node (tests/cluster/up --kubelet): the kubelet, kube-scheduler (no pod
# runner binds Pods there) and kube-proxy (Services, and the `kubernetes` Service Pods reach the
# API server through). After build_k8s most packages come from the Go build cache.
build_k8s_node() {
    local bins="kubelet kube-proxy kube-scheduler" b missing=0
    for b in $bins; do [ -x "$K8S_DIR/bin/$b" ] || missing=1; done
    [ $missing = 1 ] || { log "Kubernetes $K8S_VER node binaries: cached in $K8S_DIR"; return 0; }
    local start
    log "building Kubernetes $K8S_VER node binaries (kubelet, kube-proxy, kube-scheduler) with -p $JOBS"
    start=$(date +%s)
    rm -rf "$K8S_DIR/node.tmp"; mkdir -p "$K8S_DIR/node.tmp"
    (cd "$HERE/build/k8s" && CGO_ENABLED=0 go build -p "$JOBS" -trimpath -ldflags "$(k8s_ldflags)" -o "$K8S_DIR/node.tmp/" \
        k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kube-scheduler)
    for b in $bins; do mv "$K8S_DIR/node.tmp/$b" "$K8S_DIR/bin/$b"; done
    rmdir "$K8S_DIR/node.tmp"
    log "Kubernetes $K8S_VER node binaries built in $(( $(date +%s) - start ))s -> $K8S_DIR/bin"
}

build_etcd() {
    [ -x "$ETCD_DIR/bin/etcd" ] && { log "etcd $ETCD_VER: cached in $ETCD_DIR"; return 0; }
    local start
    log "building etcd $ETCD_VER with -p $JOBS"
    start=$(date +%s)
    rm -rf "$ETCD_DIR.tmp"; mkdir -p "$ETCD_DIR.tmp/bin"
    (cd "$HERE/build/etcd" && CGO_ENABLED=0 go build -p "$JOBS" -trimpath \
        -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-$ETCD_VER" -o "$ETCD_DIR.tmp/bin/etcd" .)
    rm -rf "$ETCD_DIR"; mv "$ETCD_DIR.tmp" "$ETCD_DIR"
    log "etcd $ETCD_VER built in $(( $(date +%s) - start ))s -> $ETCD_DIR/bin"
}

build_etcd
build_k8s
build_k8s_node

if [ $PRINT_CONFIG = 1 ]; then
    echo "K8S_BIN_DIR := $K8S_DIR/bin"
    echo "ETCD_BIN := $ETCD_DIR/bin/etcd"
fi
