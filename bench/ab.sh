#!/usr/bin/env bash
# bench/ab.sh: two featherman binaries side by side, measurements alternating, in one run.
#
#   bench/ab.sh BEFORE_BINARY AFTER_BINARY      (e.g. a build of an older commit, and build/featherman)
#
# Starts each as `featherman local --slots 4` on its own fresh state with bench/lake/lake.yaml,
# loads events (1M rows) and big (10M rows) into each, then BENCH_ROUNDS times (default 3), first
# BEFORE then AFTER: SELECT 1 and the aggregate over events on one keep-alive connection
# (build/bench/latency), and the CSV / NDJSON / Arrow stream time of big and of the previous bench's
# 3-column generated query into curl. Lines as in bench/run.sh; bench/summarize.py reads them
# (labels carry "before" / "after"). Output also in build/bench/ab-<time>.txt.
set -euo pipefail
[ $# = 2 ] || { sed -n '2,11p' "$0"; exit 2; }
declare -A BIN=([before]=$(realpath "$1") [after]=$(realpath "$2"))
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$(sed -n 's/^TEST_VENV := //p' build/config.mk)/bin/python
ROUNDS=${BENCH_ROUNDS:-3}
OUT=$ROOT/build/bench/ab-$(date +%Y%m%dT%H%M%S).txt
make -s -j2 bench
freeport() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export FEATHERMAN_TOKEN=bench-$RANDOM$RANDOM
declare -A PORT PID
cleanup() { for v in "${PID[@]}"; do kill -TERM "$v" 2>/dev/null; wait "$v" 2>/dev/null || true; done; }
trap cleanup EXIT
for v in before after; do
    st=$ROOT/build/bench/ab-state-$v
    rm -rf "$st" && mkdir -p "$st"
    PORT[$v]=$(freeport)
    "${BIN[$v]}" local --manifests bench/lake --state "$st" --listen 127.0.0.1:${PORT[$v]} --slots 4 >"$st.log" 2>&1 &
    PID[$v]=$!
    for _ in $(seq 1 300); do
        curl -sf http://127.0.0.1:${PORT[$v]}/readyz >/dev/null 2>&1 && break
        kill -0 ${PID[$v]} 2>/dev/null || { cat "$st.log"; exit 1; }
        sleep 0.1
    done
done
body() { "$PY" -c 'import json,sys; print(json.dumps({"sql": sys.argv[1], "format": sys.argv[2]}))' "$1" "$2"; }
q() { curl -sf "http://127.0.0.1:$1/query" -H "Authorization: Bearer $FEATHERMAN_TOKEN" -d "$(body "$2" csv)"; }
GEN="range, (['DE','FR','US','JP','BR','IN','NG','AU'])[range % 8 + 1], (range % 1000) / 10.0,
     TIMESTAMP '2024-01-01' + to_seconds(range)"
for v in before after; do
    q ${PORT[$v]} "INSERT INTO events SELECT $GEN FROM range(1000000)" >/dev/null
    q ${PORT[$v]} "INSERT INTO big SELECT $GEN FROM range(10000000)" >/dev/null
done
QA="SELECT country, count(*) AS n, sum(amount) AS total FROM events GROUP BY country ORDER BY country"
B10="SELECT id, amount, country, ts FROM big"
BOLD="SELECT range AS id, range * 2 AS v, 'x' || (range % 100) AS s FROM range(10000000)"
for r in $(seq 1 "$ROUNDS"); do
    {
        echo "== featherman bench round $r (A/B) $(date -u +%Y-%m-%dT%H:%M:%SZ) nproc=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"
        for v in before after; do
            u=http://127.0.0.1:${PORT[$v]}/query
            echo "$v select1 j=1: $(build/bench/latency -u "$u" -n 4000 -w 400 "SELECT 1")"
            echo "$v agg-sqlite j=1: $(build/bench/latency -u "$u" -n 300 -w 30 "$QA")"
            for f in csv ndjson arrow; do
                for lq in "10M:$B10" "old3col:$BOLD"; do
                    curl -sf -o /dev/null -w '%{size_download} %{time_total}\n' "$u" \
                        -H "Authorization: Bearer $FEATHERMAN_TOKEN" -d "$(body "${lq#*:}" $f)" |
                        awk -v l="$v stream ${lq%%:*} $f" '{printf "%s: mb=%.0f s=%.3f mrows=%.2f\n", l, $1/1e6, $2, 10/$2}'
                done
            done
        done
        echo "== end of round $r load=$(cut -d' ' -f1-3 /proc/loadavg)"
    } | tee -a "$OUT"
done
echo "ab: results in $OUT"
