"""Video part of the edit-robust matching benchmark (issue 8): recall per edit family and
false matches, for benign clips edited as re-uploads edit them.

Run alone (the image part is not needed; its cache is not touched):

    python3 bench/edits/video.py --ward target/release/ward --cache bench/.cache/edits \
        --shared ../shared --font /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf \
        [--out bench/runs/DATE-HOST/edits-video.txt]

or from bench.py (bench/edits/run.sh), which calls `report()`.

1. Clips (benign only, cached in CACHE/video-v2/): the sample videos of distinct content in
   shared/reference/vpdq/videos (chair, doorknob, pattern, test-padded-dimensions), footage
   made by ffmpeg's lavfi sources (testsrc2, mandelbrot, life, cellauto), and slow pans and
   zooms over the reference photos of shared/reference/pdq/images (a camera-like motion
   over real pictures).
2. Edits, with ffmpeg (libx264, CRF 23): the families of FAMILIES.
3. One database, two banks a clip: `h-CLIP` holds the clip's plain vPDQ (`ward hash --format
   vpdq`, one hash a second, imported as a shared list would be), `m-CLIP` is `ward bank add`
   of the clip's file (ward may keep derived hashes for it).
4. `ward match --json` of every clip and edit, plain (`--keep-letterbox --no-normalise`) and
   with ward's defaults (every frame of the upload hashed, normalisation on). An edit is found
   when a vPDQ match lands in one of its own clip's banks (hash-only and media-built counted
   apart); any match to another clip's bank is a false match. Unedited clips are matched too:
   their matches to other clips are the unrelated pairs.
"""

import argparse
import collections
import json
import os
import subprocess
import sys
import time

SAMPLE_CLIPS = [
    "chair-orig-22-sd-bar.mp4",
    "doorknob-hd-no-bar.mp4",
    "pattern-hd-no-bar.mp4",
    "test-padded-dimensions.mp4",
]
# 640x360, 30 fps, 8 s of generated footage.
LAVFI = {
    "testsrc2": "testsrc2=size=640x360:rate=30:duration=8",
    "mandelbrot": "mandelbrot=size=640x360:rate=30:start_scale=2:end_scale=0.05:end_pts=240",
    "life": ("life=size=160x90:rate=30:ratio=0.4:seed=7:mold=8:life_color=#f0d060:"
             "death_color=#203050:mold_color=#a04020,scale=640:360:flags=neighbor"),
    # Cells of 4x4 pixels: a 1-pixel automaton is noise that any rescale aliases away.
    "cellauto": "cellauto=size=160x90:rate=30:rule=30:seed=11:scroll=1,scale=640:360:flags=neighbor",
}
# A slow zoom and pan over a photo, 8 s at 30 fps.
KENBURNS = {
    "pan-bridge": "pdq/images/bridge-mods/aaa-orig.jpg",
    "pan-pen": "pdq/images/reg-test-input/pen-and-coaster.png",
    "pan-c": "pdq/images/misc-images/c.png",
}
FAMILIES = [
    "letterbox", "pillarbox", "border", "blurred-fill", "caption-band", "phone-frame", "crop-5",
]
# The targets (by analogy with images): family -> (bank kind, recall).
TARGETS = {f: ("hash-only", 0.9) for f in FAMILIES if f != "crop-5"}
TARGETS["crop-5"] = ("media-built", 0.8)
BORDER_COLOURS = ["white", "0x3060c0", "0x808080", "0xf0e0c0", "black", "0x205020"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise SystemExit(f"failed ({p.returncode}): {' '.join(cmd[:8])}...\n{p.stderr[-3000:]}")
    return p


def encode(args, path):
    """Runs ffmpeg into a temporary file, then renames it (a killed run leaves no half file)."""
    if os.path.exists(path):
        return
    tmp = path + ".tmp.mp4"
    run(["ffmpeg", "-v", "error", "-y", *args, "-an", "-c:v", "libx264", "-preset", "veryfast",
         "-crf", "23", "-pix_fmt", "yuv420p", tmp])
    os.replace(tmp, path)


def size_of(path):
    out = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
               "stream=width,height", "-of", "csv=p=0", path]).stdout.strip().split(",")
    return int(out[0]), int(out[1])


def clips(shared, out_dir):
    """[(clip id, path, origin)], made once."""
    out = []
    vdir = os.path.join(shared, "reference", "vpdq", "videos")
    for name in SAMPLE_CLIPS:
        p = os.path.join(vdir, name)
        if os.path.exists(p):
            out.append((os.path.splitext(name)[0], p, "sample " + name))
    for cid, graph in LAVFI.items():
        p = os.path.join(out_dir, cid + ".mp4")
        encode(["-f", "lavfi", "-i", graph, "-frames:v", "240"], p)
        out.append((cid, p, "lavfi " + graph.split("=")[0]))
    for cid, rel in KENBURNS.items():
        src = os.path.join(shared, "reference", rel)
        if not os.path.exists(src):
            continue
        p = os.path.join(out_dir, cid + ".mp4")
        vf = ("scale=1920:-2,zoompan=z='1+0.3*on/240':x='(iw-iw/zoom)*on/240':"
              "y='(ih-ih/zoom)*(1-on/240)':d=240:s=640x360:fps=30")
        encode(["-i", src, "-vf", vf, "-frames:v", "240"], p)
        out.append((cid, p, "zoompan over " + os.path.basename(rel)))
    return out


def edits_of(cid, src, idx, out_dir, font):
    """{family: path} of one clip's edits (cached)."""
    w, h = size_of(src)
    fontfile = font.replace(":", r"\:")
    text = "drawtext=fontfile='%s':text='%s':fontcolor=%s:fontsize=%s:x=(w-text_w)/2:y=%s"
    colour = BORDER_COLOURS[idx % len(BORDER_COLOURS)]
    if h > w:
        phone = "scale=-2:760,pad=720:ih:(ow-iw)/2:0:0x101010,"
    else:
        phone = "scale=720:-2,"
    # Blurred fill: the clip at full width on a canvas as tall as it is wide (at full height
    # on one as wide as it is tall, for a portrait clip), the rest its own enlarged copy,
    # Gaussian-blurred (sigma 2.5 % of the long side), as phone apps pad.
    if w >= h:
        cw, ch = w, max(w, (h * 4 // 3)) // 2 * 2
    else:
        cw, ch = max(h, (w * 4 // 3)) // 2 * 2, h
    sigma = max(w, h) * 0.025
    fill = (f"split[a][b];[a]scale={cw}:{ch}:force_original_aspect_ratio=increase,"
            f"crop={cw}:{ch},gblur=sigma={sigma:.1f}[bg];[bg][b]overlay=(W-w)/2:(H-h)/2")
    vf = {
        "blurred-fill": fill,
        # Bars top and bottom to the taller of 16:9 and 4:3 of the width.
        "letterbox": "pad=iw:trunc(max(iw*9/16\\,ih*4/3)/2)*2:0:(oh-ih)/2:black",
        # Bars left and right to the wider of 16:9 and 4:3 of the height.
        "pillarbox": "pad=trunc(max(ih*16/9\\,iw*4/3)/2)*2:ih:(ow-iw)/2:0:black",
        # A frame of one colour, 8 % of the width on every side (colour by clip).
        "border": f"pad=trunc(iw*1.16/2)*2:ih+trunc(iw*0.08)*2:(ow-iw)/2:(oh-ih)/2:{colour}",
        # A band of 15 % with a headline: white on top for even clips, dark at the bottom
        # for odd ones.
        "caption-band": (
            "pad=iw:trunc(ih*1.15/2)*2:0:oh-ih:white," + text % (
                fontfile, "Breaking - see the full story", "black", "h*0.05", "h*0.04")
            if idx % 2 == 0 else
            "pad=iw:trunc(ih*1.15/2)*2:0:0:0x202020," + text % (
                fontfile, "Watch till the end", "white", "h*0.05", "h-h*0.095")),
        # 720x1280 dark canvas, the clip in the middle, an account name above and a caption
        # below (a portrait clip scaled to 760 px high first).
        "phone-frame": (phone + "pad=720:1280:(ow-iw)/2:(oh-ih)/2:0x101010,"
                        + text % (fontfile, "@daily_clips", "white", 40, 60) + ","
                        + text % (fontfile, "Watch till the end", "white", 44, "h-220")),
        # 5 % from each side.
        "crop-5": "crop=trunc(iw*0.90/2)*2:trunc(ih*0.90/2)*2",
    }
    out = {}
    for fam in FAMILIES:
        path = os.path.join(out_dir, f"{cid}--{fam}.mp4")
        encode(["-i", src, "-vf", vf[fam]], path)
        out[fam] = path
    return out


def parse_matches(text):
    out = {}
    for line in text.splitlines():
        if line.strip().startswith("{"):
            o = json.loads(line)
            out[os.path.abspath(o["path"])] = o
    return out


def match(ward, env, paths, extra):
    t = time.perf_counter()
    p = subprocess.run([ward, "match", "--json", *extra, *paths], capture_output=True,
                       text=True, env=env)
    wall = time.perf_counter() - t
    if p.returncode not in (0, 1, 2):
        raise SystemExit(f"ward match {' '.join(extra)} failed ({p.returncode}): {p.stderr[-2000:]}")
    errs = [l for l in p.stderr.splitlines() if l.strip()]
    return parse_matches(p.stdout), wall, errs


def cell(ms):
    """found? verdict q% via region, of the best vPDQ match in a list (or 'no')."""
    ms = [m for m in ms if m.get("signal_type") == "vpdq"]
    if not ms:
        return "no"
    m = max(ms, key=lambda m: m.get("query_match_pct", 0))
    via = str(m.get("via", ""))
    return "%s q%.0f%% %s" % (m.get("verdict", "?"), m.get("query_match_pct", 0), via)


def report(ward, shared, cache, font, has_no_normalise=True, emit=print):
    """Builds the clips, edits and banks, runs the matches and prints the report."""
    t0 = time.perf_counter()
    out_dir = os.path.join(cache, "video-v2")
    work = os.path.join(out_dir, "work")
    os.makedirs(out_dir, exist_ok=True)
    os.makedirs(work, exist_ok=True)
    srcs = clips(shared, out_dir)
    if not srcs:
        emit("# video: no clips")
        return
    db = os.path.join(work, "video.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    env = dict(os.environ, WARD_DB=db)
    queries = []  # (clip, family, path)
    t = time.perf_counter()
    for idx, (cid, path, _) in enumerate(srcs):
        vp = os.path.join(work, cid + ".vpdq.txt")
        with open(vp, "w") as f:
            f.write(run([ward, "hash", "--format", "vpdq", path]).stdout)
        run([ward, "bank", "create", "h-" + cid], env=env)
        run([ward, "bank", "import", "h-" + cid, vp, "--format", "vpdq"], env=env)
        run([ward, "bank", "create", "m-" + cid], env=env)
        run([ward, "bank", "add", "m-" + cid, path], env=env)
        queries.append((cid, "(unedited)", path))
        for fam, p in edits_of(cid, path, idx, out_dir, font).items():
            queries.append((cid, fam, p))
    log(f"video: {len(srcs)} clips, {len(queries)} queries, banks and edits {time.perf_counter() - t:.1f} s")

    plain = ["--keep-letterbox"] + (["--no-normalise"] if has_no_normalise else [])
    modes = [("plain", plain), ("ward", [])]
    results, walls, errors = {}, {}, {}
    paths = [p for _, _, p in queries]
    for mode, extra in modes:
        results[mode], walls[mode], errors[mode] = match(ward, env, paths, extra)
        log(f"video: ward match {mode}: {walls[mode]:.1f} s")
    # The unedited clips once more at one hash a second, as HMA hashes a query.
    one_s = [p for _, fam, p in queries if fam == "(unedited)"]
    results["1s"], _, _ = match(ward, env, one_s, plain + ["--seconds-per-hash", "1"])

    # Recall and false matches.
    found = {m: {k: collections.defaultdict(list) for k in ("hash-only", "media-built")}
             for m, _ in modes}
    false = {m: [] for m, _ in modes}
    rows = []
    for cid, fam, path in queries:
        row = {"clip": cid, "edit": fam}
        for mode, _ in modes:
            o = results[mode].get(os.path.abspath(path), {})
            ms = o.get("matches", []) or []
            vp = [m for m in ms if m.get("signal_type") == "vpdq"]
            for kind, prefix in (("hash-only", "h-"), ("media-built", "m-")):
                own = [m for m in vp if m.get("bank") == prefix + cid]
                found[mode][kind][fam].append(bool(own))
            for m in ms:
                if m.get("bank", "")[2:] != cid:
                    false[mode].append((cid, fam, m.get("bank"), m.get("signal_type"),
                                        m.get("verdict"), m.get("query_match_pct"), m.get("via")))
            row[mode] = cell([m for m in vp if m.get("bank") == "h-" + cid])
            row[mode + "-m"] = cell([m for m in vp if m.get("bank") == "m-" + cid])
        rows.append(row)

    n = len(srcs)
    emit(f"Video: {n} clips ({', '.join(c for c, _, _ in srcs)}), {len(FAMILIES)} edit families; "
         f"two banks a clip (h-: plain vPDQ imported, m-: ward bank add); ward match --json, "
         f"every frame of the upload.")
    for cid, path, origin in srcs:
        w, h = size_of(path)
        emit(f"#   {cid}: {origin}, {w}x{h}")
    emit("")
    emit("| family | plain, hash-only | ward, hash-only | ward, media-built | target |")
    emit("|---|--:|--:|--:|---|")

    def rate(xs):
        return "%5.1f%% (%d/%d)" % (100.0 * sum(xs) / len(xs), sum(xs), len(xs)) if xs else "-"

    fails = []
    for fam in ["(unedited)"] + FAMILIES:
        tgt = TARGETS.get(fam)
        emit(f"| {fam} | {rate(found['plain']['hash-only'][fam])} | {rate(found['ward']['hash-only'][fam])} "
             f"| {rate(found['ward']['media-built'][fam])} | "
             + (f"{tgt[0]} >= {100 * tgt[1]:.0f}%" if tgt else "") + " |")
        if tgt:
            xs = found["ward"][tgt[0]][fam]
            if xs and sum(xs) / len(xs) < tgt[1]:
                fails.append(f"{tgt[0]} {fam} {100 * sum(xs) / len(xs):.1f}% < {100 * tgt[1]:.0f}%")
    pairs = n * (n - 1) * 2  # every clip's queries (unedited + edits) against other clips' banks
    queries_n = len(queries)
    emit(f"| **false matches** | {len(false['plain'])} | {len(false['ward'])} | (same run) | 0 |")
    emit("")
    emit(f"# false matches are counted over {queries_n} queries x {2 * (n - 1)} banks of other clips "
         f"({queries_n * 2 * (n - 1)} unrelated query-bank pairs per mode; {pairs} of them are unedited pairs)")
    for mode, _ in modes:
        for x in false[mode]:
            emit(f"#   FALSE ({mode}): {x[0]}/{x[1]} -> {x[2]} {x[3]} {x[4]} q{x[5]} via {x[6]}")
    nf = len(false["ward"])
    if nf:
        fails.append(f"{nf} false matches")
    emit("# targets (ward defaults): " + ("all met" if not fails else "NOT met: " + "; ".join(fails)))
    emit("")
    emit("Per clip and edit; cell: verdict, query %, via (and the content rectangle) of the best "
         "vPDQ match in the clip's own bank, or no.")
    emit("")
    emit("| clip | edit | plain (" + " ".join(plain) + "), h- | ward, h- | ward, m- |")
    emit("|---|---|---|---|---|")
    for r in rows:
        emit(f"| {r['clip']} | {r['edit']} | {r['plain']} | {r['ward']} | {r['ward-m']} |")
    emit("")
    emit("Query % of the unedited clip against its own plain vPDQ (one hash a second), by how "
         "densely the query is hashed:")
    emit("")
    emit("| clip | every frame (ward match default) | one a second (HMA) |")
    emit("|---|--:|--:|")
    for cid, fam, path in queries:
        if fam != "(unedited)":
            continue
        a = results["plain"].get(os.path.abspath(path), {}).get("matches", []) or []
        b = results["1s"].get(os.path.abspath(path), {}).get("matches", []) or []
        emit(f"| {cid} | {cell([m for m in a if m.get('bank') == 'h-' + cid])} "
             f"| {cell([m for m in b if m.get('bank') == 'h-' + cid])} |")
    emit("")
    emit(f"# ward match wall time over the {len(paths)} queries: plain {walls['plain']:.1f} s, "
         f"ward {walls['ward']:.1f} s ({walls['ward'] / walls['plain']:.2f}x)")
    for mode, _ in modes:
        for e in errors[mode][:10]:
            emit(f"#   stderr ({mode}): {e}")
    emit(f"# video part {time.perf_counter() - t0:.0f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ward", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--font", default="/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    ap.add_argument("--out", help="also write the report here")
    args = ap.parse_args()
    ward = os.path.abspath(args.ward)
    has_no_normalise = "--no-normalise" in subprocess.run(
        [ward, "match", "--help"], capture_output=True, text=True).stdout
    lines = []

    def emit(s):
        print(s, flush=True)
        lines.append(s)

    ver = subprocess.run([ward, "--version"], capture_output=True, text=True).stdout.strip()
    ff = run(["ffmpeg", "-version"]).stdout.split("\n")[0]
    emit(f"# bench/edits/video.py, {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, {ver} "
         f"({args.ward}), {' '.join(ff.split(' ')[:3])}, {os.cpu_count()} cores, "
         f"load {open('/proc/loadavg').read().split()[:3]}")
    report(ward, args.shared, os.path.abspath(args.cache), args.font, has_no_normalise, emit)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
