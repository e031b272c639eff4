#!/usr/bin/env bash
# Where a `revleak run` spends its CPU: the run under `perf record` (sampling, no
# call graphs), its samples summed into what the work is (hash-join probes,
# groupings, copying rows, Parquet decoding, the allocator, the kernel, ...), the
# busiest functions, and the stage times of the run's debug log. What BENCHMARKS.md
# quotes as "the profile"; see docs/performance.md.
#
#   scripts/profile.sh                          # scale 10, checks and actions
#   SCALE=50 scripts/profile.sh
#   SCALE=10 scripts/profile.sh --partner-reports
#
# Arguments are extra `revleak run` flags. Environment: SCALE (default 10),
# REVLEAK_BENCH_DIR, BENCH_BIN, CARGO_TARGET_DIR as for scripts/bench.sh;
# PROFILE_OUT, a folder under which the run writes (default: the bench folder;
# /dev/shm keeps the file system out of the profile). Needs perf (linux-tools)
# with perf_event_paranoid <= 2 or root, and python3.
set -euo pipefail

scale=${SCALE:-10}
# shellcheck source=scripts/bench_setup.sh
source "$(dirname "$0")/bench_setup.sh"
command -v perf >/dev/null || { echo "perf is missing (apt-get install linux-perf)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is missing (apt-get install time)" >&2; exit 2; }

snap=$(snapshot_for "$scale")
work=$bench_dir/profile-$scale
rm -rf "$work"
mkdir -p "$work"
# a folder of its own, removed after the run, also inside PROFILE_OUT
out=${PROFILE_OUT:-$work}/revleak-profile-$$

echo "# revleak profile $(date -u +%Y-%m-%dT%H:%M:%SZ): scale $scale $*"
echo "# machine: $(nproc) cores, $(uname -sr); revleak $("$bin" --version | awk '{print $2}') ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
REVLEAK_LOG=revleak=debug perf record -q -F 1999 -o "$work/perf.data" -- \
    /usr/bin/time -f '%e %U %S %M' "$bin" --log-format json run "$snap" --out "$out" \
    --queries "$repo/queries" -q "$@" >/dev/null 2>"$work/stderr.txt" || {
    echo "revleak run failed (see $work/stderr.txt):" >&2
    tail -5 "$work/stderr.txt" >&2
    exit 2
}
rm -rf "$out"
read -r wall user sys rss < <(tail -1 "$work/stderr.txt")
echo "# wall ${wall} s, user ${user} s, system ${sys} s, peak RSS $((rss / 1024)) MiB"

perf report -i "$work/perf.data" --no-children --sort symbol --stdio 2>/dev/null \
    >"$work/symbols.txt"

python3 - "$work/symbols.txt" "$work/stderr.txt" <<'PY'
import json, re, sys
from datetime import datetime

# What the work is, by the sampled function's name; the first match wins.
CATEGORIES = [
    ("hash joins: probing and matching rows", r"JoinHashMap.*(get_matched|get_indices)|equal_rows|get_(anti|semi)_indices|HashJoinStream|apply_join_filter|adjust_indices|build_equal_condition"),
    ("hash joins: building hash tables", r"JoinHashMap.*update_from_iter|update_hash|collect_left_input"),
    ("hashing keys", r"hash_utils|create_hashes|hash_one|ahash|foldhash|sip::Hasher|hash_array"),
    ("groupings (aggregates, distinct)", r"aggregates::|GroupValues|group_values|accumulate|Accumulator|insert_accounted|hashbrown|NullState"),
    ("Parquet writing", r"arrow_writer|column::writer|encoding::|encoder|ZSTD_compress|ZSTD_encode|HUF_compress|FSE_compress"),
    ("Parquet reading and zstd", r"parquet::|ZSTD_|HUF_|FSE_|zstd|snap::|lz4"),
    ("copying rows (take, filter, concat, memmove)", r"memmove|memcpy|memset|take_|filter|concat|interleave|MutableArrayData|extend_|BatchCoalescer|coalesce"),
    ("comparing values (strings, sorts)", r"memcmp|compare|cmp::|apply_op|lexsort|sort|merge::"),
    ("HTML rendering", r"maud|report::|statement::|escape"),
    ("expressions (casts, dates, strings)", r"datafusion_functions|arrow_cast|arrow_arith|arrow_string|chrono|udf::|datetime|CaseExpr|physical_expr"),
    ("memory allocator", r"malloc|free|_int_|realloc|unlink_chunk|consolidate|sysmalloc|alloc::"),
    ("kernel: memory (page faults, zeroing)", r"^\[k\].*(fault|page|folio|memcg|clear_|lru|mm_|pte|pmd|rmqueue|zone|huge)"),
    ("kernel: files", r"^\[k\].*(ext4|block|brelse|recently_deleted|filemap|dentry|inode|_iter|jbd|bio|xfs|btrfs|path|lookup)"),
    ("kernel: other", r"^\[k\]"),
    ("revleak's own code", r"revleak::"),
]

symbols = []
for line in open(sys.argv[1]):
    m = re.match(r"\s*([\d.]+)%\s+(\[[k.]\])\s+(.*)$", line)
    if m:
        symbols.append((float(m.group(1)), f"{m.group(2)} {m.group(3).strip()}"))
totals = {name: 0.0 for name, _ in CATEGORIES}
totals["other"] = 0.0
for share, symbol in symbols:
    for name, pattern in CATEGORIES:
        if re.search(pattern, symbol):
            totals[name] += share
            break
    else:
        totals["other"] += share

print("\n## CPU by kind of work (share of the run's samples, both cores)\n")
print("| work | share |\n| --- | ---: |")
for name, share in sorted(totals.items(), key=lambda kv: -kv[1]):
    if share >= 0.05:
        print(f"| {name} | {share:.1f} % |")
print("\n## The busiest functions\n")
print("| function | share |\n| --- | ---: |")
for share, symbol in symbols[:15]:
    # `[.] <a::b::Type<T> as c::Trait>::method - -` → `Type<T> as Trait>::method`
    symbol = re.sub(r"\s+-\s+-\s*$", "", symbol)
    symbol = re.sub(r"\b[a-z_][a-z0-9_]*::", "", symbol)
    symbol = re.sub(r"\s+", " ", symbol)[:100].replace("|", "\\|")
    print(f"| `{symbol}` | {share:.1f} % |")

# The stage lines scripts/bench.sh picks from the log (those with `ms` that are not per
# check, table, layer or file), placed by their timestamps: their own `ms` is
# cumulative for some and per step for others.
events = [json.loads(line) for line in open(sys.argv[2]) if line.startswith("{")]
at = lambda event: datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
if events:
    start = at(events[0])
    print("\n## Stages (the run's debug log, from its first line)\n")
    print("| stage | ends at |\n| --- | ---: |")
    for event in events:
        if "ms" in event and event.get("message") and not {"check_id", "table", "layer", "file"} & event.keys():
            print(f"| {event['message']} | {(at(event) - start).total_seconds():.2f} s |")
PY
echo
echo "# perf data: $work/perf.data (perf report -i $work/perf.data)"
