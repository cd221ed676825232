"""The edit families: what a re-upload of a known picture looks like after it went round.

Each family is a function (source RGB image, seeded random.Random, fonts) -> (image, JPEG
quality). Everything is deterministic: the generator is seeded with the source id and the
family name. Edited files are written as JPEG (quality 95 unless the family sets it), as
re-uploads are; the JPEG families set their own quality.

Definitions (w, h: the source's size):
- crop-P: P % of the width cut from the left and from the right, P % of the height from the
  top and from the bottom (the centre 100 - 2P %; the issue's "crop 5 % = 84 bits" is this);
  crop-corner-10: 8-12 % (random) of the width cut from one side and of the height from the
  top or bottom, i.e. the picture anchored in one (random) corner.
- pad-black-P: a black border of P % of the width (left, right) and of the height (top, bottom).
- letterbox: the picture at full width in a frame of height max(w * 9/16, h * 4/3), black bars
  top and bottom (16:9 or taller); pillarbox: full height in a frame of width
  max(h * 16/9, w * 4/3), black bars left and right.
- blurred-fill: the phone edit that puts the picture on a square (or taller) canvas and fills
  the empty bands with an enlarged, heavily blurred copy of itself: a landscape or square
  picture at full width in a frame of height max(w, h * 4/3), bands top and bottom; a portrait
  one at full height in a frame of width max(h, w * 4/3), bands left and right. The fill is the
  picture scaled to cover the frame, centred, Gaussian-blurred with a radius of 1.5-3 %
  (random) of the frame's long side.
- caption-{top,bottom}-P: a band of P % of h added above or below, white or black (random),
  with a line of text in the other colour.
- logo-small/large: a semi-transparent badge (rounded rectangle, a disc and a word) covering
  about 5 % / 20 % of the picture in one corner.
- rotate-D: D degrees (random sign) about the centre, same canvas size (corners cut, filled
  black); rotate-90: a quarter turn; mirror: left-right flip.
- screenshot-desktop: the picture in a drawn browser window (title bar with tabs, address
  bar, a sidebar with links, a headline, text below); screenshot-phone: in a drawn phone app
  (status bar, header with a channel name, the picture at full width, caption text and
  buttons below, the start of the next post).
- combo: crop-5 + a caption band (10 %, top or bottom) + JPEG quality 50.
- held-out:crop-3.5, held-out:crop-7, held-out:rotate-3.5: not in the issue's list; amounts
  between the listed ones, reported apart (see README.md).
"""

import math
import random

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

CAPTIONS = [
    "Sunday market by the river, photo of the week",
    "Look at this view from the morning walk",
    "The garden after the first rain of spring",
    "Weekend trip: the best picture I took",
    "Our new wallpaper for the office screens",
    "Nature club monthly newsletter, issue 12",
    "Museum open day, see the full gallery online",
    "Photography contest entry no. 47",
]
CHANNELS = ["NEWS 24", "DAILY", "CH 7", "VIDEO+", "WORLD", "LIVE"]
WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud "
         "exercitation ullamco laboris nisi aliquip ex ea commodo consequat").split()


class Fonts:
    def __init__(self, regular, bold):
        self.regular_path = regular
        self.bold_path = bold
        self._cache = {}

    def get(self, size, bold=False):
        from PIL import ImageFont

        size = max(6, int(size))
        key = (size, bold)
        if key not in self._cache:
            self._cache[key] = ImageFont.truetype(self.bold_path if bold else self.regular_path, size)
        return self._cache[key]


def _sentence(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize()


def _fit(im, box_w, box_h):
    w, h = im.size
    s = min(box_w / w, box_h / h)
    return im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)


def crop_centre(im, p):
    w, h = im.size
    dx, dy = round(w * p / 100), round(h * p / 100)
    return im.crop((dx, dy, w - dx, h - dy))


def crop_corner(im, rng):
    w, h = im.size
    cw, ch = round(w * rng.uniform(0.08, 0.12)), round(h * rng.uniform(0.08, 0.12))
    left = rng.random() < 0.5
    top = rng.random() < 0.5
    x0 = cw if left else 0
    y0 = ch if top else 0
    return im.crop((x0, y0, x0 + w - cw, y0 + h - ch))


def pad(im, p, colour=(0, 0, 0)):
    w, h = im.size
    dx, dy = round(w * p / 100), round(h * p / 100)
    out = Image.new("RGB", (w + 2 * dx, h + 2 * dy), colour)
    out.paste(im, (dx, dy))
    return out


def letterbox(im):
    w, h = im.size
    H = max(math.ceil(w * 9 / 16), math.ceil(h * 4 / 3))
    out = Image.new("RGB", (w, H), (0, 0, 0))
    out.paste(im, (0, (H - h) // 2))
    return out


def pillarbox(im):
    w, h = im.size
    W = max(math.ceil(h * 16 / 9), math.ceil(w * 4 / 3))
    out = Image.new("RGB", (W, h), (0, 0, 0))
    out.paste(im, ((W - w) // 2, 0))
    return out


def blurred_fill(im, rng):
    w, h = im.size
    if w >= h:
        W, H = w, max(w, math.ceil(h * 4 / 3))
    else:
        W, H = max(h, math.ceil(w * 4 / 3)), h
    s = max(W / w, H / h)
    big = im.resize((max(W, round(w * s)), max(H, round(h * s))), Image.LANCZOS)
    bx, by = (big.size[0] - W) // 2, (big.size[1] - H) // 2
    out = big.crop((bx, by, bx + W, by + H))
    out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.015, 0.03) * max(W, H)))
    out.paste(im, ((W - w) // 2, (H - h) // 2))
    return out


def caption(im, rng, fonts, p, where):
    w, h = im.size
    band = max(8, round(h * p / 100))
    white = rng.random() < 0.5
    bg, fg = ((255, 255, 255), (0, 0, 0)) if white else ((0, 0, 0), (255, 255, 255))
    out = Image.new("RGB", (w, h + band), bg)
    out.paste(im, (0, band if where == "top" else 0))
    d = ImageDraw.Draw(out)
    text = rng.choice(CAPTIONS)
    size = band * 0.45
    font = fonts.get(size, bold=True)
    tw = d.textlength(text, font=font)
    if tw > 0.92 * w:  # shrink to fit the width
        font = fonts.get(size * 0.92 * w / tw, bold=True)
        tw = d.textlength(text, font=font)
    y0 = 0 if where == "top" else h
    d.text(((w - tw) / 2, y0 + band / 2), text, fill=fg, font=font, anchor="lm")
    return out


def logo(im, rng, fonts, frac):
    w, h = im.size
    bw = math.sqrt(frac * w * h * 2)
    bh = bw / 2
    if bw > 0.9 * w:
        bw = 0.9 * w
        bh = frac * w * h / bw
    bw, bh = round(bw), round(bh)
    m = round(0.02 * min(w, h))
    x0 = m if rng.random() < 0.5 else w - m - bw
    y0 = m if rng.random() < 0.5 else h - m - bh
    colour = rng.choice([(200, 30, 30), (20, 90, 200), (250, 250, 250), (20, 20, 20), (240, 170, 0)])
    fg = (0, 0, 0) if sum(colour) > 500 else (255, 255, 255)
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    d.rounded_rectangle((x0, y0, x0 + bw, y0 + bh), radius=bh // 5, fill=colour + (170,))
    r = bh * 0.32
    cx, cy = x0 + bh * 0.5, y0 + bh / 2
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fg + (230,))
    text = rng.choice(CHANNELS)
    font = fonts.get(bh * 0.4, bold=True)
    tw = d.textlength(text, font=font)
    if tw > 0.9 * (bw - bh * 1.1):
        font = fonts.get(bh * 0.4 * 0.9 * (bw - bh * 1.1) / tw, bold=True)
    d.text((x0 + bh, cy), text, fill=fg + (230,), font=font, anchor="lm")
    return Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB")


def rotate(im, rng, deg):
    sign = 1 if rng.random() < 0.5 else -1
    return im.rotate(sign * deg, resample=Image.BICUBIC, expand=False, fillcolor=(0, 0, 0))


def noise(im, rng, sigma=10.0):
    import numpy as np

    a = np.asarray(im, dtype=np.float32)
    g = np.random.default_rng(rng.getrandbits(32))
    a = a + g.normal(0.0, sigma, a.shape)
    return Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8))


def blur(im):
    return im.filter(ImageFilter.GaussianBlur(max(1.0, 0.002 * max(im.size))))


def screenshot_desktop(im, rng, fonts):
    W, H = 1440, 900
    dark = rng.random() < 0.3
    page = (32, 33, 36) if dark else (255, 255, 255)
    ink = (232, 234, 237) if dark else (32, 33, 36)
    grey = (150, 150, 150)
    out = Image.new("RGB", (W, H), page)
    d = ImageDraw.Draw(out)
    # Title bar with window buttons and two tabs.
    d.rectangle((0, 0, W, 40), fill=(222, 225, 230) if not dark else (20, 20, 22))
    for i, c in enumerate([(255, 95, 87), (255, 189, 46), (40, 200, 64)]):
        d.ellipse((14 + 22 * i, 13, 28 + 22 * i, 27), fill=c)
    d.rounded_rectangle((90, 6, 330, 40), radius=8, fill=page)
    d.text((104, 23), "Photo of the week - Gallery", fill=ink, font=fonts.get(14), anchor="lm")
    d.text((350, 23), "News and weather", fill=grey, font=fonts.get(14), anchor="lm")
    # Address bar.
    d.rectangle((0, 40, W, 84), fill=page)
    d.rounded_rectangle((120, 48, W - 120, 78), radius=15,
                        fill=(241, 243, 244) if not dark else (53, 54, 58))
    d.text((140, 63), "https://gallery.example.org/photos/%d" % rng.randrange(10000, 99999),
           fill=ink, font=fonts.get(15), anchor="lm")
    for i in range(3):
        d.ellipse((20 + 30 * i, 55, 36 + 30 * i, 71), outline=grey, width=2)
    d.line((0, 85, W, 85), fill=(200, 200, 200), width=1)
    # Sidebar with links.
    d.rectangle((0, 86, 240, H), fill=(246, 248, 250) if not dark else (41, 42, 45))
    y = 110
    for _ in range(12):
        d.text((24, y), _sentence(rng, 2), fill=ink, font=fonts.get(16), anchor="lm")
        y += 36
    # Headline, the photo, text under it.
    d.text((280, 122), _sentence(rng, 6), fill=ink, font=fonts.get(28, bold=True), anchor="lm")
    d.text((280, 158), "Posted by gallery_team  ·  %d min read" % rng.randrange(2, 9),
           fill=grey, font=fonts.get(14), anchor="lm")
    box_w, box_h = 880, 560
    pic = _fit(im, box_w, box_h)
    px = 280 + (box_w - pic.size[0]) // 2
    out.paste(pic, (px, 180))
    y = 180 + pic.size[1] + 24
    while y < H - 20:
        d.text((280, y), _sentence(rng, 12), fill=ink, font=fonts.get(16), anchor="lm")
        y += 26
    # Right column: an advert box.
    d.rectangle((1190, 110, 1410, 360), outline=(210, 210, 210), width=1)
    d.text((1200, 130), "Sponsored", fill=grey, font=fonts.get(13), anchor="lm")
    return out


def screenshot_phone(im, rng, fonts):
    W, H = 720, 1480
    dark = rng.random() < 0.4
    page = (0, 0, 0) if dark else (255, 255, 255)
    ink = (245, 245, 245) if dark else (20, 20, 20)
    grey = (140, 140, 140)
    out = Image.new("RGB", (W, H), page)
    d = ImageDraw.Draw(out)
    # Status bar.
    d.text((28, 26), "%d:%02d" % (rng.randrange(7, 23), rng.randrange(60)), fill=ink,
           font=fonts.get(24, bold=True), anchor="lm")
    d.rectangle((640, 16, 684, 36), outline=ink, width=2)
    d.rectangle((643, 19, 643 + rng.randrange(10, 38), 33), fill=ink)
    for i in range(4):
        d.rectangle((560 + 12 * i, 34 - 5 * i, 567 + 12 * i, 36), fill=ink)
    # App header.
    d.line((30, 100, 50, 84), fill=ink, width=4)
    d.line((30, 100, 50, 116), fill=ink, width=4)
    d.ellipse((80, 70, 140, 130), fill=rng.choice([(220, 80, 60), (60, 120, 220), (90, 170, 90)]))
    d.text((160, 88), "gallery_%d" % rng.randrange(100, 999), fill=ink, font=fonts.get(26, bold=True), anchor="lm")
    d.text((160, 116), "Sponsored · Follow", fill=grey, font=fonts.get(20), anchor="lm")
    for i in range(3):
        d.ellipse((660, 88 + 12 * i, 668, 96 + 12 * i), fill=ink)
    # The picture at full width (at most 900 px tall).
    pic = _fit(im, W, 900)
    top = 150
    out.paste(pic, ((W - pic.size[0]) // 2, top))
    y = top + pic.size[1] + 24
    # Buttons, likes, caption text, comments, the next post's header.
    for i, x in enumerate((30, 100, 170)):
        d.ellipse((x, y, x + 44, y + 44), outline=ink, width=3)
    d.rectangle((650, y, 690, y + 44), outline=ink, width=3)
    y += 70
    d.text((30, y), "%d likes" % rng.randrange(100, 99999), fill=ink, font=fonts.get(24, bold=True), anchor="lm")
    y += 40
    for _ in range(3):
        if y > H - 120:
            break
        d.text((30, y), _sentence(rng, 6), fill=ink, font=fonts.get(24), anchor="lm")
        y += 36
    d.text((30, y), "View all %d comments" % rng.randrange(5, 500), fill=grey, font=fonts.get(22), anchor="lm")
    y += 60
    if y < H - 100:
        d.ellipse((30, y, 80, y + 50), fill=(120, 120, 200))
        d.text((96, y + 25), "another_account", fill=ink, font=fonts.get(24, bold=True), anchor="lm")
    # Navigation bar.
    d.rectangle((0, H - 90, W, H), fill=page)
    d.line((0, H - 90, W, H - 90), fill=grey, width=1)
    for i in range(5):
        x = 60 + i * 150
        d.rounded_rectangle((x, H - 62, x + 36, H - 26), radius=6, outline=ink, width=3)
    return out


def combo(im, rng, fonts):
    return caption(crop_centre(im, 5), rng, fonts, 10, rng.choice(["top", "bottom"]))


# (name, group, function(im, rng, fonts) -> (image, jpeg quality)). The group is what the
# issue's targets speak of.
FAMILIES = [
    ("jpeg-q30", "quality", lambda im, r, f: (im, 30)),
    ("jpeg-q50", "quality", lambda im, r, f: (im, 50)),
    ("scale-1/2", "quality", lambda im, r, f: (im.resize((max(1, im.size[0] // 2), max(1, im.size[1] // 2)), Image.LANCZOS), 95)),
    ("scale-1/4", "quality", lambda im, r, f: (im.resize((max(1, im.size[0] // 4), max(1, im.size[1] // 4)), Image.LANCZOS), 95)),
    ("crop-2", "crop", lambda im, r, f: (crop_centre(im, 2), 95)),
    ("crop-5", "crop", lambda im, r, f: (crop_centre(im, 5), 95)),
    ("crop-10", "crop", lambda im, r, f: (crop_centre(im, 10), 95)),
    ("crop-corner-10", "crop", lambda im, r, f: (crop_corner(im, r), 95)),
    ("pad-black-2", "border", lambda im, r, f: (pad(im, 2), 95)),
    ("pad-black-10", "border", lambda im, r, f: (pad(im, 10), 95)),
    ("letterbox", "letterbox", lambda im, r, f: (letterbox(im), 95)),
    ("pillarbox", "pillarbox", lambda im, r, f: (pillarbox(im), 95)),
    ("blurred-fill", "border", lambda im, r, f: (blurred_fill(im, r), 95)),
    ("caption-top-10", "caption", lambda im, r, f: (caption(im, r, f, 10, "top"), 95)),
    ("caption-bottom-10", "caption", lambda im, r, f: (caption(im, r, f, 10, "bottom"), 95)),
    ("caption-top-20", "caption", lambda im, r, f: (caption(im, r, f, 20, "top"), 95)),
    ("caption-bottom-20", "caption", lambda im, r, f: (caption(im, r, f, 20, "bottom"), 95)),
    ("logo-small", "overlay", lambda im, r, f: (logo(im, r, f, 0.05), 95)),
    ("logo-large", "overlay", lambda im, r, f: (logo(im, r, f, 0.20), 95)),
    ("rotate-2", "rotation", lambda im, r, f: (rotate(im, r, 2), 95)),
    ("rotate-5", "rotation", lambda im, r, f: (rotate(im, r, 5), 95)),
    ("rotate-90", "rotation", lambda im, r, f: (im.transpose(Image.ROTATE_90), 95)),
    ("mirror", "mirror", lambda im, r, f: (im.transpose(Image.FLIP_LEFT_RIGHT), 95)),
    ("greyscale", "colour", lambda im, r, f: (im.convert("L"), 95)),
    ("bright-contrast", "colour", lambda im, r, f: (ImageEnhance.Contrast(ImageEnhance.Brightness(im).enhance(1.15)).enhance(1.25), 95)),
    ("blur", "quality", lambda im, r, f: (blur(im), 95)),
    ("noise", "quality", lambda im, r, f: (noise(im, r), 95)),
    ("screenshot-desktop", "screenshot", lambda im, r, f: (screenshot_desktop(im, r, f), 95)),
    ("screenshot-phone", "screenshot", lambda im, r, f: (screenshot_phone(im, r, f), 95)),
    ("combo", "combo", lambda im, r, f: (combo(im, r, f), 50)),
    # Not in the list: amounts between the listed ones, so that a bank-side hash made
    # for exactly a listed edit does not pass for robustness. Reported apart, outside the
    # issue's totals.
    ("held-out:crop-3.5", "held-out", lambda im, r, f: (crop_centre(im, 3.5), 95)),
    ("held-out:crop-7", "held-out", lambda im, r, f: (crop_centre(im, 7), 95)),
    ("held-out:rotate-3.5", "held-out", lambda im, r, f: (rotate(im, r, 3.5), 95)),
]
FAMILY_NAMES = [n for n, _, _ in FAMILIES]
GROUP = {n: g for n, g, _ in FAMILIES}
# Bump when an edit changes: cached edits of another version are made again.
VERSION = 1


def dir_name(family):
    return family.replace("/", "_").replace(":", "_")


def make_all(args):
    """One source: every family. args = (source path, source id, out root, fonts)."""
    import os

    path, sid, root, font_paths = args
    fonts = Fonts(*font_paths)
    im = Image.open(path).convert("RGB")
    made = 0
    for name, _, fn in FAMILIES:
        out = os.path.join(root, dir_name(name), sid + ".jpg")
        if os.path.exists(out):
            continue
        rng = random.Random(f"{sid}/{name}/{VERSION}")
        edited, quality = fn(im, rng, fonts)
        tmp = out + ".tmp"
        edited.save(tmp, "JPEG", quality=quality)
        os.replace(tmp, out)
        made += 1
    return made
