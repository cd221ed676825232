#!/usr/bin/env bash
# PDQ speed benchmark: `ward hash` against Meta's C++ PDQ (the `pdqhash` package), in one run
# on the same files: the reference images and generated 12-megapixel photos, one core and all
# cores. See bench/pdq/README.md.
#
#   bench/pdq/run.sh                 # 20 photos, best of 3
#   PHOTOS=10 REPEAT=3 bench/pdq/run.sh
#
# Environment: WARD_SHARED (default: the `shared` folder beside the repository), PHOTOS (20),
# REPEAT (3), WAIT_QUIET (5: seconds to wait, before each measurement, for idle cores).
# Writes bench/work/ (photos, the pdq-split build; git-ignored), the venv bench/.venv
# (git-ignored) and the raw output bench/runs/<date>-<host>/pdq.txt.
set -euo pipefail

repo=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
cd "$repo"
shared=${WARD_SHARED:-$repo/../shared}
shared=$(cd "$shared" && pwd)
work=$repo/bench/work
venv=$repo/bench/.venv
mkdir -p "$work"

# 1. ward itself, and the per-phase timer (a throwaway package outside the workspace).
cargo build --release -p ward
ward=$repo/target/release/ward
split_dir=$work/pdq-split
mkdir -p "$split_dir/src"
cp bench/pdq/split.rs "$split_dir/src/main.rs"
[ -f "$split_dir/Cargo.lock" ] || cp Cargo.lock "$split_dir/Cargo.lock" 2>/dev/null || true
cat > "$split_dir/Cargo.toml" <<EOF
[package]
name = "pdq-split"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
ward-media = { path = "$repo/crates/ward-media" }
ward-pdq = { path = "$repo/crates/ward-pdq" }

# As the workspace's release profile.
[profile.release]
opt-level = 3
lto = "thin"
codegen-units = 4

[workspace]
EOF
split_bin=
if (cd "$split_dir" && CARGO_TARGET_DIR=$split_dir/target cargo build --release --quiet); then
    split_bin=$split_dir/target/release/pdq-split
else
    echo "warning: pdq-split did not build; the decode/hash split of ward is skipped" >&2
fi

# 2. The reference: Meta's C++ PDQ through the pdqhash package (compiled here if no wheel).
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import pdqhash, PIL, numpy' 2>/dev/null; then
    "$venv/bin/pip" install --quiet pdqhash pillow numpy
fi

# 3. Run, keeping the raw output.
out_dir=$repo/bench/runs/$(date +%F)-$(hostname -s)
mkdir -p "$out_dir"
{
    echo "# bench/pdq/run.sh, $(date -u +%FT%TZ), $(git rev-parse --short HEAD)$([ -z "$(git status --porcelain -- crates Cargo.toml)" ] || echo " + uncommitted changes in crates/")"
    echo "# cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(uname -sr)"
    echo "# $("$ward" --version 2>/dev/null || echo ward)"
    OMP_NUM_THREADS=1 "$venv/bin/python" bench/pdq/bench.py \
        --ward "$ward" --shared "$shared" --work "$work" \
        --photos "${PHOTOS:-20}" --repeat "${REPEAT:-3}" --wait-quiet "${WAIT_QUIET:-5}" \
        ${split_bin:+--split "$split_bin"}
} 2>&1 | tee "$out_dir/pdq.txt"
echo "raw output: $out_dir/pdq.txt"
