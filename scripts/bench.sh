#!/usr/bin/env bash
# Benchmark of `revleak run` on generated snapshots, beside DuckDB running the same
# check SQL (scripts/duckdb_peer.py). See docs/performance.md and BENCHMARKS.md.
#
#   scripts/bench.sh                 # scales 1 and 10
#   SCALES="1" RUNS=5 scripts/bench.sh
#
# Environment:
#   REVLEAK_BENCH_DIR  (or BENCH_DIR) where snapshots (generated once, then reused) and outputs go
#                      (default /tmp/revleak-bench; never inside the repository)
#   SCALES             scales to run (default "1 10")
#   RUNS               runs per scale (default: 3, and 2 from scale 10 on)
#   THREADS            --threads for revleak and DuckDB's threads (default: cores)
#   BENCH_ARGS         extra `revleak run` flags, e.g. "--memory-limit 1GiB"
#   NO_DUCKDB=1        skip the DuckDB peer (needs `pip install duckdb`)
#   CARGO_TARGET_DIR   cargo's target folder (default ./target)
#   BENCH_BIN          use this binary instead of building the release one
set -euo pipefail

scales=${SCALES:-"1 10"}
threads=${THREADS:-$(nproc)}
# shellcheck source=scripts/bench_setup.sh
source "$(dirname "$0")/bench_setup.sh"

if [ -x /usr/bin/time ]; then
    timer=(/usr/bin/time -v)
else
    echo "/usr/bin/time is missing (apt-get install time): peak RSS is not measured" >&2
    timer=()
fi

echo "# revleak benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "# revleak $("$bin" --version | awk '{print $2}') ($(git rev-parse --short HEAD 2>/dev/null || echo '?')), threads $threads ${BENCH_ARGS:-}"

for scale in $scales; do
    snap=$(snapshot_for "$scale")
    runs=${RUNS:-$(awk -v s="$scale" 'BEGIN { print (s >= 10 ? 2 : 3) }')}
    results=$bench_dir/scale-$scale/results
    rm -rf "$results" "$bench_dir/scale-$scale"/out "$bench_dir/scale-$scale"/out-*
    mkdir -p "$results"
    for i in $(seq 1 "$runs"); do
        # A folder per run, all removed after the last: on ext4, creating the
        # 10,000 statement pages right after deleting the last run's costs the
        # kernel's inode allocator more than the pages (BENCHMARKS.md).
        out=$bench_dir/scale-$scale/out-$i
        echo "scale $scale: run $i of $runs..." >&2
        start=$(date +%s.%N)
        # shellcheck disable=SC2086
        REVLEAK_LOG=revleak=debug "${timer[@]}" "$bin" --log-format json run "$snap" \
            --out "$out" --queries "$repo/queries" --threads "$threads" ${BENCH_ARGS:-} \
            >"$results/stdout-$i.txt" 2>"$results/stderr-$i.txt" || {
            echo "revleak run failed (see $results/stderr-$i.txt):" >&2
            tail -5 "$results/stderr-$i.txt" >&2
            exit 2
        }
        end=$(date +%s.%N)
        echo "$start $end" >"$results/wall-$i.txt"
        cp "$out"/runs/as_of=*/manifest.json "$results/manifest-$i.json"
    done
    rm -rf "$bench_dir/scale-$scale"/out-*
    if [ -z "${NO_DUCKDB:-}" ]; then
        echo "scale $scale: DuckDB peer..." >&2
        python3 "$repo/scripts/duckdb_peer.py" "$snap" --queries "$repo/queries" \
            --threads "$threads" --json "$results/duckdb.json" >"$results/duckdb.txt" 2>&1 || {
            echo "DuckDB peer failed: $(tail -3 "$results/duckdb.txt")" >&2
            rm -f "$results/duckdb.json"
        }
    fi
    python3 - "$scale" "$results" "$runs" <<'EOF'
import json, re, statistics, sys, os
scale, results, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
walls, rss, manifests, stages = [], [], [], []
for i in range(1, runs + 1):
    a, b = open(f"{results}/wall-{i}.txt").read().split()
    walls.append(float(b) - float(a))
    err = open(f"{results}/stderr-{i}.txt").read()
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    rss.append(int(m.group(1)) / 1024 if m else None)
    manifests.append(json.load(open(f"{results}/manifest-{i}.json")))
    st = {}
    for line in err.splitlines():
        if line.startswith("{"):
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            # stages only: per-check, per-table and per-layer lines carry check_id / table / layer
            if "ms" in ev and ev.get("message") and not {"check_id", "table", "layer"} & ev.keys():
                st[ev["message"]] = ev["ms"]
    stages.append(st)
med = statistics.median(walls)
mid = sorted(range(runs), key=lambda i: walls[i])[runs // 2] if runs % 2 else sorted(range(runs), key=lambda i: walls[i])[runs // 2 - 1]
man = manifests[mid]
rows = sum(t["rows_read"] for t in man["inputs"])
mb = sum(t["bytes"] for t in man["inputs"]) / 1e6
print(f"\n## scale {scale}: {rows:,} input rows, {mb:.1f} MB Parquet, {man['findings']:,} findings")
print(f"wall time   median {med:.2f} s of {runs} runs ({', '.join(f'{w:.2f}' for w in walls)})")
print(f"throughput  {rows / med:,.0f} input rows/s")
if all(r is not None for r in rss):
    print(f"peak RSS    max {max(rss):,.0f} MiB ({', '.join(f'{r:,.0f}' for r in rss)})")
print("stages (median run; ms as logged: since the snapshot was opened for a stage, its own for a table's rules or a report step):")
for k, v in stages[mid].items():
    print(f"  {v:>8} ms  {k}")
duck = None
if os.path.exists(f"{results}/duckdb.json"):
    duck = json.load(open(f"{results}/duckdb.json"))
print(f"per check (ms; revleak = mean of {runs} runs):")
print(f"  {'check':<26} {'revleak':>9} {'duckdb':>9} {'ratio':>7} {'findings':>9}")
rev_portable = duck_portable = 0.0
for c in man["checks"]:
    mean = statistics.mean(
        next(x["millis"] for x in m["checks"] if x["check_id"] == c["check_id"]) for m in manifests
    )
    d = duck["checks"].get(c["check_id"]) if duck else None
    if d:
        rev_portable += mean
        duck_portable += d["ms"]
        print(f"  {c['check_id']:<26} {mean:>9.0f} {d['ms']:>9.0f} {mean / max(d['ms'], 0.1):>7.1f} {c['rows']:>9}")
    else:
        print(f"  {c['check_id']:<26} {mean:>9.0f} {'-':>9} {'':>7} {c['rows']:>9}")
checks_total = sum(statistics.mean(x["millis"] for x in m["checks"]) * len(m["checks"]) for m in manifests) / runs
print(f"  {'all checks':<26} {checks_total:>9.0f}")
if duck:
    print(f"duckdb {duck['duckdb']} ({duck['threads']} threads, no data-quality layer, no outputs):")
    print(f"  setup {duck['setup_ms']:.0f} ms, shared views {duck['shared_total_ms']:.0f} ms, "
          f"checks {duck['checks_total_ms']:.0f} ms, total {duck['total_ms']:.0f} ms")
    print(f"  portable checks: revleak {rev_portable:.0f} ms vs duckdb {duck_portable:.0f} ms "
          f"(ratio {rev_portable / max(duck_portable, 0.1):.1f})")
    print(f"  end to end: revleak {med * 1000:.0f} ms vs duckdb {duck['total_ms']:.0f} ms "
          f"(ratio {med * 1000 / max(duck['total_ms'], 0.1):.1f})")
    for what, err in duck["not_portable"].items():
        print(f"  not portable: {what}: {err}")
EOF
done
