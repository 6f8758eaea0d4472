#!/usr/bin/env bash
# bench/run.sh: featherman's performance against its baselines, measured in one run.
#
# Set-up (once): starts a private PostgreSQL cluster (initdb in a temporary directory, run as the
# 'postgres' user when we are root, as tests/integration/services.py does), then
# `featherman local --slots 4` on a fresh state directory with two catalogs:
#   bench    SQLite metadata (bench/lake/lake.yaml): events 1M rows, big 10M rows
#   benchpg  Postgres metadata in that cluster (password from a v1 Secret manifest): events 1M rows
# Each table has id BIGINT, country VARCHAR, amount DOUBLE, ts TIMESTAMP, loaded through the API.
#
# Then BENCH_ROUNDS rounds (default 3) on the same server, each printing one results block:
#   (a) SELECT 1 and a small aggregate over the 1M-row table (SQLite and Postgres metadata) through
#       featherman with 1, 2 and 4 concurrent keep-alive clients (build/bench/latency -j), the same
#       queries on a warm in-process DuckDB connection (build/bench/fresh_query -r: DuckDB's own
#       cost, no HTTP) and as whole fresh DuckDB processes (build/bench/fresh_query; hyperfine);
#   (b) 1M and 10M rows (BIGINT, DOUBLE, VARCHAR, TIMESTAMP) as Arrow IPC into pyarrow end to end
#       against DuckDB's Python package building the same table in-process from the same lake;
#   (c) the stream rates of those queries as arrow, CSV and NDJSON into curl, and of the 3-column
#       generated query of the previous bench (for a before/after comparison).
# Blocks go to stdout and to build/bench/results-<time>.txt; bench/summarize.py takes medians.
# Knobs: BENCH_ROUNDS, BENCH_N (SELECT 1 requests per latency run), BENCH_NAGG (aggregate requests),
# BENCH_REPS (repetitions of each bulk measurement per round), BENCH_PORT, BENCH_STATE.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$(sed -n 's/^TEST_VENV := //p' build/config.mk)/bin/python
PG_BIN=$(sed -n 's/^PG_BIN := //p' build/config.mk)
export FEATHERMAN_EXTENSION_DIR=$(sed -n 's/^FEATHERMAN_EXTENSION_DIR := //p' build/config.mk)
freeport() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=${BENCH_PORT:-$(freeport)}
ROUNDS=${BENCH_ROUNDS:-3}
N=${BENCH_N:-4000}
NAGG=${BENCH_NAGG:-400}
REPS=${BENCH_REPS:-3}
STATE=${BENCH_STATE:-$ROOT/build/bench/state}
URL=http://127.0.0.1:$PORT/query
OUT=$ROOT/build/bench/results-$(date +%Y%m%dT%H%M%S).txt

make -s -j2 all bench
if ! command -v hyperfine >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y hyperfine >/dev/null 2>&1 || true
fi
command -v hyperfine >/dev/null || { echo "bench: hyperfine is needed for the fresh-process baseline"; exit 1; }

# --- private Postgres (the metadata of catalog benchpg)
PGDIR=$(mktemp -d /tmp/fm-bench-pg-XXXXXX)
PGPORT=$(freeport)
PGPW=bench-pg-$RANDOM$RANDOM
AS=()
printf '%s' "$PGPW" >"$PGDIR/pw"
if [ "$(id -u)" = 0 ]; then # initdb refuses root
    chown postgres "$PGDIR" "$PGDIR/pw" && chmod 755 "$PGDIR"
    AS=(runuser -u postgres --)
fi
FPID=
cleanup() {
    [ -n "$FPID" ] && { kill -TERM "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null || true; }
    "${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PGDIR"
}
trap cleanup EXIT
"${AS[@]}" "$PG_BIN/initdb" -D "$PGDIR/data" -U featherman --pwfile "$PGDIR/pw" -A scram-sha-256 --no-sync >/dev/null
"${AS[@]}" "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/pg.log" -w \
    -o "-p $PGPORT -h 127.0.0.1 -k $PGDIR -c fsync=off" start >/dev/null
PGPASSWORD=$PGPW "$PG_BIN/psql" -h 127.0.0.1 -p "$PGPORT" -U featherman -d postgres -qAtc 'CREATE DATABASE bench'
PGCONN="dbname=bench host=127.0.0.1 port=$PGPORT user=featherman password=$PGPW"

# --- featherman local with both catalogs
rm -rf "$STATE" && mkdir -p "$STATE/manifests"
cp bench/lake/lake.yaml "$STATE/manifests/"
cat >"$STATE/manifests/pg.yaml" <<EOF
apiVersion: v1
kind: Secret
metadata: {name: bench-pg}
stringData:
  password: $PGPW
---
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeCatalog
metadata: {name: benchpg}
spec:
  metadata: {type: postgres, host: 127.0.0.1, port: $PGPORT, database: bench, user: featherman,
             passwordSecret: {name: bench-pg}, sslMode: disable}
---
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeTable
metadata: {name: events-pg}
spec:
  catalogRef: benchpg
  name: events
  columns:
    - {name: id, type: BIGINT, nullable: false}
    - {name: country, type: VARCHAR}
    - {name: amount, type: DOUBLE}
    - {name: ts, type: TIMESTAMP}
  format: {compression: ZSTD}
EOF
export FEATHERMAN_TOKEN=bench-$RANDOM$RANDOM
build/featherman local --manifests "$STATE/manifests" --state "$STATE" --listen 127.0.0.1:$PORT --slots 4 \
    >"$STATE.log" 2>&1 &
FPID=$!
for _ in $(seq 1 300); do
    curl -sf http://127.0.0.1:$PORT/readyz >/dev/null 2>&1 && break
    kill -0 $FPID 2>/dev/null || { cat "$STATE.log"; exit 1; }
    sleep 0.1
done

body() { # SQL CATALOG [format] -> the JSON request body
    "$PY" -c 'import json,sys; print(json.dumps({"sql": sys.argv[1], "catalog": sys.argv[2], "format": sys.argv[3]}))' \
        "$1" "$2" "${3:-csv}"
}
q() { curl -sf "$URL" -H "Authorization: Bearer $FEATHERMAN_TOKEN" -d "$(body "$@")"; }
ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$(ns)" 'BEGIN {printf "%.2f", (b-a)/1e9}'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p"; } # KEY: value of KEY=value in a line

GEN="range, (['DE','FR','US','JP','BR','IN','NG','AU'])[range % 8 + 1], (range % 1000) / 10.0,
     TIMESTAMP '2024-01-01' + to_seconds(range)"
t0=$(ns); q "INSERT INTO events SELECT $GEN FROM range(1000000)" bench >/dev/null; L1=$(secs "$t0")
t0=$(ns); q "INSERT INTO big SELECT $GEN FROM range(10000000)" bench >/dev/null; L2=$(secs "$t0")
t0=$(ns); q "INSERT INTO events SELECT $GEN FROM range(1000000)" benchpg >/dev/null; L3=$(secs "$t0")

Q1="SELECT 1"
QA="SELECT country, count(*) AS n, sum(amount) AS total FROM events GROUP BY country ORDER BY country"
B1="SELECT id, amount, country, ts FROM events"
B10="SELECT id, amount, country, ts FROM big"
BOLD="SELECT range AS id, range * 2 AS v, 'x' || (range % 100) AS s FROM range(10000000)"
for c in bench benchpg; do
    [ "$(q "$QA" $c | awk -F, 'NR > 1 {n += $2} END {print n}')" = 1000000 ] || { echo "bench: $c not loaded"; exit 1; }
done

fresh() { # fresh_query args... -> median [min..max] ms of whole fresh processes (hyperfine)
    hyperfine -N --style none --warmup 2 --runs 20 --export-json "$STATE/hf.json" \
        "$(printf '%q ' build/bench/fresh_query "$@")" >/dev/null
    "$PY" -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]
print("median_ms=%.1f min_ms=%.1f max_ms=%.1f" % (r["median"]*1e3, r["min"]*1e3, r["max"]*1e3))' "$STATE/hf.json"
}
bulk() { # label catalog SQL
    local a line hs=() hc=() ds=() dc=()
    for _ in $(seq 1 "$REPS"); do
        a=$(ns); line=$("$PY" bench/arrow_client.py http "$URL" "$2" "$3"); hc+=($((($(ns) - a) / 1000000)))
        hs+=("$(echo "$line" | field seconds)"); rows=$(echo "$line" | field rows)
        a=$(ns); line=$("$PY" bench/arrow_client.py duckdb "$STATE" "$2" "$3"); dc+=($((($(ns) - a) / 1000000)))
        ds+=("$(echo "$line" | field seconds)")
    done
    echo "bulk $1 featherman->pyarrow: rows=$rows seconds=$(printf '%s\n' "${hs[@]}" | median) client_ms=$(printf '%s\n' "${hc[@]}" | median)"
    echo "bulk $1 duckdb-python: rows=$rows seconds=$(printf '%s\n' "${ds[@]}" | median) client_ms=$(printf '%s\n' "${dc[@]}" | median)"
}
stream() { # label catalog SQL rows
    local f
    for f in arrow csv ndjson; do
        local b; b=$(body "$3" "$2" "$f")
        for _ in $(seq 1 "$REPS"); do
            curl -sf -o /dev/null -w '%{size_download} %{time_total}\n' "$URL" \
                -H "Authorization: Bearer $FEATHERMAN_TOKEN" -d "$b"
        done >"$STATE/curl.txt"
        local mb m; mb=$(head -1 "$STATE/curl.txt" | awk '{printf "%.0f", $1/1e6}')
        m=$(cut -d' ' -f2 "$STATE/curl.txt" | median)
        awk -v l="$1" -v f=$f -v rows="$4" -v mb="$mb" -v m="$m" \
            'BEGIN {printf "stream %s %s: mb=%d s=%.3f mbps=%.0f mrows=%.2f\n", l, f, mb, m, mb/m, rows/1e6/m}'
    done
}

{
    echo "== setup $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git rev-parse --short HEAD) load=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "load through the API: events 1M (sqlite) ${L1} s, big 10M (sqlite) ${L2} s, events 1M (postgres) ${L3} s"
} | tee "$OUT"
for r in $(seq 1 "$ROUNDS"); do
    {
        echo "== featherman bench round $r $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git rev-parse --short HEAD) nproc=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"
        for j in 1 2 4; do
            echo "lat select1 featherman j=$j: $(build/bench/latency -u "$URL" -c bench -j $j -n $((N / j)) -w $((N / j / 10)) "$Q1")"
        done
        echo "lat select1 in-process: $(build/bench/fresh_query -L -r "$N" "$STATE" bench "$Q1")"
        echo "lat select1 fresh-bare: $(fresh -L "$STATE" bench "$Q1")"
        for c in bench benchpg; do
            m=sqlite; pg=()
            if [ $c = benchpg ]; then m=postgres; pg=(-p "$PGCONN"); fi
            for j in 1 2 4; do
                echo "lat agg-$m featherman j=$j: $(build/bench/latency -u "$URL" -c $c -j $j -n $((NAGG / j)) -w $((NAGG / j / 10)) "$QA")"
            done
            echo "lat agg-$m in-process: $(build/bench/fresh_query "${pg[@]}" -r "$NAGG" "$STATE" $c "$QA")"
            echo "lat agg-$m fresh-lake: $(fresh "${pg[@]}" "$STATE" $c "$QA")"
        done
        bulk 1M bench "$B1"
        bulk 10M bench "$B10"
        stream 1M bench "$B1" 1000000
        stream 10M bench "$B10" 10000000
        stream old3col bench "$BOLD" 10000000
        echo "== end of round $r load=$(cut -d' ' -f1-3 /proc/loadavg)"
    } | tee -a "$OUT"
done
echo "bench: results in $OUT"
