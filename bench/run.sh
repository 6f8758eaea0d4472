#!/usr/bin/env bash
# bench/run.sh: featherman's performance against its baselines, measured in one run.
# Starts `featherman local` on a fresh bench lake (bench/lake: table events with 1M generated rows,
# table small with 10k, loaded through the query API), then measures
#   (a) sequential latency of SELECT 1 and small aggregates over the lake through featherman
#       (build/bench/latency: one keep-alive connection), and the same queries in a warm
#       in-process DuckDB (build/bench/fresh_query -r: DuckDB's own cost, no HTTP),
#   (b) the same queries as whole fresh processes (build/bench/fresh_query; hyperfine if present),
#   (c) 10M rows as Arrow IPC end to end into pyarrow against DuckDB's Python package building the
#       same Arrow table in-process, and the raw stream rate of arrow, CSV and NDJSON (curl).
# Prints a results block (also written to build/bench/results-<time>.txt). The ports, run counts
# and state directory can be changed with BENCH_PORT, BENCH_N, BENCH_RUNS, BENCH_STATE.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$(sed -n 's/^TEST_VENV := //p' build/config.mk)/bin/python
PORT=${BENCH_PORT:-18080}
N=${BENCH_N:-2000}             # timed queries per latency run (after N/10 warm-up)
RUNS=${BENCH_RUNS:-5}          # runs of each bulk measurement; fresh processes: 6x RUNS each
STATE=${BENCH_STATE:-$ROOT/build/bench/state}
URL=http://127.0.0.1:$PORT/query
OUT=$ROOT/build/bench/results-$(date +%Y%m%dT%H%M%S).txt

make -s -j2 all bench
if ! command -v hyperfine >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y hyperfine >/dev/null 2>&1 || true
fi

rm -rf "$STATE" && mkdir -p "$STATE"
export FEATHERMAN_TOKEN=bench-$RANDOM$RANDOM
build/featherman local --manifests bench/lake --state "$STATE" --listen 127.0.0.1:$PORT >"$STATE.log" 2>&1 &
FPID=$!
trap 'kill -TERM $FPID 2>/dev/null; wait $FPID 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
    curl -sf http://127.0.0.1:$PORT/readyz >/dev/null 2>&1 && break
    kill -0 $FPID 2>/dev/null || { cat "$STATE.log"; exit 1; }
    sleep 0.1
done

q() { # SQL [format] -> response on stdout, fails on a non-200
    curl -sf "$URL" -H "Authorization: Bearer $FEATHERMAN_TOKEN" \
        -d "$("$PY" -c 'import json,sys; print(json.dumps({"sql": sys.argv[1], "format": sys.argv[2]}))' "$1" "${2:-csv}")"
}
ns() { date +%s%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p"; } # KEY: value of KEY=value in a line

GEN="range, (['DE','FR','US','JP','BR','IN','NG','AU'])[range % 8 + 1], (range % 1000) / 10.0,
     TIMESTAMP '2024-01-01' + to_seconds(range)"
t0=$(ns)
q "INSERT INTO events SELECT $GEN FROM range(1000000)" >/dev/null
q "INSERT INTO small SELECT $GEN FROM range(10000)" >/dev/null
LOAD_S=$(awk -v a="$t0" -v b="$(ns)" 'BEGIN {printf "%.2f", (b-a)/1e9}')

Q1="SELECT 1"
Q2="SELECT country, count(*) AS n, sum(amount) AS total FROM small GROUP BY country ORDER BY country"
Q3="SELECT country, count(*) AS n, sum(amount) AS total FROM events GROUP BY country ORDER BY country"
[ "$(q "$Q3" | awk -F, 'NR > 1 {n += $2} END {print n}')" = 1000000 ] || { echo "bench: lake not loaded"; exit 1; }

fresh() { # label, fresh_query args... -> median ms of whole fresh processes
    local label=$1 runs=$((RUNS * 6)); shift
    if command -v hyperfine >/dev/null; then
        hyperfine -N --style none --warmup 3 --runs $runs --export-json "$STATE/hf.json" \
            "$(printf '%q ' build/bench/fresh_query "$@")" >/dev/null
        "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f" % (r["median"]*1e3))' "$STATE/hf.json"
    else
        for _ in $(seq 1 $runs); do
            local a; a=$(ns); build/bench/fresh_query "$@" >/dev/null; echo $(( ($(ns) - a) / 1000 ))
        done | median | awk '{printf "%.1f", $1/1000}'
    fi
}

declare -A R
i=0
for sql in "$Q1" "$Q2" "$Q3"; do
    i=$((i + 1)); n=$N
    [ $i = 3 ] && n=$((N / 7))   # the 1M-row aggregate costs milliseconds each
    R[fm$i]=$(build/bench/latency -u "$URL" -n $n -w $((n / 10)) "$sql")
    R[ip$i]=$(build/bench/fresh_query -r $n "$STATE" bench "$sql")
    R[fr$i]=$(fresh "$sql" "$STATE" bench "$sql")
done
R[fr0]=$(fresh "bare" -L "$STATE" bench "$Q1")

BULK="SELECT range AS id, range * 2 AS v, 'x' || (range % 100) AS s FROM range(10000000)"
declare -a A_E A_I D_E D_I
for r in $(seq 1 "$RUNS"); do
    a=$(ns); line=$("$PY" bench/arrow_client.py http "$URL" "$BULK"); A_E+=($(( ($(ns) - a) / 1000000 )))
    A_I+=("$(echo "$line" | field seconds)")
    a=$(ns); line=$("$PY" bench/arrow_client.py duckdb "$BULK"); D_E+=($(( ($(ns) - a) / 1000000 )))
    D_I+=("$(echo "$line" | field seconds)")
    for f in arrow csv ndjson; do
        curl -sf -o /dev/null -w '%{size_download} %{time_total}\n' "$URL" -H "Authorization: Bearer $FEATHERMAN_TOKEN" \
            -d "{\"sql\": \"$BULK\", \"format\": \"$f\"}" >>"$STATE/curl-$f.txt"
    done
done
med() { printf '%s\n' "$@" | median; }

{
    echo "== featherman bench $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git rev-parse --short HEAD) nproc=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "load 1M+10k rows through the API: ${LOAD_S} s"
    echo "-- (a)+(b) latency; featherman = HTTP POST /query, one keep-alive connection, sequential"
    for i in 1 2 3; do
        fm=${R[fm$i]}; ip=${R[ip$i]}
        eval "sql=\$Q$i"
        echo "Q$i: $sql"
        echo "   featherman     $fm"
        echo "   in-process     $ip"
        echo "   fresh process  median_ms=${R[fr$i]} (DuckDB open + LOAD ducklake, sqlite_scanner + ATTACH + query)"
        p50=$(echo "$fm" | field p50_us)
        awk -v p="$p50" -v f="${R[fr$i]}" -v w="$(echo "$ip" | field p50_us)" \
            'BEGIN {printf "   ratio fresh/featherman p50 = %.0fx; featherman - in-process p50 = %d us\n", f*1000/p, p-w}'
    done
    echo "   fresh process without the lake (open DuckDB, SELECT 1): median_ms=${R[fr0]}"
    echo "-- (c) 10M rows (3 columns) as Arrow into pyarrow, median of $RUNS"
    echo "   featherman arrow -> pyarrow: client process $(med "${A_E[@]}") ms, request..table $(med "${A_I[@]}") s"
    echo "   DuckDB Python in-process:    client process $(med "${D_E[@]}") ms, query..table   $(med "${D_I[@]}") s"
    for f in arrow csv ndjson; do
        mb=$(head -1 "$STATE/curl-$f.txt" | awk '{printf "%.0f", $1/1e6}')
        m=$(cut -d' ' -f2 "$STATE/curl-$f.txt" | median)
        awk -v f=$f -v mb="$mb" -v m="$m" \
            'BEGIN {printf "   stream %-6s to curl: %d MB, median %.2f s = %.0f MB/s, %.1f M rows/s\n", f, mb, m, mb/m, 10/m}'
    done
} | tee "$OUT"
