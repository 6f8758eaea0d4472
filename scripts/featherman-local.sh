#!/usr/bin/env bash
# Sets up featherman on a fresh machine and runs the embedded default, `featherman local`, on the
# example manifests (examples/local), then loads the sample rows once. The query API listens on
# 127.0.0.1:8080; the token is $FEATHERMAN_TOKEN or the generated one in ~/.local/state/featherman/token.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
make -s -j2 all
STATE=${FEATHERMAN_STATE:-$HOME/.local/state/featherman}
build/featherman local --manifests examples/local --state "$STATE" "$@" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid' INT TERM
for _ in $(seq 1 300); do
    curl -sf http://127.0.0.1:8080/readyz >/dev/null 2>&1 && break
    kill -0 $pid 2>/dev/null || { wait $pid; exit $?; }
    sleep 0.1
done
TOKEN=${FEATHERMAN_TOKEN:-$(cat "$STATE/token")}
# idempotent: inserts the sample rows only into an empty table
curl -sf http://127.0.0.1:8080/query -H "Authorization: Bearer $TOKEN" \
     --data-binary @examples/sample-data.json >/dev/null \
    && echo "featherman local: sample data loaded; try:" \
    && echo "  curl -s localhost:8080/query -H \"Authorization: Bearer \$(cat $STATE/token)\" -d '{\"sql\":\"SELECT * FROM users ORDER BY id\"}'"
wait $pid
