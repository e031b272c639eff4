#!/usr/bin/env bash
# The cost of the cluster path: in one benchmark run, the same generated snapshot
# through the embedded engine and through a Ballista cluster of one scheduler and
# two executors started here on 127.0.0.1 (as `revleak cluster` processes), with
# the findings of both compared. See docs/cluster.md.
#
#   scripts/bench_cluster.sh             # scale 1, 3 runs each
#   SCALE=0.1 RUNS=5 scripts/bench_cluster.sh
#
# Environment:
#   REVLEAK_BENCH_DIR  (or BENCH_DIR) snapshots and outputs (default /tmp/revleak-bench)
#   SCALE, RUNS        (default 1 and 3)
#   CARGO_TARGET_DIR   cargo's target folder (default ./target)
#   BENCH_BIN          use this binary instead of building the release one
set -euo pipefail

scale=${SCALE:-1}
runs=${RUNS:-3}
BENCH_FEATURES=cluster
# shellcheck source=scripts/bench_setup.sh
source "$(dirname "$0")/bench_setup.sh"

snap=$(snapshot_for "$scale")

work=$bench_dir/cluster-$scale
rm -rf "$work"
mkdir -p "$work/logs"
pids=()
stop_cluster() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_cluster EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on port $1; see $work/logs" >&2
    exit 2
}

sport=$(free_port)
"$bin" cluster scheduler --bind "127.0.0.1:$sport" >"$work/logs/scheduler.log" 2>&1 &
pids+=($!)
wait_port "$sport"
for i in 1 2; do
    eport=$(free_port)
    while (exec 3<>"/dev/tcp/127.0.0.1/$((eport + 1))") 2>/dev/null; do eport=$(free_port); done
    "$bin" cluster executor --scheduler "127.0.0.1:$sport" --bind "127.0.0.1:$eport" \
        --work-dir "$work/executor-$i" >"$work/logs/executor-$i.log" 2>&1 &
    pids+=($!)
    wait_port "$eport"
done
sleep 2

echo "# revleak cluster benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "# revleak $("$bin" --version | awk '{print $2}') ($(git rev-parse --short HEAD 2>/dev/null || echo '?')), scale $scale, $runs runs each"
echo "# cluster: 1 scheduler + 2 executors on this machine (127.0.0.1:$sport)"

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

declare -A medians
for engine in local ballista; do
    times=()
    for run in $(seq 1 "$runs"); do
        out=$work/out-$engine-$run
        args=()
        [ "$engine" = ballista ] && args=(--engine ballista --scheduler "df://127.0.0.1:$sport")
        start=$(date +%s.%N)
        "$bin" -q run "$snap" --out "$out" "${args[@]}" >/dev/null
        end=$(date +%s.%N)
        t=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
        times+=("$t")
        echo "$engine run $run: ${t} s" >&2
    done
    medians[$engine]=$(printf '%s\n' "${times[@]}" | median)
    echo "$engine: median ${medians[$engine]} s (runs: ${times[*]})"
done

python3 - "$work/out-local-1" "$work/out-ballista-1" <<'EOF' || { echo "findings differ"; exit 1; }
import sys, duckdb  # pip install duckdb, as for scripts/duckdb_peer.py
def load(out):
    return duckdb.sql(
        f"select * exclude (run_id) from read_parquet('{out}/findings/*/part-0.parquet') "
        "order by check_id, entity_type, entity_id").fetchall()
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a == b, "local and cluster findings differ"
print(f"findings identical: {len(a)} rows")
EOF
awk -v l="${medians[local]}" -v c="${medians[ballista]}" \
    'BEGIN { printf "cluster overhead: %.2f s (%.1f x the embedded engine)\n", c - l, c / l }'
