#!/usr/bin/env bash
# Edit-robust matching benchmark (issue 8): recall per edit family, plain PDQ against ward's
# normalisation, for a bank of plain hashes and a bank built from the media, false matches over
# all unrelated pairs, the cost of normalisation, and a small video part. See
# bench/edits/README.md.
#
#   bench/edits/run.sh
#   WARD_BIN=target-edit/release/ward bench/edits/run.sh     # a binary built elsewhere
#   NO_VIDEO=1 bench/edits/run.sh
#
# Output: the report on stdout and in $RUN_DIR/edits.txt, the source manifest (tab-separated:
# id, used or why not, kind, package, version, path, sizes, PDQ) in $RUN_DIR/edits-manifest.txt.
#
# Environment: WARD_BIN (default: build with `cargo build --release -p ward` into
# CARGO_TARGET_DIR or target/, a no-op when up to date), WARD_SHARED (default: the `shared`
# folder beside the repository: the sample videos), RUN_DIR (where the raw output goes,
# default bench/runs/<date>-<host>/), NO_VIDEO.
#
# Downloads (once, into the git-ignored cache bench/.cache/edits/): the Debian packages of
# sources.py with `apt-get download` (no install, no root needed), the scikit-image wheel with
# `pip download`; the Python venv bench/.venv-edits (Pillow, NumPy). Nothing of it is
# committed. Reruns reuse the cache: prepared sources, edited images and video edits.
set -euo pipefail

repo=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
cd "$repo"
here=$repo/bench/edits
cache=$repo/bench/.cache/edits
venv=$repo/bench/.venv-edits
shared=${WARD_SHARED:-$repo/../shared}
run_dir=${RUN_DIR:-$repo/bench/runs/$(date +%F)-$(hostname -s)}
mkdir -p "$cache/debs" "$cache/wheels" "$run_dir"

# 1. ward.
if [ -n "${WARD_BIN:-}" ]; then
    ward=$(cd "$(dirname "$WARD_BIN")" && pwd)/$(basename "$WARD_BIN")
else
    echo "building ward (cargo build --release -p ward)..." >&2
    cargo build --release -p ward
    ward=${CARGO_TARGET_DIR:-$repo/target}/release/ward
fi
[ -x "$ward" ] || { echo "error: no ward binary at $ward" >&2; exit 2; }
# Run a private copy: a rebuild of the original during the run must not mix two versions.
mkdir -p "$cache/work"
rm -f "$cache/work/ward"
cp "$ward" "$cache/work/ward"
ward_src=$ward
ward=$cache/work/ward

# 2. Python: Pillow and NumPy in a venv of its own.
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import PIL, numpy' 2>/dev/null; then
    "$venv/bin/pip" install --quiet pillow numpy
fi

# 3. The sources: Debian packages (downloaded, not installed) and one wheel.
mapfile -t debs < <("$venv/bin/python" -c "import sys; sys.path.insert(0, '$here'); import sources; print('\n'.join(sources.DEBIAN_PACKAGES))")
for pkg in "${debs[@]}"; do
    if ! compgen -G "$cache/debs/${pkg}_*.deb" >/dev/null; then
        echo "downloading $pkg..." >&2
        (cd "$cache/debs" && apt-get download "$pkg") 2>&1 | { grep -v unsandboxed || true; } >&2
        compgen -G "$cache/debs/${pkg}_*.deb" >/dev/null \
            || { echo "error: apt-get download $pkg failed (run 'apt-get update' first?)" >&2; exit 2; }
    fi
done
if ! compgen -G "$cache/wheels/scikit_image-*.whl" >/dev/null; then
    echo "downloading the scikit-image wheel (for its sample photos)..." >&2
    "$venv/bin/pip" download --quiet --no-deps --only-binary=:all: "scikit-image==0.26.0" -d "$cache/wheels"
fi

# 4. Fonts for captions, logos and screenshots: DejaVu, from the system or fonts-dejavu-core.
font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
font_bold=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
if [ ! -f "$font" ] || [ ! -f "$font_bold" ]; then
    if ! compgen -G "$cache/debs/fonts-dejavu-core_*.deb" >/dev/null; then
        (cd "$cache/debs" && apt-get download fonts-dejavu-core) 2>&1 | { grep -v unsandboxed || true; } >&2
    fi
    mkdir -p "$cache/fonts"
    dpkg-deb -x "$cache"/debs/fonts-dejavu-core_*.deb "$cache/fonts"
    font=$cache/fonts/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
    font_bold=$cache/fonts/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
fi
command -v ffmpeg >/dev/null || { echo "error: ffmpeg is needed (apt-get install ffmpeg)" >&2; exit 2; }

# 5. Run, keeping the raw output.
dirty=$([ -z "$(git status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ] || echo " + uncommitted changes in crates/")
{
    echo "# bench/edits/run.sh, $(date -u +%FT%TZ), $(hostname -s), commit $(git rev-parse --short HEAD)$dirty"
    echo "# $("$ward" --version 2>/dev/null || echo ward) ($ward_src, $(date -u -r "$ward_src" +%FT%TZ)); $(ffmpeg -version | head -1 | cut -d' ' -f1-3); Pillow $("$venv/bin/python" -c 'import PIL; print(PIL.__version__)')"
    echo "# $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    "$venv/bin/python" "$here/bench.py" --ward "$ward" --cache "$cache" --shared "$shared" \
        --font "$font" --font-bold "$font_bold" ${NO_VIDEO:+--no-video}
} 2>&1 | tee "$run_dir/edits.txt"
cp "$cache/work/manifest.tsv" "$run_dir/edits-manifest.txt"
echo "raw output: $run_dir/edits.txt; sources (package, version, path, kind): $run_dir/edits-manifest.txt" >&2
