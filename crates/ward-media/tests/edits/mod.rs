//! Edited copies of the shared reference photos, generated in the test (no binary fixtures):
//! the edit families of edit-robust matching, and look-alikes that must not be normalised.
//! Shared by `ward-media`'s region tests and `ward`'s end-to-end tests (`#[path]`).

#![allow(dead_code)]

use image::{imageops, Rgb, RgbImage};
use std::path::{Path, PathBuf};

/// The shared reference data beside the repository.
pub fn pdq_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/pdq")
}

/// A reference image decoded to RGB.
pub fn load(rel: &str) -> RgbImage {
    image::open(pdq_root().join(rel)).unwrap().to_rgb8()
}

/// The bridge photo at 800×502 (the reference's photo, halved to keep tests quick).
pub fn bridge() -> RgbImage {
    let img = load("lossless/bridge-mods__aaa-orig.png");
    imageops::resize(&img, 800, 502, imageops::FilterType::Triangle)
}

/// Pads `img` with `l, t, r, b` pixels of `colour`.
pub fn pad(img: &RgbImage, l: u32, t: u32, r: u32, b: u32, colour: [u8; 3]) -> RgbImage {
    let mut out = RgbImage::from_pixel(img.width() + l + r, img.height() + t + b, Rgb(colour));
    imageops::replace(&mut out, img, i64::from(l), i64::from(t));
    out
}

/// Blocky pseudo-text: rows of letter-sized boxes in `ink`.
fn text(img: &mut RgbImage, x0: u32, y0: u32, width: u32, line_h: u32, lines: u32, ink: [u8; 3]) {
    let mut seed = 12345u32;
    for line in 0..lines {
        let y = y0 + line * line_h * 2;
        let mut x = x0;
        while x + line_h < x0 + width {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let glyph_w = line_h / 2 + (seed >> 16) % (line_h / 2).max(1);
            // A letter: one or two vertical strokes, sometimes a bar (ink covers about a third
            // of a text line, as in print).
            let two = (seed >> 12).is_multiple_of(2);
            let bar = (seed >> 14).is_multiple_of(3);
            let t = (line_h / 8).max(1);
            for yy in y..y + line_h {
                for xx in x..x + glyph_w {
                    let stroke = xx < x + t
                        || (two && xx + t >= x + glyph_w)
                        || (bar && yy >= y + line_h / 2 && yy < y + line_h / 2 + t);
                    if stroke && xx < img.width() && yy < img.height() {
                        img.put_pixel(xx, yy, Rgb(ink));
                    }
                }
            }
            x += glyph_w
                + line_h / 3
                + if (seed >> 8).is_multiple_of(5) {
                    line_h
                } else {
                    0
                };
        }
    }
}

/// A caption bar of `share` of the height (of the result) at the top or bottom, white with
/// black text.
pub fn caption(img: &RgbImage, share: f64, top: bool) -> RgbImage {
    let (w, h) = img.dimensions();
    let bar = ((h as f64) * share / (1.0 - share)).round() as u32;
    let mut out = RgbImage::from_pixel(w, h + bar, Rgb([250, 250, 250]));
    let (pic_y, bar_y) = if top { (bar, 0) } else { (0, h) };
    imageops::replace(&mut out, img, 0, i64::from(pic_y));
    let line_h = (bar / 5).max(4);
    text(
        &mut out,
        w / 20,
        bar_y + line_h,
        w * 9 / 10,
        line_h,
        2,
        [10, 10, 10],
    );
    out
}

/// The picture in a desktop-browser-like page: toolbar, sidebar, text, the picture at
/// (`x`, `y`).
pub fn screenshot(img: &RgbImage) -> (RgbImage, (u32, u32)) {
    let (w, h) = img.dimensions();
    let (cw, ch) = (w + w / 2, h + h * 3 / 5);
    let mut out = RgbImage::from_pixel(cw, ch, Rgb([245, 246, 248]));
    // Toolbar.
    for y in 0..ch / 12 {
        for x in 0..cw {
            out.put_pixel(x, y, Rgb([222, 225, 230]));
        }
    }
    text(&mut out, cw / 30, ch / 40, cw / 3, 8, 1, [60, 60, 60]);
    let (x, y) = (cw / 4, ch / 5);
    text(&mut out, x, y - 40, w, 10, 1, [20, 20, 20]);
    text(&mut out, 10, y, cw / 4 - 30, 8, 8, [90, 90, 90]);
    imageops::replace(&mut out, img, i64::from(x), i64::from(y));
    text(&mut out, x, y + h + 20, w, 9, 3, [30, 30, 30]);
    (out, (x, y))
}

/// The picture as a post in a phone app: status bar and header (name, a round avatar) above
/// it on the page colour, the picture at full width, then action icons, caption text and a
/// navigation bar. Light (white page) or dark (black page). Returns the top of the picture.
pub fn phone_post(img: &RgbImage, dark: bool) -> (RgbImage, u32) {
    let (w, h) = img.dimensions();
    let (page, ink) = if dark {
        ([0, 0, 0], [240, 240, 240])
    } else {
        ([255, 255, 255], [20, 20, 20])
    };
    let top = h / 4;
    let mut out = RgbImage::from_pixel(w, top + h + h * 3 / 4, Rgb(page));
    let ch = out.height();
    text(&mut out, w / 30, 6, w / 5, 8, 1, ink);
    // Avatar: a filled circle, then the account name beside it.
    let (cx, cy, r) = (w / 12, top / 2 + 4, top / 4);
    for y in cy - r..cy + r {
        for x in cx.saturating_sub(r)..cx + r {
            let (dx, dy) = (x as i64 - cx as i64, y as i64 - cy as i64);
            if dx * dx + dy * dy <= (r * r) as i64 {
                out.put_pixel(x, y, Rgb([220, 80, 60]));
            }
        }
    }
    text(&mut out, cx + 2 * r, cy - 8, w / 3, 10, 1, ink);
    imageops::replace(&mut out, img, 0, i64::from(top));
    // Icons (outlined squares), caption lines, the navigation bar's line and icons.
    let y = top + h + 16;
    for i in 0..4u32 {
        let x0 = 12 + i * 40;
        for k in 0..24 {
            for (xx, yy) in [(x0 + k, y), (x0 + k, y + 23), (x0, y + k), (x0 + 23, y + k)] {
                out.put_pixel(xx, yy, Rgb(ink));
            }
        }
    }
    text(&mut out, 12, y + 44, w * 9 / 10, 10, 3, ink);
    for x in 0..w {
        out.put_pixel(x, ch - 40, Rgb([140, 140, 140]));
    }
    text(&mut out, w / 10, ch - 28, w * 8 / 10, 14, 1, ink);
    (out, top)
}

/// Mirror (left-right).
pub fn mirror(img: &RgbImage) -> RgbImage {
    imageops::flip_horizontal(img)
}

/// Rotate 90° clockwise.
pub fn rotate90(img: &RgbImage) -> RgbImage {
    imageops::rotate90(img)
}

/// Crop `share` of each dimension off each side.
pub fn crop_centre(img: &RgbImage, share: f64) -> RgbImage {
    let (w, h) = img.dimensions();
    let (dx, dy) = ((w as f64 * share) as u32, (h as f64 * share) as u32);
    imageops::crop_imm(img, dx, dy, w - 2 * dx, h - 2 * dy).to_image()
}

/// Rotate by `deg` degrees counter-clockwise and crop to the inscribed rectangle of the same
/// aspect ratio (nearest neighbour: an implementation of its own, not ward's).
pub fn rotate_small(img: &RgbImage, deg: f64) -> RgbImage {
    let (w, h) = (f64::from(img.width()), f64::from(img.height()));
    let t = deg.to_radians();
    let (s, c) = (t.sin().abs(), t.cos().abs());
    let k = (w / (w * c + h * s)).min(h / (w * s + h * c));
    let (ow, oh) = ((w * k) as u32, (h * k) as u32);
    RgbImage::from_fn(ow, oh, |u, v| {
        let dx = f64::from(u) - f64::from(ow) / 2.0;
        let dy = f64::from(v) - f64::from(oh) / 2.0;
        let sx = (t.cos() * dx - t.sin() * dy + w / 2.0).clamp(0.0, w - 1.0);
        let sy = (t.sin() * dx + t.cos() * dy + h / 2.0).clamp(0.0, h - 1.0);
        *img.get_pixel(sx as u32, sy as u32)
    })
}

/// JPEG round trip at `quality`.
pub fn jpeg(img: &RgbImage, quality: u8) -> RgbImage {
    let mut buf = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality);
    img.write_with_encoder(enc).unwrap();
    image::load_from_memory(&buf).unwrap().to_rgb8()
}

/// The photo with its top 15 % darkened to near black along an irregular boundary (a night
/// sky, a vignette): a naturally dark edge, not a border.
pub fn dark_edge(img: &RgbImage) -> RgbImage {
    let mut out = img.clone();
    let (w, h) = out.dimensions();
    for x in 0..w {
        let edge = (h as f64 * (0.12 + 0.04 * ((x as f64) / 37.0).sin())) as u32;
        for y in 0..edge + 20 {
            let f = if y < edge {
                0.04
            } else {
                0.04 + 0.96 * f64::from(y - edge) / 20.0
            };
            let p = out.get_pixel_mut(x, y);
            for c in 0..3 {
                p.0[c] = (f64::from(p.0[c]) * f) as u8;
            }
        }
    }
    jpeg(&out, 85)
}

/// A sky: the top 25 % a smooth blue gradient above an uneven horizon.
pub fn sky_band(img: &RgbImage) -> RgbImage {
    let mut out = img.clone();
    let (w, h) = out.dimensions();
    for x in 0..w {
        let horizon = (h as f64 * (0.25 + 0.03 * ((x as f64) / 53.0).sin())) as u32;
        for y in 0..horizon {
            let t = f64::from(y) / f64::from(horizon);
            out.put_pixel(
                x,
                y,
                Rgb([
                    (70.0 + 90.0 * t) as u8,
                    (120.0 + 80.0 * t) as u8,
                    (200.0 + 40.0 * t) as u8,
                ]),
            );
        }
    }
    jpeg(&out, 85)
}

/// A carved wooden frame around the photo (part of the picture, not an edit).
pub fn real_frame(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let t = w / 14;
    let mut out = RgbImage::new(w + 2 * t, h + 2 * t);
    let mut seed = 7u32;
    for (x, y, p) in out.enumerate_pixels_mut() {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let grain = ((f64::from(x + 3 * y) / 9.0).sin() * 30.0) as i32 + (seed >> 27) as i32 * 4;
        let d = x.min(y).min(w + 2 * t - 1 - x).min(h + 2 * t - 1 - y);
        let bevel: i32 = if d < t / 3 { 30 } else { 0 };
        *p = Rgb([
            (120 + grain + bevel).clamp(0, 255) as u8,
            (80 + grain / 2 + bevel).clamp(0, 255) as u8,
            (40 + grain / 3).clamp(0, 255) as u8,
        ]);
    }
    imageops::replace(&mut out, img, i64::from(t), i64::from(t));
    jpeg(&out, 85)
}

/// `img` on a `cw`×`ch` canvas (at least its size), centred and moved `dy` pixels down, the
/// rest its own copy scaled to cover the canvas and Gaussian-blurred with `sigma`: the
/// blurred fill phone apps pad with. Returns the picture's top-left corner too.
pub fn blurred_fill(
    img: &RgbImage,
    cw: u32,
    ch: u32,
    sigma: f32,
    dy: i64,
) -> (RgbImage, (u32, u32)) {
    use image::imageops;
    let (w, h) = img.dimensions();
    let s = (f64::from(cw) / f64::from(w)).max(f64::from(ch) / f64::from(h));
    let (bw, bh) = (
        ((f64::from(w) * s).ceil() as u32).max(cw),
        ((f64::from(h) * s).ceil() as u32).max(ch),
    );
    let big = imageops::resize(img, bw, bh, imageops::FilterType::Triangle);
    let fill = imageops::crop_imm(&big, (bw - cw) / 2, (bh - ch) / 2, cw, ch).to_image();
    let mut out = imageops::blur(&fill, sigma);
    let (x, y) = (i64::from((cw - w) / 2), i64::from((ch - h) / 2) + dy);
    imageops::replace(&mut out, img, x, y);
    (out, (x as u32, y as u32))
}
