#!/usr/bin/env bash
# vPDQ speed benchmark: `ward hash --format vpdq` against Meta's C++ vPDQ (the `vpdq` Python
# package, compiled here against Debian's FFmpeg), in one run on the reference's sample videos,
# at seconds per hash 1 and 0. See bench/vpdq/README.md.
#
#   bench/vpdq/run.sh                  # best of 3
#   REPEAT=5 bench/vpdq/run.sh
#
# Environment: WARD_SHARED (default: the `shared` folder beside the repository), REPEAT (3),
# SECONDS_PER_HASH ("1 0"). Uses target/release/ward, building it (default target dir) only
# when it is missing or older than HEAD's commit. Writes the venv bench/.venv (git-ignored) and
# the raw output bench/runs/<date>-<host>/vpdq.txt (RUN_DIR to choose another).
set -euo pipefail

repo=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
cd "$repo"
shared=${WARD_SHARED:-$repo/../shared}
shared=$(cd "$shared" && pwd)
venv=$repo/bench/.venv
run_dir=${RUN_DIR:-$repo/bench/runs/$(date +%F)-$(hostname -s)}
mkdir -p "$run_dir"

# 1. ward: reuse the release binary unless it predates the checked-out commit.
ward=$repo/target/release/ward
head_time=$(git log -1 --format=%ct HEAD)
if [ ! -x "$ward" ] || [ "$(stat -c %Y "$ward")" -lt "$head_time" ]; then
    cargo build --release -p ward
fi

# 2. The reference: Meta's vPDQ through the `vpdq` package, built from source against the
#    system's libavcodec/libavformat/libswscale (Debian: apt-get install libavcodec-dev
#    libavformat-dev libswscale-dev libavutil-dev libavdevice-dev pkg-config cmake).
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import vpdq' 2>/dev/null; then
    "$venv/bin/pip" install --quiet vpdq
fi

# 3. One run, both sides, the same files.
mapfile -t videos < <(ls "$shared"/reference/vpdq/videos/*.mp4)
{
    echo "# bench/vpdq/run.sh, $(date -u +%FT%TZ), $(hostname -s), commit $(git rev-parse --short HEAD)"
    echo "# ward: $("$ward" --version 2>/dev/null || echo unknown); vpdq $("$venv/bin/pip" show vpdq 2>/dev/null | sed -n 's/^Version: //p'); $(ffmpeg -version | head -1)"
    echo "# $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    "$venv/bin/python" "$repo/bench/vpdq/bench.py" "$ward" "${videos[@]}"
} 2>&1 | tee "$run_dir/vpdq.txt"
