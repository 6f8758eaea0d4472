#!/usr/bin/env bash
# The layer rules of docs/ARCHITECTURE.md, checked from the #include lines of src/ (or of the tree
# given as $1). A folder may include only its own headers and those of the layers it is allowed
# to depend on; DuckDB's headers (<duckdb.h>, and the C++ ones "duckdb/...", duckdb.hpp) only in
# src/engine/. C++ files (*.cpp) are read like C files. Prints every forbidden edge and exits 1 if any.
set -euo pipefail
SRC=${1:-"$(dirname "$0")/../src"}
declare -A ALLOW=(
    [base]=""
    [model]="base"
    [http]="base model"
    [kube]="base"
    [k8s]="base model"
    [engine]="base model http"
    [operator]="base model http kube k8s"
    [gateway]="base model http kube k8s"
)
bad=0
cd "$SRC"
for f in $(find . -name '*.[ch]' -o -name '*.cpp' -o -name '*.hpp' | sed 's|^\./||' | sort); do
    layer=${f%%/*}
    [ "$layer" = "$f" ] && continue # main.c and roles.h: the binary's entry, may include anything
    if [ -z "${ALLOW[$layer]+x}" ]; then
        echo "check-layers: $f: folder '$layer' is not a known layer (add it to scripts/check-layers.sh and docs/ARCHITECTURE.md)"
        bad=1
        continue
    fi
    while IFS= read -r line; do
        inc=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^">]+)[">].*/\1/' <<<"$line")
        case $inc in
        duckdb.h | duckdb.hpp | duckdb/*)
            if [ "$layer" != engine ]; then
                echo "check-layers: $f includes <$inc>: only src/engine/ may link DuckDB"; bad=1
            fi
            continue ;;
        esac
        case $line in *'"'*) ;; *) continue ;; esac # system headers
        to=${inc%%/*}
        [ "$to" = "$inc" ] && { [ "$inc" = roles.h ] && continue; to=.; }
        [ "$to" = "$layer" ] && continue
        case " ${ALLOW[$layer]} " in *" $to "*) continue ;; esac
        # engine's own third-party headers (nanoarrow, flatcc) are include paths of the build
        [ "$layer" = engine ] && case $to in nanoarrow|flatcc) continue ;; esac
        echo "check-layers: $f includes \"$inc\": $layer may not depend on $to (allowed: ${ALLOW[$layer]:-nothing})"
        bad=1
    done < <(grep -E '^[[:space:]]*#[[:space:]]*include' "$f" || true)
done
exit $bad
