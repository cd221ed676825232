#!/usr/bin/env python3
"""Side-by-side table of one size's ward and FAISS results (run.sh calls it)."""

import json
import sys


def main():
    ward = json.load(open(sys.argv[1]))
    faiss = json.load(open(sys.argv[2]))
    n = ward["n"]
    flat_qps = faiss["flat"]["qps"]
    rows = [
        ("ward Index (MIH, default m)", ward["index"]["qps"], ward["index"]["recall"],
         ward["index"]["build_s"], ward["index"]["bytes_per_hash"]),
        ("ward Index, search_batch(64)", ward["batch_qps"]["64"], ward["index"]["recall"],
         None, None),
        ("ward FlatIndex", ward["flat"]["qps"], 1.0, 0.0, 32.0),
        ("ward FlatIndex, search_batch(64)", ward["flat"]["batch64_qps"], 1.0, None, None),
        ("FAISS IndexBinaryFlat", flat_qps, faiss["flat"]["recall"], faiss["flat"]["build_s"],
         faiss["flat"]["bytes_per_hash"]),
        ("FAISS IndexBinaryFlat, batches of 64", faiss["flat"]["batch64_qps"],
         faiss["flat"]["recall"], None, None),
    ]
    for mh in faiss["multihash"]:
        rows.append((f"FAISS IndexBinaryMultiHash({256},{mh['nhash']},{mh['b']}) nflip={mh['nflip']}",
                     mh["qps"], mh["recall"], mh["build_s"], mh["bytes_per_hash"]))
    print(f"### {n} hashes, distance <= 31, one thread")
    print(f"{'method':<48} {'queries/s':>11} {'x FAISS flat':>13} {'recall':>7} "
          f"{'build s':>8} {'B/hash':>7}")
    for name, qps, recall, build, mem in rows:
        b = f"{build:8.2f}" if build is not None else f"{'':>8}"
        m = f"{mem:7.1f}" if mem is not None else f"{'':>7}"
        print(f"{name:<48} {qps:11.1f} {qps / flat_qps:13.1f} {recall:7.4f} {b} {m}")
    same_flat = ward["flat"]["checksum"] == faiss["flat"]["checksum"] and \
        ward["flat"]["hits"] == faiss["flat"]["hits"]
    same_mh = all(mh["checksum"] == ward["index"]["checksum"] and mh["hits"] == ward["index"]["hits"]
                  for mh in faiss["multihash"] if mh["recall"] == 1.0)
    print(f"same answers as FAISS: flat subset {'yes' if same_flat else 'NO'}, "
          f"all queries vs exact multihash {'yes' if same_mh else 'NO'} "
          f"({ward['index']['hits']} hits)")
    print("ward substring count (m) trade-off:")
    for row in ward["substrings"]:
        print(f"  m={row['m']:>2}: build {row['build_s']:6.2f} s, {row['bytes_per_hash']:6.1f} B/hash, "
              f"{row['qps']:8.0f} q/s ({row['qps'] / flat_qps:.0f}x FAISS flat)")
    print("ward Index by radius (q/s): " +
          ", ".join(f"t={t}: {q:.0f}" for t, q in ward["radius_qps"].items()))


if __name__ == "__main__":
    main()
