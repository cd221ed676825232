"""vPDQ speed: `ward hash --format vpdq` against Meta's C++ vPDQ (the `vpdq` package), in one run.

Called by bench/vpdq/run.sh:  python bench.py WARD_BINARY VIDEO...

For each seconds-per-hash setting (1 and 0): ward hashes the whole list in one process (a
subprocess, process start included; frames hashed on all cores), the reference hashes the same
list in this process with `vpdq.computeHash(path, seconds_per_hash=S)` (its own decoder thread
plus hashing threads, `thread_count=0`: as many as it picks). Both decode with the same Debian
FFmpeg libraries. Runs are interleaved (ward, reference, ward, reference, ...) and the best of
REPEAT is kept. ward runs twice: with its decoding workers (the default: libavcodec in
long-lived `ward __av-worker` processes) and, as a second row, with WARD_AV_WORKER=0 (ffprobe and
ffmpeg started per file, as before the workers); FFMPEG_ROW=0 leaves that row out. Then the per-frame Hamming distance between the two outputs, frame by frame.
"""

import os
import resource
import subprocess
import sys
import time

import vpdq

REPEAT = int(os.environ.get("REPEAT", "3"))
SETTINGS = [float(s) for s in os.environ.get("SECONDS_PER_HASH", "1 0").split()]
FFMPEG_ROW = os.environ.get("FFMPEG_ROW", "1") != "0"


def parse_ward(text, n_files):
    """ward's `--format vpdq` output for several files: each file's frames start at 0."""
    videos = []
    for line in text.splitlines():
        frame, quality, hexhash, ts = line.split(",")
        frame = int(frame)
        if frame == 0:
            videos.append({})
        videos[-1][frame] = (int(quality), hexhash)
    if len(videos) != n_files:
        raise SystemExit(f"ward printed {len(videos)} videos for {n_files} files")
    return videos


def cpu(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def run_ward(ward, files, s, workers=True):
    env = dict(os.environ, WARD_AV_WORKER="1" if workers else "0")
    c = cpu(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(
        [ward, "hash", "--format", "vpdq", "--seconds-per-hash", str(s), *files],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    wall = time.perf_counter() - t
    return wall, cpu(resource.RUSAGE_CHILDREN) - c, parse_ward(out, len(files))


def run_reference(files, s):
    c = cpu(resource.RUSAGE_SELF)
    t = time.perf_counter()
    videos = []
    for f in files:
        feats = vpdq.computeHash(f, seconds_per_hash=s)
        videos.append({x.frame_number: (x.quality, x.hex) for x in feats})
    return time.perf_counter() - t, cpu(resource.RUSAGE_SELF) - c, videos


def distance(a, b):
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def main():
    ward, files = sys.argv[1], sys.argv[2:]
    names = [os.path.basename(f) for f in files]
    frames_total = {}
    print(f"{len(files)} videos: {' '.join(names)}")
    print(f"cores: {os.cpu_count()}; best of {REPEAT}, interleaved\n")
    rows = []
    for s in SETTINGS:
        best_w = best_r = best_f = (float("inf"), 0.0)
        out_w = out_r = None
        for _ in range(REPEAT):
            tw, cw, out_w = run_ward(ward, files, s)
            tr, cr, out_r = run_reference(files, s)
            best_w, best_r = min(best_w, (tw, cw)), min(best_r, (tr, cr))
            if FFMPEG_ROW:
                tf, cf, out_f = run_ward(ward, files, s, workers=False)
                if out_f != out_w:
                    raise SystemExit(f"ward's two decoders disagree at {s} s a hash")
                best_f = min(best_f, (tf, cf))
        frames = sum(len(v) for v in out_w)
        frames_total[s] = frames
        rows.append((s, best_w, best_r, frames, out_w, out_r, best_f))

    print("wall: best of the repeats; cpu: user+sys seconds of that run (ward: its processes")
    print("and ffmpeg's; reference: this process), the load-independent cost\n")
    print(
        f"{'s/hash':>6} {'frames':>7} {'ward s':>8} {'ref s':>8} {'ward v/s':>9} {'ref v/s':>9} "
        f"{'ward/ref':>8} {'ward cpu':>9} {'ref cpu':>8} {'cpu ratio':>9}"
    )
    for s, (tw, cw), (tr, cr), frames, _, _, (tf, cf) in rows:
        n = len(files)
        print(
            f"{s:>6g} {frames:>7} {tw:>8.3f} {tr:>8.3f} {n / tw:>9.2f} {n / tr:>9.2f} "
            f"{tr / tw:>7.2f}x {cw:>9.2f} {cr:>8.2f} {cr / cw:>8.2f}x"
        )
        if FFMPEG_ROW:
            print(
                f"{'':>6} {'ffmpeg':>7} {tf:>8.3f} {tr:>8.3f} {n / tf:>9.2f} {n / tr:>9.2f} "
                f"{tr / tf:>7.2f}x {cf:>9.2f} {cr:>8.2f} {cr / cf:>8.2f}x"
            )
    if FFMPEG_ROW:
        print("(ffmpeg: ward with WARD_AV_WORKER=0, an ffprobe and an ffmpeg per file; same output)")

    print("\nPer-frame agreement, ward vs reference (Hamming distance of the same frame number):")
    buckets = [(0, 0), (1, 2), (3, 4), (5, 6), (7, 10), (11, 16), (17, 256)]
    for s, _, _, _, out_w, out_r, _ in rows:
        print(f"\nseconds per hash {s:g}")
        hist_all = [0] * len(buckets)
        for name, w, r in zip(names, out_w, out_r):
            common = sorted(set(w) & set(r))
            only = len(set(w) ^ set(r))
            hist = [0] * len(buckets)
            worst_good = 0
            for fr in common:
                d = distance(w[fr][1], r[fr][1])
                for i, (lo, hi) in enumerate(buckets):
                    if lo <= d <= hi:
                        hist[i] += 1
                if w[fr][0] >= 50 and r[fr][0] >= 50:
                    worst_good = max(worst_good, d)
            hist_all = [a + b for a, b in zip(hist_all, hist)]
            print(
                f"  {name:<36} frames ward {len(w):>4} ref {len(r):>4} (not in both: {only}); "
                f"identical {hist[0]:>4}/{len(common):<4} max on q>=50: {worst_good:>2}; "
                f"by distance 0|1-2|3-4|5-6|7-10|11-16|17+: {hist}"
            )
        total = sum(hist_all)
        print(f"  all: {hist_all} of {total} frames, identical {100 * hist_all[0] / max(total, 1):.1f} %")


if __name__ == "__main__":
    main()
