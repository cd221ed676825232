#!/usr/bin/env bash
# ward-index against FAISS on the same synthetic banks, single-threaded.
#
#   bench/index/run.sh            # 1 M and 10 M hashes (about 15 minutes)
#   bench/index/run.sh --quick    # 1 M only (about 2 minutes)
#
# Writes the data to bench/work/index-<size>/ (reused when present) and the results, as JSON
# plus the printed report, to bench/runs/<date>-<host>/index/. Set INDEX_BENCH to a prebuilt
# `index_bench` binary to skip the cargo build.
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$PWD
sizes=(1000000 10000000)
flat_queries=(100 20)
if [[ "${1:-}" == "--quick" ]]; then
    sizes=(1000000)
    flat_queries=(100)
fi

export OMP_NUM_THREADS=1 RAYON_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

if [[ -z "${INDEX_BENCH:-}" ]]; then
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target-index}"
    cargo build --release -p ward-index --example index_bench
    INDEX_BENCH="$CARGO_TARGET_DIR/release/examples/index_bench"
fi

venv="$root/bench/.venv"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c "import faiss, numpy" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet faiss-cpu numpy
fi

out="$root/bench/runs/$(date +%Y-%m-%d)-$(hostname -s)/index"
mkdir -p "$out"
{
    echo "# $(date -u +%FT%TZ) $(uname -srm)"
    grep -m1 "model name" /proc/cpuinfo || true
    echo "# command: bench/index/run.sh $*"
} | tee "$out/report.txt"

for i in "${!sizes[@]}"; do
    n=${sizes[$i]}
    data="$root/bench/work/index-$n"
    if [[ ! -f "$data/bank.bin" ]]; then
        "$INDEX_BENCH" gen --n "$n" --planted 1000 --misses 1000 --seed 1 --out "$data"
    fi
    echo "## $n hashes" | tee -a "$out/report.txt"
    "$INDEX_BENCH" ward --dir "$data" --flat-queries "${flat_queries[$i]}" \
        --json "$out/ward-$n.json" | tee -a "$out/report.txt"
    "$venv/bin/python" "$root/bench/index/faiss_bench.py" --dir "$data" \
        --flat-queries "${flat_queries[$i]}" --json "$out/faiss-$n.json" | tee -a "$out/report.txt"
    "$venv/bin/python" "$root/bench/index/summary.py" "$out/ward-$n.json" "$out/faiss-$n.json" \
        | tee -a "$out/report.txt"
done
echo "results in $out"
