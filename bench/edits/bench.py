"""Edit-robust matching benchmark (issue 8): recall per edit family and false matches.

Called by bench/edits/run.sh:

    python bench.py --ward WARD --cache DIR --font REGULAR.ttf --font-bold BOLD.ttf --shared DIR

1. Sources: the benign photos listed in sources.py, prepared from the cached packages.
   Sources whose PDQ quality is under 50 (ward does not bank those) and near-duplicates (PDQ
   distance <= DEDUP to an earlier source, over the 8 rotations/flips) are left out.
2. Edits: every family of edits.py for every source (2 processes), cached.
3. One database, two banks:
   - `hash-only`: the plain PDQ of each source, imported as a list (`ward bank import`, CSV
     with the source id as the label), as a shared hash list would be;
   - `media-built`: `ward bank add --label SOURCE_ID` of each source file (ward may store
     derived hashes for those).
4. `ward match --json` over all edited images, plain (`--no-normalise`: the whole image's PDQ
   at threshold 31, as the reference) and with ward's defaults (when the binary has
   `--no-normalise`; otherwise plain only). An edited image is found when one of its matches
   in a bank carries its own source's label; any match to another source's entry is a false
   match.
5. Cost: `ward hash --json` against `ward hash --json --regions`, and `ward match
   --no-normalise` against `ward match`, one thread, on the unedited sources; best of 3.
6. Video (video.py): border, letterbox, pillarbox, caption, phone-frame and crop edits of
   benign clips.
"""

import argparse
import collections
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import edits  # noqa: E402
import sources  # noqa: E402
import video  # noqa: E402

DEDUP = 63  # sources closer than this (PDQ bits) to an earlier one are variants, not unrelated
THRESHOLD = 31


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise SystemExit(f"failed ({p.returncode}): {' '.join(cmd[:6])}...\n{p.stderr[-3000:]}")
    return p


def hamming(a, b):
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def ward_help(ward, *sub):
    return subprocess.run([ward, *sub, "--help"], capture_output=True, text=True).stdout


# ---------------------------------------------------------------------------- sources

def select_sources(ward, cache):
    src_dir = os.path.join(cache, "sources")
    manifest = sources.prepare(cache, src_dir)
    out = run([ward, "hash", "--json", "--dihedral", src_dir]).stdout
    by_file = {}
    for line in out.splitlines():
        o = json.loads(line)
        by_file[os.path.basename(o["path"])] = o
    kept = []
    for s in manifest["sources"]:
        o = by_file[s["file"]]
        s["pdq"] = o["pdq"]["hash"]
        s["quality"] = o["pdq"]["quality"]
        s["dihedral"] = [d["hash"] if isinstance(d, dict) else d for d in o.get("pdq_dihedral", [])] or [s["pdq"]]
        s["path_abs"] = os.path.join(src_dir, s["file"])
        if s["quality"] < 50:
            s["left_out"] = f"PDQ quality {s['quality']} < 50"
            continue
        near = [(min(hamming(k["pdq"], d) for d in s["dihedral"]), k["id"]) for k in kept]
        close = [x for x in near if x[0] <= DEDUP]
        if close:
            d, kid = min(close)
            s["left_out"] = f"near-duplicate of {kid} (PDQ distance {d})"
            continue
        kept.append(s)
    return manifest, kept


# ---------------------------------------------------------------------------- edits

def make_edits(kept, cache, fonts):
    root = os.path.join(cache, f"edits-v{edits.VERSION}")
    for name in edits.FAMILY_NAMES:
        os.makedirs(os.path.join(root, edits.dir_name(name)), exist_ok=True)
    jobs = [(s["path_abs"], s["id"], root, fonts) for s in kept]
    t = time.perf_counter()
    with multiprocessing.Pool(min(2, os.cpu_count() or 1)) as pool:
        made = sum(pool.imap_unordered(edits.make_all, jobs, chunksize=2))
    log(f"edits: {made} made, {len(jobs) * len(edits.FAMILIES) - made} cached, "
        f"{time.perf_counter() - t:.1f} s")
    return root


# ---------------------------------------------------------------------------- banks

def build_banks(ward, kept, work):
    db = os.path.join(work, "edits.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    env = dict(os.environ, WARD_DB=db)
    run([ward, "bank", "create", "hash-only", "--source", "bench/edits: plain PDQ of the sources"], env=env)
    run([ward, "bank", "create", "media-built", "--source", "bench/edits: ward bank add of the sources"], env=env)
    csv = os.path.join(work, "hash-only.csv")
    with open(csv, "w") as f:
        f.write("signal_type,hash,labels\n")
        for s in kept:
            f.write(f"pdq,{s['pdq']},src-{s['id']}\n")
    run([ward, "bank", "import", "hash-only", csv, "--format", "csv"], env=env)
    t = time.perf_counter()
    for s in kept:
        run([ward, "bank", "add", "media-built", "--label", f"src-{s['id']}", s["path_abs"]], env=env)
    add_time = time.perf_counter() - t
    return db, env, add_time


# ---------------------------------------------------------------------------- matching

def parse_matches(text):
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        o = json.loads(line)
        out[os.path.abspath(o["path"])] = o
    return out


def match_run(ward, env, paths, extra):
    t = time.perf_counter()
    p = subprocess.run([ward, "match", "--json", *extra, *paths], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if p.returncode not in (0, 1, 2):
        raise SystemExit(f"ward match {' '.join(extra)} failed ({p.returncode}): {p.stderr[-2000:]}")
    errs = [l for l in p.stderr.splitlines() if l.strip()]
    return parse_matches(p.stdout), wall, errs


def source_label(m):
    for label in m.get("labels", []) or []:
        if label.startswith("src-"):
            return label[4:]
    return None


def evaluate(results, edited, banks):
    """results: {path: match object}. edited: [(path, family, sid, kind)].
    -> {bank: {"hit": {family: [hits]}, "false": [(path, family, sid, other, distance, via, region)],
               "via": Counter}}"""
    ev = {}
    for bank in banks:
        hit = collections.defaultdict(list)
        false = []
        via = collections.Counter()
        via_fam = collections.defaultdict(collections.Counter)
        for path, family, sid, kind in edited:
            o = results.get(path, {})
            own = False
            for m in o.get("matches", []) or []:
                if m.get("bank") != bank:
                    continue
                other = source_label(m)
                if other == sid:
                    if not own:
                        v = str(m.get("via", "?")).split(" ")[0]
                        via[v] += 1
                        via_fam[family][v] += 1
                    own = True
                elif other is not None:
                    false.append((os.path.basename(path), family, sid, other, m.get("distance"),
                                  m.get("via"), m.get("region")))
            hit[family].append((own, kind))
        ev[bank] = {"hit": hit, "false": false, "via": via, "via_fam": via_fam}
    return ev


# ---------------------------------------------------------------------------- cost

def best_of(cmd, env, n=3):
    best = None
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, check=False, capture_output=True, env=env)
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return best


def cost(ward, env, src_files, has_regions, has_no_normalise):
    threads = ["-j", "1"]
    rows = []
    pairs = []
    if has_regions:
        pairs.append(("ward hash --json", [ward, "hash", "--json", *threads, *src_files],
                      "ward hash --json --regions", [ward, "hash", "--json", "--regions", *threads, *src_files]))
    else:
        pairs.append(("ward hash --json", [ward, "hash", "--json", *threads, *src_files], None, None))
    if has_no_normalise:
        pairs.append(("ward match --no-normalise", [ward, "match", "--json", "--no-normalise", *threads, *src_files],
                      "ward match (default)", [ward, "match", "--json", *threads, *src_files]))
    for name_a, a, name_b, b in pairs:
        ta = tb = None
        for _ in range(3):  # interleaved
            x = best_of(a, env, 1)
            ta = x if ta is None else min(ta, x)
            if b:
                y = best_of(b, env, 1)
                tb = y if tb is None else min(tb, y)
        rows.append((name_a, ta, name_b, tb))
    regions_found = None
    if has_regions:
        out = subprocess.run([ward, "hash", "--json", "--regions", *threads, *src_files],
                             capture_output=True, text=True, env=env).stdout
        regions_found = 0
        for line in out.splitlines():
            o = json.loads(line)
            r = o.get("regions")
            if r:
                regions_found += 1
    return rows, regions_found


# ---------------------------------------------------------------------------- report

def pct(hits):
    if not hits:
        return "-"
    return "%5.1f%%" % (100.0 * sum(1 for h, _ in hits if h) / len(hits))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ward", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--font", required=True)
    ap.add_argument("--font-bold", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--no-video", action="store_true")
    args = ap.parse_args()
    ward, cache = args.ward, os.path.abspath(args.cache)
    work = os.path.join(cache, "work")
    os.makedirs(work, exist_ok=True)

    match_help = ward_help(ward, "match")
    has_no_normalise = "--no-normalise" in match_help
    has_regions = "--regions" in ward_help(ward, "hash")
    has_no_derived = "--no-derived" in ward_help(ward, "bank", "add")
    defaults = []
    flat = " ".join(match_help.split())
    for flag in ("--threshold", "--region-threshold", "--derived-threshold"):
        i = flat.find(flag + " <")
        if i >= 0:
            j = flat.find("[default: ", i)
            if j >= 0:
                defaults.append(f"{flag} {flat[j + 10:flat.find(']', j)]}")
    print(f"# ward match defaults: {', '.join(defaults)}")
    print(f"# ward features: match --no-normalise: {'yes' if has_no_normalise else 'NO (plain mode only)'}; "
          f"hash --regions: {'yes' if has_regions else 'no'}; bank add --no-derived: {'yes' if has_no_derived else 'no'}")

    t0 = time.perf_counter()
    manifest, kept = select_sources(ward, cache)
    left_out = [s for s in manifest["sources"] if "left_out" in s]
    kinds = collections.Counter(s["kind"] for s in kept)
    pkgs = collections.Counter(s["package"] for s in kept)
    print(f"# sources: {len(kept)} used ({kinds['photo']} photos, {kinds['abstract']} abstract) of "
          f"{len(manifest['sources'])} listed; long side <= {sources.MAX_SIDE} px")
    for p, n in sorted(pkgs.items()):
        v = next(s["version"] for s in kept if s["package"] == p)
        print(f"#   {p} {v}: {n}")
    for s in left_out:
        print(f"#   left out {s['id']} {s['package']}:{s['path']}: {s['left_out']}")
    with open(os.path.join(work, "manifest.tsv"), "w") as f:
        f.write("id\tused\tkind\tpackage\tversion\tpath\torig_size\tsize\tpdq\tquality\tnote\n")
        for s in manifest["sources"]:
            f.write("\t".join([s["id"], "no" if "left_out" in s else "yes", s["kind"], s["package"],
                               s["version"], s["path"], f"{s['orig_width']}x{s['orig_height']}",
                               f"{s['width']}x{s['height']}", s.get("pdq", ""), str(s.get("quality", "")),
                               s.get("left_out", "")]) + "\n")
    log(f"sources ready ({time.perf_counter() - t0:.1f} s); manifest: {work}/manifest.tsv")

    root = make_edits(kept, cache, (args.font, args.font_bold))
    edited = []
    for s in kept:
        for fam in edits.FAMILY_NAMES:
            edited.append((os.path.abspath(os.path.join(root, edits.dir_name(fam), s["id"] + ".jpg")),
                           fam, s["id"], s["kind"]))
    print(f"# edited images: {len(edited)} ({len(edits.FAMILIES)} families x {len(kept)} sources); "
          f"unrelated pairs (source entry x edit of another source): {len(kept) * (len(edited) - len(edits.FAMILIES))} per bank")

    db, env, add_time = build_banks(ward, kept, work)
    print(f"# banks: hash-only ({len(kept)} PDQ, imported), media-built (ward bank add, one call a "
          f"source: {add_time:.1f} s)")

    dirs = [os.path.join(root, edits.dir_name(f)) for f in edits.FAMILY_NAMES]
    modes = [("plain", ["--no-normalise"] if has_no_normalise else [])]
    if has_no_normalise:
        modes.append(("ward", []))
    evals = {}
    plain_pdq = {}
    for mode, extra in modes:
        res, wall, errs = match_run(ward, env, dirs, extra)
        n_err = sum(1 for o in res.values() if "error" in o)
        print(f"# ward match {' '.join(extra) or '(defaults)'}: {len(res)} images in {wall:.1f} s "
              f"({len(res) / wall:.1f} img/s, all cores); {n_err} errors; {len(errs)} stderr lines")
        for e in errs[:5]:
            print(f"#   stderr: {e}")
        evals[mode] = evaluate(res, edited, ["hash-only", "media-built"])
        if mode == "plain":
            plain_pdq = {p: o.get("pdq") for p, o in res.items()}

    src_pdq = {s["id"]: s["pdq"] for s in kept}
    dist = collections.defaultdict(list)
    for path, fam, sid, _ in edited:
        h = plain_pdq.get(path)
        if isinstance(h, dict):
            h = h.get("hash")
        if h:
            dist[fam].append(hamming(h, src_pdq[sid]))

    hash_only_fams = {f for f in edits.FAMILY_NAMES
                      if edits.GROUP[f] in ("border", "letterbox", "pillarbox", "caption", "screenshot", "mirror")
                      or f == "rotate-90"}
    media_fams = {f for f in edits.FAMILY_NAMES if edits.GROUP[f] in ("crop", "rotation")}
    cols = [(m, b) for b in ("hash-only", "media-built") for m in ("plain", "ward")]

    issue_fams = [f for f in edits.FAMILY_NAMES if edits.GROUP[f] != "held-out"]
    held_out = [f for f in edits.FAMILY_NAMES if edits.GROUP[f] == "held-out"]

    def cell(mode, bank, fam=None, kind=None, fams=None):
        if mode not in evals:
            return "n/a"
        hit = evals[mode][bank]["hit"]
        fams = [fam] if fam else (fams or issue_fams)
        hs = [h for f in fams for h in hit[f] if kind is None or h[1] == kind]
        return pct(hs)

    print()
    print("Recall: share of edited images whose matches include their own source's entry "
          f"(threshold {THRESHOLD}).")
    print()
    print("| family | n | plain d median | plain, hash-only | ward, hash-only | plain, media-built | ward, media-built | target |")
    print("|---|--:|--:|--:|--:|--:|--:|---|")
    def row(fam):
        target = []
        if fam in hash_only_fams:
            target.append("hash-only >= 90%")
        if fam in media_fams:
            target.append("media-built >= 80%")
        d = dist.get(fam)
        dm = "%d" % statistics.median(d) if d else "-"
        n = len(evals["plain"]["hash-only"]["hit"][fam])
        print(f"| {fam} | {n} | {dm} | " + " | ".join(cell(m, b, fam) for m, b in cols) + f" | {'; '.join(target)} |")

    for fam in issue_fams:
        row(fam)
    n_issue = sum(1 for e in edited if edits.GROUP[e[1]] != "held-out")
    print(f"| **all families** | {n_issue} | | " + " | ".join(cell(m, b) for m, b in cols)
          + " | media-built >= 90% |")
    for kind in ("photo", "abstract"):
        n = sum(1 for e in edited if e[3] == kind and edits.GROUP[e[1]] != "held-out")
        print(f"| all, {kind}s only | {n} | | " + " | ".join(cell(m, b, None, kind) for m, b in cols) + " | |")
    for fam in held_out:
        row(fam)
    if held_out:
        n = len(edited) - n_issue
        print(f"| all held-out | {n} | | " + " | ".join(cell(m, b, fams=held_out) for m, b in cols) + " | |")
    print("| **false matches** (pairs) | | | " + " | ".join(
        (str(len(evals[m][b]["false"])) if m in evals else "n/a") for m, b in cols) + " | 0 |")
    print()
    for m, b in cols:
        if m not in evals:
            continue
        via = evals[m][b]["via"]
        if via:
            print(f"# found via ({m}, {b}): " + ", ".join(f"{k} {v}" for k, v in via.most_common()))
            if m == "ward":
                for fam in edits.FAMILY_NAMES:
                    vf = evals[m][b]["via_fam"].get(fam)
                    if vf and set(vf) != {"original"}:
                        print(f"#   {fam}: " + ", ".join(f"{k} {v}" for k, v in vf.most_common()))
    for m, b in cols:
        if m not in evals:
            continue
        fl = evals[m][b]["false"]
        if fl:
            print(f"# false matches ({m}, {b}): {len(fl)}")
            for x in fl[:50]:
                print(f"#   {x[1]}/{x[0]} (source {x[2]}) -> entry of {x[3]}, distance {x[4]}, via {x[5]}"
                      + (f", region {x[6]}" if x[6] else ""))
    # Targets.
    print()
    if "ward" in evals:
        fails = []
        for fam in sorted(hash_only_fams, key=edits.FAMILY_NAMES.index):
            hs = evals["ward"]["hash-only"]["hit"][fam]
            r = sum(1 for h, _ in hs if h) / len(hs)
            if r < 0.9:
                fails.append(f"hash-only {fam} {100 * r:.1f}% < 90%")
        for fam in sorted(media_fams, key=edits.FAMILY_NAMES.index):
            hs = evals["ward"]["media-built"]["hit"][fam]
            r = sum(1 for h, _ in hs if h) / len(hs)
            if r < 0.8:
                fails.append(f"media-built {fam} {100 * r:.1f}% < 80%")
        allh = [h for f in issue_fams for h in evals["ward"]["media-built"]["hit"][f]]
        r = sum(1 for h, _ in allh if h) / len(allh)
        if r < 0.9:
            fails.append(f"media-built all families {100 * r:.1f}% < 90%")
        nf = len(evals["ward"]["hash-only"]["false"]) + len(evals["ward"]["media-built"]["false"])
        if nf:
            fails.append(f"{nf} false matches")
        print("# targets (ward defaults): " + ("all met" if not fails else "NOT met: " + "; ".join(fails)))
    else:
        print("# targets: not evaluated (this ward has no --no-normalise: plain mode only)")

    # Cost.
    src_files = [s["path_abs"] for s in kept]
    rows, regions_found = cost(ward, env, src_files, has_regions, has_no_normalise)
    print()
    print(f"Cost on the {len(src_files)} unedited sources, one thread (-j 1), best of 3, process start included:")
    print()
    print("| plain | s | normalised | s | ratio |")
    print("|---|--:|---|--:|--:|")
    for a, ta, b, tb in rows:
        if b:
            print(f"| {a} | {ta:.2f} | {b} | {tb:.2f} | **{tb / ta:.2f}x** |")
        else:
            print(f"| {a} | {ta:.2f} | (no --regions in this ward) | - | - |")
    if regions_found is not None:
        print(f"# sources where --regions found a candidate region: {regions_found} of {len(src_files)}")

    if not args.no_video:
        t = time.perf_counter()
        print()
        video.report(ward, args.shared, cache, args.font, has_no_normalise)
        log(f"video part: {time.perf_counter() - t:.1f} s")
    print()
    print(f"# total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
