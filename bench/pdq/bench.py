#!/usr/bin/env python3
"""PDQ speed: `ward hash` against Meta's C++ PDQ (the `pdqhash` package), same files, one run.

Run through bench/pdq/run.sh, which builds ward, sets up the venv and passes the paths.
Both sides do the whole job on every file: read, decode to RGB, hash every pixel. ward runs
as a subprocess over the whole list (process start included); the reference runs in-process
(Pillow decode + pdqhash.compute), on all cores through a Pool with one process per core.
Every measurement is the best of --repeat runs, after the page cache was warmed.
"""

import argparse
import collections
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pdqhash
import PIL
from PIL import Image

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".pnm"}
PHOTO_W, PHOTO_H, PHOTO_Q = 4000, 3000, 90
PHOTO_VERSION = "v1"  # bump when the generator changes, so cached photos are remade


# ---------------------------------------------------------------- reference side

def ref_hash(path):
    """Decode with Pillow, hash with Meta's C++ via pdqhash. Returns (hex, quality)."""
    arr = np.asarray(Image.open(path).convert("RGB"))
    bits, quality = pdqhash.compute(arr)
    return np.packbits(bits.astype(np.uint8)).tobytes().hex(), int(quality)


def _pool_init():
    # Keep any BLAS/OpenMP in the workers to one thread each: one process per core.
    os.environ["OMP_NUM_THREADS"] = "1"


def _noop(_):
    return os.getpid()


# ---------------------------------------------------------------- ward side

def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def ward_run(ward, files, threads):
    """Wall seconds, CPU seconds, {path: (hash, quality)}, stderr lines, exit code."""
    cmd = [ward, "hash"] + (["-j", str(threads)] if threads else []) + [str(f) for f in files]
    c = child_cpu()
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t
    cpu = child_cpu() - c
    out = {}
    for line in p.stdout.splitlines():
        kind, h, q, path = line.split(",", 3)
        out[path] = (h, int(q))
    errors = [l for l in p.stderr.splitlines() if l.strip()]
    return dt, cpu, out, errors, p.returncode


# ---------------------------------------------------------------- photo generator

def photo_sources(shared):
    base = shared / "reference/pdq/images"
    names = [
        "reg-test-input/exif-rotn/exif-rotn-1.jpg",  # a real 4032x3024 phone photo
        "bridge-mods/aaa-orig.jpg",
        "reg-test-input/pen-and-coaster.png",
        "reg-test-input/exif-rotn/exif-rotn-6.jpg",  # another framing, stored sideways
        "misc-images/c.png",
        "bridge-mods/high-saturation.jpg",
    ]
    return [base / n for n in names if (base / n).exists()]


def make_photo(src, out, seed):
    """A photo-like 4000x3000 JPEG: a random crop of a real image upscaled with LANCZOS, a
    colour cast, a soft light gradient with vignetting, and sensor-like grain."""
    rng = np.random.default_rng(seed)
    im = Image.open(src).convert("RGB")
    if rng.random() < 0.5:
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    w, h = im.size
    f = rng.uniform(0.65, 1.0)
    cw, ch = int(w * f), int(h * f)
    x0, y0 = int(rng.uniform(0, w - cw + 1)), int(rng.uniform(0, h - ch + 1))
    im = im.crop((x0, y0, x0 + cw, y0 + ch)).resize((PHOTO_W, PHOTO_H), Image.Resampling.LANCZOS)
    a = np.asarray(im, dtype=np.float32)
    gain = rng.uniform(0.85, 1.15, size=3).astype(np.float32)
    offset = rng.uniform(-12, 12, size=3).astype(np.float32)
    yy = np.linspace(-1, 1, PHOTO_H, dtype=np.float32)[:, None]
    xx = np.linspace(-1, 1, PHOTO_W, dtype=np.float32)[None, :]
    ang = rng.uniform(0, 2 * np.pi)
    light = 1 + rng.uniform(0.05, 0.2) * (np.cos(ang) * xx + np.sin(ang) * yy)
    light *= 1 - rng.uniform(0.1, 0.3) * (xx * xx + yy * yy) / 2  # vignette
    a = a * gain * light[:, :, None] + offset
    sigma = rng.uniform(2.0, 4.0)
    grain = rng.standard_normal((PHOTO_H, PHOTO_W), dtype=np.float32) * sigma
    a += grain[:, :, None]  # luma grain
    a += rng.standard_normal((PHOTO_H, PHOTO_W, 3), dtype=np.float32) * (sigma / 3)  # chroma
    Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8)).save(out, quality=PHOTO_Q)


def ensure_photos(shared, work, count):
    d = work / "pdq-photos"
    d.mkdir(parents=True, exist_ok=True)
    stamp = d / "STAMP"
    want = f"{PHOTO_VERSION} {count} {PHOTO_W}x{PHOTO_H} q{PHOTO_Q} pillow {PIL.__version__}\n"
    files = [d / f"photo-{i:02d}.jpg" for i in range(count)]
    if stamp.exists() and stamp.read_text() == want and all(f.exists() for f in files):
        print(f"photos: reusing {count} in {d}")
        return files
    srcs = photo_sources(shared)
    t = time.perf_counter()
    for old in d.glob("photo-*.jpg"):
        old.unlink()
    for i, f in enumerate(files):
        make_photo(srcs[i % len(srcs)], f, seed=1000 + i)
    stamp.write_text(want)
    print(f"photos: generated {count} in {time.perf_counter() - t:.1f} s into {d}")
    return files


# ---------------------------------------------------------------- helpers

def cpu_busy(seconds=1.0):
    """Fraction of all cores busy over `seconds` (from /proc/stat), or None off Linux."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]
    try:
        t0, i0 = snap()
        time.sleep(seconds)
        t1, i1 = snap()
    except OSError:
        return None
    return 1 - (i1 - i0) / max(1, t1 - t0)


BUSY = []  # what wait_quiet saw before each measurement


def wait_quiet(max_wait):
    """Others may be working on this machine: wait (a little) for a quiet second. Returns the
    fraction of the cores that were busy in the last second waited."""
    t = time.perf_counter()
    b = cpu_busy()
    while b is not None and b > 0.10 and time.perf_counter() - t < max_wait:
        b = cpu_busy()
    BUSY.append(b)
    return b


def hamming(a, b):
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def best_of(n, fn, wait):
    best = float("inf")
    for _ in range(n):
        wait_quiet(wait)
        best = min(best, fn())
    return best


def warm(files):
    n = 0
    for f in files:
        with open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                n += len(chunk)
    return n


def lossless(path):
    return Path(path).suffix.lower() in {".png", ".ppm", ".pgm", ".pnm", ".bmp", ".tif", ".tiff"}


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ward", required=True)
    ap.add_argument("--shared", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--photos", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--split", help="the pdq-split binary (ward's per-phase timings)")
    ap.add_argument("--wait-quiet", type=float, default=5,
                    help="seconds to wait, before each measurement, for the cores to be idle")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    R = args.repeat

    pdq_dir = args.shared / "reference/pdq"
    ref_files, skipped = [], []
    for sub in ("images", "lossless"):
        for p in sorted((pdq_dir / sub).rglob("*")):
            if p.is_file():
                (ref_files if p.suffix.lower() in IMAGE_EXT else skipped).append(p)
    print(f"reference images: {len(ref_files)} files under {pdq_dir}/{{images,lossless}}"
          + (f" (skipped, not images: {', '.join(str(s.relative_to(pdq_dir)) for s in skipped)})" if skipped else ""))
    photos = ensure_photos(args.shared, args.work, args.photos)
    sizes = [p.stat().st_size for p in photos]
    print(f"12MP photos: {len(photos)} x {PHOTO_W}x{PHOTO_H} JPEG q{PHOTO_Q}, "
          f"{np.mean(sizes) / 1e6:.2f} MB average ({min(sizes) / 1e6:.2f}-{max(sizes) / 1e6:.2f})")
    print(f"pdqhash {pdqhash.__version__} ({Path(pdqhash.__file__).parent}), Pillow {PIL.__version__}, "
          f"numpy {np.__version__}, {cores} cores, best of {R}")

    expected = {}
    exp_csv = pdq_dir / "expected.csv"
    if exp_csv.exists():
        for line in exp_csv.read_text().splitlines()[1:]:
            c = line.split(",")
            expected[c[0]] = (c[5], int(c[6]))

    pool = mp.Pool(cores, initializer=_pool_init)
    pool.map(_noop, range(cores * 4))  # workers started before any timing
    pool.map(ref_hash, [ref_files[0]] * cores)  # and pdqhash imported in each

    rows, cpu_rows = [], []
    for set_name, files in (("reference imgs", ref_files), ("12MP photos", photos)):
        print(f"\n== {set_name}: {len(files)} files, {warm(files) / 1e6:.1f} MB read to warm the page cache")
        keys = [str(f) for f in files]

        ward_hashes, ward_errors, ref_hashes = {}, [], {}

        def ward_cfg(threads):
            def run():
                dt, cpu, out, errs, rc = ward_run(args.ward, files, threads)
                ward_hashes.update(out)
                ward_errors[:] = errs + ([f"exit status {rc}"] if rc else [])
                return dt, cpu
            return run

        def ref_serial():
            c = time.process_time()
            t = time.perf_counter()
            for k in keys:
                ref_hashes[k] = ref_hash(k)
            return time.perf_counter() - t, time.process_time() - c

        def ref_pool():
            t = time.perf_counter()
            pool.map(ref_hash, keys, chunksize=1)
            return time.perf_counter() - t, None

        configs = [
            (("ward", "1"), "ward -j1", ward_cfg(1)),
            (("ward", "all"), f"ward -j{cores}", ward_cfg(None)),
            (("ref", "1"), "reference, 1 process", ref_serial),
            (("ref", "all"), f"reference, Pool({cores})", ref_pool),
        ]
        # Interleaved repeats, each after a wait for idle cores, so that other work on the
        # machine, if any, falls on both sides alike; the best of each is kept.
        runs = {key: [] for key, _, _ in configs}
        for _ in range(R):
            for key, _, fn in configs:
                busy = wait_quiet(args.wait_quiet)
                wall, cpu = fn()
                runs[key].append((wall, cpu, busy))
        times = {k: min(w for w, _, _ in v) for k, v in runs.items()}
        cpus = {k: min(c for _, c, _ in v) for k, v in runs.items() if v[0][1] is not None}
        for key, label, _ in configs:
            v = runs[key]
            line = f"{label + ':':22} " + " ".join(f"{w:7.3f}{'*' if b and b > 0.10 else ' '}" for w, _, b in v) + " s wall"
            if key in cpus:
                line += ";  CPU " + " ".join(f"{c:.3f}" for _, c, _ in v) + " s"
            print(line)
        print("  (* = another process kept the cores busy in the second before that run)")
        for e in ward_errors:
            print(f"  ward error: {e}")

        # Agreement, file by file.
        dist = collections.Counter()
        identical = 0
        qual_diff = 0
        print("hash agreement (Hamming distance ward vs pdqhash; quality ward/pdqhash; vs expected.csv):")
        for f, k in zip(files, keys):
            rh, rq = ref_hashes[k]
            if k not in ward_hashes:
                dist["ward failed"] += 1
                print(f"  {'FAIL':>4}  {k}")
                continue
            wh, wq = ward_hashes[k]
            d = hamming(wh, rh)
            dist[d] += 1
            identical += d == 0
            qual_diff += wq != rq
            note = ""
            try:
                rel = str(f.relative_to(pdq_dir))
            except ValueError:
                rel = None
            if rel in expected:
                eh, eq = expected[rel]
                note = f"  expected.csv: ward {hamming(wh, eh)}, pdqhash {hamming(rh, eh)}"
            if set_name != "12MP photos" or d:
                kind = "lossless" if lossless(f) else "lossy"
                print(f"  {d:>4}  q {wq}/{rq}  {kind:8}  {rel or f.name}{note}")
        n = sum(dist.values())
        print(f"  distribution: " + ", ".join(f"{k}: {v}" for k, v in sorted(dist.items(), key=lambda kv: str(kv[0]).zfill(4))))
        print(f"  identical: {identical}/{n}; quality differs on {qual_diff}")
        ll = [(f, k) for f, k in zip(files, keys) if lossless(f) and k in ward_hashes]
        if ll:
            ll_id = sum(ward_hashes[k][0] == ref_hashes[k][0] for _, k in ll)
            print(f"  lossless files (PNG/PPM/...): {ll_id}/{len(ll)} identical")

        for label in ("1", "all"):
            w, r = len(files) / times[("ward", label)], len(files) / times[("ref", label)]
            rows.append((set_name, label, w, r, w / r, f"{identical}/{n}"))
        cw, cr = 1000 * cpus[("ward", "1")] / len(files), 1000 * cpus[("ref", "1")] / len(files)
        cpu_rows.append((set_name, cw, cr, cr / cw))

    # Where the time goes, 12MP photos, one core.
    print("\n== where the time goes: 12MP photos, one core, ms per photo (best of "
          f"{R} totals / {len(photos)})")
    n = len(photos)
    if (b := wait_quiet(args.wait_quiet)) and b > 0.10:
        print(f"  (cores {100 * b:.0f}% busy with other work before the split: noisy)")
    if args.split:
        p = subprocess.run([args.split, "--repeat", str(R)] + [str(f) for f in photos],
                           stdout=subprocess.PIPE, text=True, check=True)
        ph = {}
        for line in p.stdout.splitlines():
            c = line.split(",")
            if c[0] == "phase":
                ph[c[1]] = float(c[2]) * 1000 / n
        parts = ph["read"] + ph["digests"] + ph["decode"] + ph["pdq"]
        print(f"ward (ward_media/ward_pdq calls, in-process):")
        for k, label in (("read", "read file"), ("digests", "MD5 + SHA-256 of the bytes"),
                         ("decode", "decode to RGB (zune-jpeg via image)"), ("pdq", "PDQ of every pixel")):
            print(f"  {label:38} {ph[k]:8.1f}  ({100 * ph[k] / parts:4.1f}%)")
        print(f"  {'sum':38} {parts:8.1f}")
        print(f"  {'hash_file (the whole call)':38} {ph['hash_file']:8.1f}")
    else:
        print("ward: per-phase timings unavailable (pdq-split not built)")
    arrs = {}

    def t_decode():
        t = time.perf_counter()
        for f in photos:
            arrs[f] = np.asarray(Image.open(f).convert("RGB"))
        return time.perf_counter() - t

    def t_load():
        t = time.perf_counter()
        for f in photos:
            with Image.open(f) as im:
                im.load()
        return time.perf_counter() - t

    def t_luma():
        t = time.perf_counter()
        for a in arrs.values():
            (a[:, :, 0] * 0.299 + a[:, :, 1] * 0.587 + a[:, :, 2] * 0.114).astype("float32")
        return time.perf_counter() - t

    def t_pdq():
        t = time.perf_counter()
        for a in arrs.values():
            pdqhash.compute(a)
        return time.perf_counter() - t

    dec = best_of(R, t_decode, args.wait_quiet) * 1000 / n
    load = best_of(R, t_load, args.wait_quiet) * 1000 / n
    luma = best_of(R, t_luma, args.wait_quiet) * 1000 / n
    hsh = best_of(R, t_pdq, args.wait_quiet) * 1000 / n
    arrs.clear()
    print("reference (in-process):")
    print(f"  {'Pillow open + convert(RGB) + asarray':38} {dec:8.1f}  ({100 * dec / (dec + hsh):4.1f}%)")
    print(f"  {'  of which Image.load() (libjpeg-turbo)':38} {load:8.1f}")
    print(f"  {'pdqhash.compute':38} {hsh:8.1f}  ({100 * hsh / (dec + hsh):4.1f}%)")
    print(f"  {'  of which its numpy float64 luma':38} {luma:8.1f}")
    print(f"  {'sum':38} {dec + hsh:8.1f}")
    pool.close()
    pool.join()

    print("\none core, CPU time (user + sys) per image, ms -- less sensitive than wall time to"
          " other work on the machine:")
    print(f"{'set':15} {'ward':>8}  {'reference':>9}  {'ratio':>6}  (reference / ward)")
    for s, cw, cr, ratio in cpu_rows:
        print(f"{s:15} {cw:8.1f}  {cr:9.1f}  {ratio:6.2f}")
    seen = [b for b in BUSY if b is not None]
    if seen:
        print(f"\ncores busy with other work in the second before each measurement: "
              f"{100 * min(seen):.0f}%..{100 * max(seen):.0f}% "
              f"({sum(b > 0.10 for b in seen)} of {len(seen)} measurements started on a busy machine)")
    print("\n== summary (img/s; ratio = ward / reference; 'all' = "
          f"{cores} threads for ward, Pool({cores}) for the reference)")
    print(f"{'set':15} {'threads':7}  {'ward img/s':>10}  {'reference img/s':>15}  {'ratio':>6}  identical hashes")
    for s, t, w, r, ratio, ident in rows:
        print(f"{s:15} {t:7}  {w:10.1f}  {r:15.1f}  {ratio:6.2f}  {ident}")


if __name__ == "__main__":
    main()
