# Sourced by scripts/bench.sh and scripts/bench_cluster.sh: the benchmark folder,
# the release binary (built unless BENCH_BIN names one), and snapshots generated
# once per scale. Sets repo, bench_dir and bin; defines snapshot_for SCALE.

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
bench_dir=${BENCH_DIR:-${REVLEAK_BENCH_DIR:-/tmp/revleak-bench}}
# revleak reads every REVLEAK_* variable as configuration and rejects unknown ones.
unset REVLEAK_BENCH_DIR
target=${CARGO_TARGET_DIR:-$repo/target}
bin=${BENCH_BIN:-$target/release/revleak}
mkdir -p "$bench_dir"

if [ -z "${BENCH_BIN:-}" ]; then
    echo "building release (nice -n 19)..." >&2
    # bench_cluster.sh sets BENCH_FEATURES=cluster: the cluster roles are a cargo feature.
    nice -n 19 cargo build --release --quiet ${BENCH_FEATURES:+--features "$BENCH_FEATURES"}
fi
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 2; }

# Prints the snapshot folder of SCALE, generating it (seed 42) the first time.
snapshot_for() {
    local scale=$1
    local snap=$bench_dir/scale-$scale/snapshot
    if [ ! -f "$bench_dir/scale-$scale/.generated" ]; then
        echo "generating scale $scale into $snap..." >&2
        rm -rf "$bench_dir/scale-$scale"
        mkdir -p "$bench_dir/scale-$scale"
        "$bin" -q generate --out "$snap" --scale "$scale" --seed 42 >&2
        touch "$bench_dir/scale-$scale/.generated"
    fi
    echo "$snap"
}
