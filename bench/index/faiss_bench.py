#!/usr/bin/env python3
"""FAISS's side of the ward-index peer comparison (driven by run.sh).

Reads the bank and queries that `index_bench gen` wrote, and measures on one thread:
  - IndexBinaryFlat range search (the exhaustive baseline),
  - IndexBinaryMultiHash as Hasher-Matcher-Actioner configures it: (256, 16, 16), nflip = 1,
  - optionally IndexBinaryMultiHash with other settings,
asking the same question as ward: every bank hash within 31 bits (inclusive) of each query.

FAISS's binary range_search keeps distances strictly below the radius; this script checks that
on a planted pair at an exact distance and derives the radius to pass (32 for "<= 31"), so both
sides answer the same question. It then prints queries/s, recall of the planted matches, build
time, memory per hash, and a checksum of the answers that ward computes the same way.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import faiss  # noqa: E402

RADIUS = 31  # inclusive, as ward and the PDQ reference use it


def read_records(path, magic, dtype, width):
    with open(path, "rb") as f:
        head = f.read(16)
        if head[:8] != magic:
            sys.exit(f"{path}: not a {magic.decode()} file")
        count = int.from_bytes(head[8:16], "little")
        data = np.fromfile(f, dtype=dtype)
    return data.reshape(count, width) if width > 1 else data


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def strict_radius_offset():
    """1 if range_search(radius=r) excludes distance r (so '<= t' needs radius t + 1), else 0."""
    base = np.zeros((1, 32), dtype=np.uint8)
    other = base.copy()
    other[0, :4] = 0xFF  # 32 bits away
    for index in (faiss.IndexBinaryFlat(256), faiss.IndexBinaryMultiHash(256, 16, 16)):
        if isinstance(index, faiss.IndexBinaryMultiHash):
            index.nflip = 2
        index.add(other)
        lims, dist, _ = index.range_search(base, 32)
        found_at_32 = lims[1] > 0
        lims, dist, _ = index.range_search(base, 33)
        assert lims[1] == 1 and dist[0] == 32, "unexpected FAISS range_search behaviour"
        if found_at_32:
            return 0
    return 1


def answers(lims, ids, first_query, planted):
    """Hit count, checksum sum((q + 1) * (id + 1)) mod 2^64, and recall of planted matches."""
    checksum = 0
    found = 0
    total = 0
    for i in range(len(lims) - 1):
        q = first_query + i
        row = ids[lims[i]:lims[i + 1]].astype(np.uint64)
        checksum = (checksum + (q + 1) * int((row + np.uint64(1)).sum(dtype=np.uint64))) % (1 << 64)
        if q < len(planted):
            total += 1
            found += int((row == planted[q]).any())
    return int(lims[-1]), checksum, (found / total if total else 1.0)


def range_search(index, queries, radius, batch=1):
    """Range search query by query (batch=1, the online case), timed; returns qps, lims, ids."""
    lims_all, ids_all = [0], []
    start = time.perf_counter()
    for i in range(0, len(queries), batch):
        lims, _, ids = index.range_search(queries[i:i + batch], radius)
        ids_all.append(ids)
        lims_all.extend((lims[1:] + lims_all[-1]).tolist())
    elapsed = time.perf_counter() - start
    ids = np.concatenate(ids_all) if ids_all else np.zeros(0, dtype=np.int64)
    return len(queries) / elapsed, np.array(lims_all), ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--flat-queries", type=int, default=100,
                    help="planted and as many random queries for the (slow) flat index")
    ap.add_argument("--multihash", default="16:16:1",
                    help="comma-separated nhash:b:nflip settings of IndexBinaryMultiHash")
    ap.add_argument("--json")
    args = ap.parse_args()

    faiss.omp_set_num_threads(1)
    bank = read_records(os.path.join(args.dir, "bank.bin"), b"WARDHSH1", np.uint8, 32)
    queries = read_records(os.path.join(args.dir, "queries.bin"), b"WARDHSH1", np.uint8, 32)
    planted = read_records(os.path.join(args.dir, "planted.bin"), b"WARDPLT1", np.uint32, 1)
    n, np_ = len(bank), len(planted)
    offset = strict_radius_offset()
    radius = RADIUS + offset
    print(f"faiss {faiss.__version__}: {n} hashes, {len(queries)} queries ({np_} planted), "
          f"1 thread; range_search is {'strict (<)' if offset else 'inclusive (<=)'}, "
          f"so radius {radius} asks for distance <= {RADIUS}")
    out = {"n": n, "faiss_version": faiss.__version__, "radius_passed": radius}

    # Flat: planted subset plus as many random queries, the same subset as ward's flat figure.
    k = min(args.flat_queries, np_)
    sub_idx = list(range(k)) + list(range(np_, min(np_ + args.flat_queries, len(queries))))
    sub = np.ascontiguousarray(queries[sub_idx])
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    flat = faiss.IndexBinaryFlat(256)
    flat.add(bank)
    build = time.perf_counter() - t0
    mem = (rss_bytes() - rss0) / n
    qps, lims, ids = range_search(flat, sub, radius)
    # Checksum over the subset with the queries' original positions.
    hits, checksum, recall = 0, 0, None
    found = total = 0
    for j, q in enumerate(sub_idx):
        row = ids[lims[j]:lims[j + 1]].astype(np.uint64)
        hits += len(row)
        checksum = (checksum + (q + 1) * int((row + np.uint64(1)).sum(dtype=np.uint64))) % (1 << 64)
        if q < np_:
            total += 1
            found += int((row == planted[q]).any())
    recall = found / total if total else 1.0
    print(f"faiss IndexBinaryFlat: add {build:.2f} s, {mem:.1f} B/hash (RSS), "
          f"{qps:.1f} q/s, recall {recall:.4f}, {hits} hits ({len(sub)} queries)")
    out["flat"] = {"build_s": build, "bytes_per_hash": mem, "qps": qps, "recall": recall,
                   "hits": hits, "checksum": checksum, "queries": len(sub)}
    qps64, _, _ = range_search(flat, sub, radius, batch=64)
    print(f"  batches of 64: {qps64:.1f} q/s")
    out["flat"]["batch64_qps"] = qps64
    del flat

    out["multihash"] = []
    for setting in filter(None, args.multihash.split(",")):
        nhash, b, nflip = (int(x) for x in setting.split(":"))
        rss0 = rss_bytes()
        t0 = time.perf_counter()
        mh = faiss.IndexBinaryMultiHash(256, nhash, b)
        mh.nflip = nflip
        mh.add(bank)
        build = time.perf_counter() - t0
        mem = (rss_bytes() - rss0) / n
        qps, lims, ids = range_search(mh, queries, radius)
        hits, checksum, recall = answers(lims, ids, 0, planted)
        # Exact only if nhash * (nflip + 1) > RADIUS (pigeonhole) and the substrings cover all bits.
        print(f"faiss IndexBinaryMultiHash({256}, {nhash}, {b}) nflip={nflip}: add {build:.2f} s, "
              f"{mem:.1f} B/hash (RSS), {qps:.1f} q/s, recall {recall:.4f}, {hits} hits")
        out["multihash"].append({"nhash": nhash, "b": b, "nflip": nflip, "build_s": build,
                                 "bytes_per_hash": mem, "qps": qps, "recall": recall,
                                 "hits": hits, "checksum": checksum})
        del mh

    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f)
            f.write("\n")


if __name__ == "__main__":
    main()
