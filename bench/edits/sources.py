"""The benign photos of the edit benchmark: which files of which packages, and how they are prepared.

Every source is a file that a Debian package or a PyPI wheel ships (wallpapers, a photo
manager's demo album, a jigsaw game's puzzles, library sample images). Each is listed here by
package and path, with its kind: `photo` (a photograph) or `abstract` (rendered art,
gradients, patterns: they behave unlike photos under PDQ, so the results are split by kind).
Near-identical variants of one picture (the same wallpaper in several resolutions, light and
dark versions) are listed once.

`prepare()` reads the packages from the cache (no install: the .deb's data tar is read
directly, the wheel as a zip), converts each picture to 8-bit RGB the way ward does (alpha
dropped, palette and grey expanded), downscales it to at most MAX_SIDE pixels on the long side
(Lanczos) and stores it as PNG; the manifest records package, version, path and sizes.
"""

import fnmatch
import glob
import hashlib
import io
import json
import os
import subprocess
import tarfile
import zipfile

MAX_SIDE = 1600

PLASMA = "usr/share/wallpapers/{}/contents/images/{}"
LOMIRI16 = "usr/share/backgrounds/{}"
MATE = "usr/share/backgrounds/mate/{}"
OPENCV = "usr/share/doc/opencv-doc/examples/data/{}"
SKIMAGE = "skimage/data/{}"

# (package, kind, [paths in the package]). Debian packages unless the package is "pypi:...".
SELECTION = [
    ("lomiri-wallpapers-16.04", "photo", [LOMIRI16.format(f) for f in [
        "Bridge_by_Sander_Klootwijk.jpg", "Dragonfly_by_Bolly.jpg",
        "Picture_0B_by_freespace.jpg", "Picture_1A_by_freespace.jpg", "Wine_by_Jakkub_Mede.jpg",
        "aitzgorri_by_Aitzol_Berasategi.jpg", "free_by_Peter_Nerlich.jpg",
        "friends_by_Aitzol_Berasategi.jpg", "greentock_by_Peter_Nerlich.jpg",
        "life_by_Aitzol_Berasategi.jpg", "picosdeeuropa_by_Aitzol_Berasategi.jpg",
        "seeding_by_Clements_Engelhardt.jpg", "sunset_by_Aitzol_Berasategi.jpg"]]),
    ("lomiri-wallpapers-16.04", "abstract", [LOMIRI16.format(f) for f in [
        "analogpattern_by_Peter_Nerlich.jpg", "umang_by_Abhishek_Mudgal.jpg"]]),
    ("lomiri-wallpapers-20.04", "photo", [LOMIRI16.format("Kleiber_by_Lukas_Baubkus.jpg")]),
    ("lomiri-wallpapers-20.04", "abstract", [LOMIRI16.format(f) for f in [
        "Fossa_by_Jasper_Roks.jpg", "Infinite-Sea_by_Aury88.jpg",
        "Painting-Colors_by__herobrine7gamer.jpg"]]),
    ("lomiri-wallpapers", "abstract", [LOMIRI16.format(f) for f in [
        "warty-final-ubuntu.png"]]),
    ("mate-backgrounds", "photo", [MATE.format("nature/" + f) for f in [
        "Aqua.jpg", "Blinds.jpg", "Dune.jpg", "FreshFlower.jpg", "Garden.jpg", "GreenMeadow.jpg",
        "LadyBird.jpg", "RainDrops.jpg", "Storm.jpg", "TwoWings.jpg", "Wood.jpg",
        "YellowFlower.jpg"]]),
    ("mate-backgrounds", "abstract", [MATE.format(f) for f in [
        "abstract/Elephants.jpg", "abstract/Flow.png", "abstract/Gulp.png",
        "desktop/Float-into-MATE.png", "desktop/GreenTraditional.jpg", "desktop/Stripes.png",
        "desktop/Ubuntu-Mate-Cold-no-logo.png"]]),
    ("plasma-workspace-wallpapers", "photo", [PLASMA.format(d, "2560x1600.jpg") for d in [
        "Autumn", "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow",
        "FallenLeaf", "Grey", "Kite", "OneStandsOut", "Path", "summer_1am"]]),
    ("plasma-workspace-wallpapers", "abstract", [PLASMA.format(d, f) for d, f in [
        ("Altai", "5120x2880.png"), ("Canopee", "3840x2160.png"), ("Cascade", "3840x2160.png"),
        ("Cluster", "3840x2160.png"), ("Elarun", "2560x1600.png"), ("Flow", "5120x2880.jpg"),
        ("FlyingKonqui", "2560x1600.png"), ("Honeywave", "5120x2880.jpg"),
        ("IceCold", "5120x2880.png"), ("Kay", "5120x2880.png"), ("Kokkini", "3840x2160.png"),
        ("MilkyWay", "5120x2880.png"), ("Opal", "3840x2160.png"),
        ("PastelHills", "3200x2000.jpg"), ("Patak", "5120x2880.png"),
        ("SafeLanding", "5120x2880.jpg"), ("Shell", "5120x2880.jpg"),
        ("Volna", "5120x2880.jpg")]]),
    ("gnome-backgrounds", "abstract", ["usr/share/backgrounds/gnome/{}-l.webp".format(n) for n in [
        "adwaita", "grid", "licorice", "pixels", "truchet", "wood"]]),
    ("ukui-wallpapers", "abstract", ["usr/share/backgrounds/" + f for f in [
        "2004default.jpg", "calla.png", "city.png", "desert.png", "firstgeneration.jpg",
        "fluent-color.png", "focal-ubuntukylin.png", "goldfish.png", "rhythm.jpg",
        "rollpaper.png", "string.jpg", "the-mouse.jpg"]]),
    ("sway-backgrounds", "abstract",
     ["usr/share/backgrounds/sway/Sway_Wallpaper_Blue_1920x1080.png"]),
    ("kphotoalbum", "photo", ["usr/share/kphotoalbum/demo/{}.jpg".format(n) for n in [
        "anne_helene", "bar55", "bar55_2", "blackie", "cold_water", "donna", "donna_2",
        "grand_canyon_1", "grand_canyon_2", "grand_canyon_3", "jesper", "jesper_2",
        "new_wave_1", "new_wave_2", "pool", "pool_2", "qt-logo", "skagen", "skagen_2", "snow",
        "spiff", "spiff_2", "sunset", "wayne"]]),
    ("palapeli-data", "photo", ["usr/share/palapeli/collection/{}.jpg".format(n) for n in [
        "castle-maintenon", "cincinnati-bridge", "citrus-fruits", "european-honey-bee",
        "panther-chameleon-female"]]),
    ("opencv-doc", "photo", [OPENCV.format(f) for f in [
        "aero1.jpg", "aero3.jpg", "aloeL.jpg", "apple.jpg", "baboon.jpg", "basketball1.png",
        "board.jpg", "box_in_scene.png", "building.jpg", "butterfly.jpg", "ela_original.jpg",
        "fruits.jpg", "graf1.png", "home.jpg", "leuvenA.jpg", "licenseplate_motion.jpg",
        "messi5.jpg", "orange.jpg", "squirrel_cls.jpg", "stuff.jpg", "chicky_512.png",
        "rubberwhale1.png", "smarties.png", "sudoku.png"]]
     + ["usr/share/doc/opencv-doc/examples/hfs/data/{}.jpg".format(n) for n in
        ["000", "001", "002"]]),
    ("opencv-doc", "abstract", [OPENCV.format(f) for f in ["starry_night.jpg", "HappyFish.jpg"]]),
    ("python3-pywt", "photo", ["usr/lib/python3/dist-packages/pywt/data/{}.npz".format(n)
                               for n in ["aero", "ascent"]]),
    ("gimp-data", "photo", ["usr/share/gimp/2.0/images/gimp-splash.png"]),
    ("xplanet-images", "photo", ["usr/share/xplanet/images/earth.jpg"]),
    ("pypi:scikit-image", "photo", [SKIMAGE.format(f) for f in [
        "astronaut.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "moon.png",
        "hubble_deep_field.jpg", "ihc.png", "motorcycle_left.png", "retina.jpg", "rocket.jpg",
        "brick.png", "grass.png", "gravel.png", "clock_motion.png", "text.png", "page.png",
        "cell.png"]]),
]

DEBIAN_PACKAGES = sorted({p for p, _, _ in SELECTION if not p.startswith("pypi:")})


def _deb_files(deb, wanted):
    """{path: bytes} of the wanted regular files in a .deb (its data tar, streamed)."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
    out = {}
    with tarfile.open(fileobj=proc.stdout, mode="r|*") as tar:
        for m in tar:
            name = m.name[2:] if m.name.startswith("./") else m.name
            if name in wanted and m.isfile():
                out[name] = tar.extractfile(m).read()
            elif fnmatch.fnmatch(name, "usr/share/doc/*/copyright") and m.isfile():
                out.setdefault("_copyright", tar.extractfile(m).read())
    proc.wait()
    return out


def _load(name, data):
    from PIL import Image
    import numpy as np

    if name.endswith(".npz"):
        arrays = np.load(io.BytesIO(data))
        a = arrays[arrays.files[0]]
        return Image.fromarray(np.clip(a, 0, 255).astype("uint8"))
    im = Image.open(io.BytesIO(data))
    im.draft("RGB", (2 * MAX_SIDE, 2 * MAX_SIDE))  # JPEG: decode at a reduced scale if big
    return im


def _to_rgb(im):
    # As ward: alpha dropped (not blended), grey and palette expanded.
    if im.mode in ("I;16", "I", "F"):
        im = im.point(lambda v: v / 256).convert("L")
    return im.convert("RGB")


def prepare(cache, out_dir):
    """Extract, convert and downscale every listed picture; write out_dir/manifest.json."""
    from PIL import Image

    # Only the pictures go into out_dir (ward hashes the folder); the rest beside it.
    manifest_path = out_dir + "-manifest.json"
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
        if manifest.get("max_side") == MAX_SIDE and manifest.get("selection") == _selection_key():
            return manifest
    os.makedirs(out_dir, exist_ok=True)
    sources = []
    licences = {}
    by_package = {}
    for package, kind, paths in SELECTION:
        by_package.setdefault(package, []).extend((p, kind) for p in paths)
    n = 0
    for package, items in by_package.items():
        wanted = {p for p, _ in items}
        if package.startswith("pypi:"):
            dist = package[5:]
            wheels = sorted(glob.glob(os.path.join(cache, "wheels", dist.replace("-", "_") + "-*.whl")))
            if not wheels:
                raise SystemExit(f"no wheel of {dist} in {cache}/wheels (run.sh downloads it)")
            archive = wheels[-1]
            version = os.path.basename(archive).split("-")[1]
            with zipfile.ZipFile(archive) as z:
                files = {p: z.read(p) for p in wanted}
        else:
            debs = sorted(glob.glob(os.path.join(cache, "debs", package + "_*.deb")))
            if not debs:
                raise SystemExit(f"no .deb of {package} in {cache}/debs (run.sh downloads it)")
            archive = debs[-1]
            version = subprocess.run(["dpkg-deb", "-f", archive, "Version"], check=True,
                                     capture_output=True, text=True).stdout.strip()
            files = _deb_files(archive, wanted)
            if "_copyright" in files:
                licences[package] = files.pop("_copyright").decode("utf-8", "replace")
        missing = wanted - set(files)
        if missing:
            raise SystemExit(f"{package} {version}: not found: {sorted(missing)}")
        for path, kind in items:
            n += 1
            sid = f"s{n:03d}"
            data = files[path]
            im = _load(path, data)
            orig_size = im.size
            im = _to_rgb(im)
            w, h = im.size
            if max(w, h) > MAX_SIDE:
                s = MAX_SIDE / max(w, h)
                im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
            stem = os.path.splitext(os.path.basename(path))[0]
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:40]
            out = os.path.join(out_dir, f"{sid}-{safe}.png")
            im.save(out, compress_level=3)
            sources.append({
                "id": sid, "package": package, "version": version, "path": path, "kind": kind,
                "file": os.path.basename(out), "orig_width": orig_size[0],
                "orig_height": orig_size[1], "width": im.size[0], "height": im.size[1],
                "sha256_orig": hashlib.sha256(data).hexdigest(),
            })
    os.makedirs(out_dir + "-copyright", exist_ok=True)
    for package, text in licences.items():
        with open(os.path.join(out_dir + "-copyright", f"{package}.txt"), "w") as f:
            f.write(text)
    manifest = {"max_side": MAX_SIDE, "selection": _selection_key(), "sources": sources}
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
    return manifest


def _selection_key():
    return hashlib.sha256(json.dumps(SELECTION).encode()).hexdigest()[:16]
