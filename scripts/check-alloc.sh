#!/usr/bin/env bash
# The one out-of-memory policy (src/base/xalloc.h), checked mechanically over src/ (or the tree
# given as $1): no bare malloc/calloc/realloc/reallocarray/strdup/strndup/asprintf — they go
# through fm_x* (xalloc.c itself is where the bare calls live).
# Comments are not read. Prints each offending line and exits 1 if any.
set -euo pipefail
SRC=${1:-"$(dirname "$0")/../src"}
cd "$SRC"
bad=0
while IFS= read -r f; do
    [ "$f" = base/xalloc.c ] && continue
    # strip /* */ and // comments and string literals, keeping line numbers
    out=$(python3 - "$f" <<'PY'
import re, sys
src = open(sys.argv[1], encoding="utf-8", errors="replace").read()
def blank(m):
    return re.sub(r"[^\n]", " ", m.group(0))
src = re.sub(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', blank, src, flags=re.S)
for i, line in enumerate(src.split("\n"), 1):
    m = re.search(r"(?<![\w.>])(malloc|calloc|realloc|reallocarray|strdup|strndup|v?asprintf)\s*\(", line)
    if m:
        print(f"{i}: bare {m.group(1)} (use fm_x{m.group(1).lstrip('v')} of base/xalloc.h)")
PY
)
    if [ -n "$out" ]; then
        while IFS= read -r l; do echo "check-alloc: $f:$l"; done <<<"$out"
        bad=1
    fi
done < <(find . \( -name '*.c' -o -name '*.h' -o -name '*.cpp' \) | sed 's|^\./||' | sort)
exit $bad
