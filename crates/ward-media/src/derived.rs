//! Bank-side augmentation: extra PDQ hashes of a known image under the edits that query-side
//! normalisation cannot undo (crops and small rotations).
//!
//! A crop removes picture that nothing on the query side can bring back, and a rotation of a
//! few degrees moves every hash bit's basis. When ward has the media of a bank entry (`ward
//! bank add`), it hashes a few likely edits of it as well and indexes them as *derived*
//! signals of the same entry: a re-upload cropped by 5 % is then a few bits from the entry's
//! `crop-5-centre` hash instead of 80 from its plain one. Derived hashes are ward's own; they
//! are never exported (shared lists stay plain PDQ).
//!
//! The set ([`DerivedKind::ALL`]):
//! - `crop-P-centre` (P = 2, 5, 10, 15): P % of the width cut from each side, and P % of the
//!   height from the top and bottom (the centre `100 - 2P` %);
//! - `crop-10-tl`, `-tr`, `-bl`, `-br`: 10 % of each dimension cut from the two sides away
//!   from that corner (the 90 % × 90 % at the corner), and `crop-XxY-tl` … for the other
//!   combinations of X, Y in {8, 10, 12} (X % of the width, Y % of the height): a re-upload
//!   anchored in a corner is seldom cut by the same share both ways, and a cut 1.5 % off is
//!   already past the derived threshold;
//! - `rotate+A`, `rotate-A` (A = 2, 3, 5 degrees; + is counter-clockwise): rotated about the
//!   centre (bilinear) and cropped to the largest centred rectangle of the image's aspect
//!   ratio inside the rotated picture (no fill colour);
//! - `rotate+A-fill`, `rotate-A-fill` (A = 1 to 5 degrees): rotated on the same canvas, the
//!   corners black (what Pillow's `rotate` and most editors do). One degree apart, because a
//!   rotation 1° off is already ~40 bits away.

use ward_pdq::{Pdq, Pixels};

/// One kind of derived hash; its [`name`](DerivedKind::name) is what the store keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DerivedKind(u8);

/// What a derived kind does to the picture.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Keep the rectangle from (x0, y0) to (x1, y1), as shares of the size.
    Crop(f64, f64, f64, f64),
    /// Rotate by this many degrees counter-clockwise, crop to the inscribed rectangle.
    Rotate(f64),
    /// Rotate by this many degrees counter-clockwise on the same canvas, the corners black.
    RotateFill(f64),
}

const KINDS: [(&str, Op); 56] = [
    ("crop-2-centre", Op::Crop(0.02, 0.02, 0.98, 0.98)),
    ("crop-5-centre", Op::Crop(0.05, 0.05, 0.95, 0.95)),
    ("crop-10-centre", Op::Crop(0.10, 0.10, 0.90, 0.90)),
    ("crop-15-centre", Op::Crop(0.15, 0.15, 0.85, 0.85)),
    ("crop-10-tl", Op::Crop(0.0, 0.0, 0.90, 0.90)),
    ("crop-10-tr", Op::Crop(0.10, 0.0, 1.0, 0.90)),
    ("crop-10-bl", Op::Crop(0.0, 0.10, 0.90, 1.0)),
    ("crop-10-br", Op::Crop(0.10, 0.10, 1.0, 1.0)),
    ("rotate+2", Op::Rotate(2.0)),
    ("rotate-2", Op::Rotate(-2.0)),
    ("rotate+3", Op::Rotate(3.0)),
    ("rotate-3", Op::Rotate(-3.0)),
    ("rotate+5", Op::Rotate(5.0)),
    ("rotate-5", Op::Rotate(-5.0)),
    ("rotate+1-fill", Op::RotateFill(1.0)),
    ("rotate-1-fill", Op::RotateFill(-1.0)),
    ("rotate+2-fill", Op::RotateFill(2.0)),
    ("rotate-2-fill", Op::RotateFill(-2.0)),
    ("rotate+3-fill", Op::RotateFill(3.0)),
    ("rotate-3-fill", Op::RotateFill(-3.0)),
    ("rotate+4-fill", Op::RotateFill(4.0)),
    ("rotate-4-fill", Op::RotateFill(-4.0)),
    ("rotate+5-fill", Op::RotateFill(5.0)),
    ("rotate-5-fill", Op::RotateFill(-5.0)),
    // Corner crops around 10 %: each side cut by 8, 10 or 12 %, independently (crop-10-tl
    // and the others above are 10 × 10), because PDQ drifts past the derived threshold
    // about 1.5 % off the cut.
    ("crop-8x8-tl", Op::Crop(0.0, 0.0, 0.92, 0.92)),
    ("crop-8x8-tr", Op::Crop(0.08, 0.0, 1.0, 0.92)),
    ("crop-8x8-bl", Op::Crop(0.0, 0.08, 0.92, 1.0)),
    ("crop-8x8-br", Op::Crop(0.08, 0.08, 1.0, 1.0)),
    ("crop-8x10-tl", Op::Crop(0.0, 0.0, 0.92, 0.9)),
    ("crop-8x10-tr", Op::Crop(0.08, 0.0, 1.0, 0.9)),
    ("crop-8x10-bl", Op::Crop(0.0, 0.1, 0.92, 1.0)),
    ("crop-8x10-br", Op::Crop(0.08, 0.1, 1.0, 1.0)),
    ("crop-8x12-tl", Op::Crop(0.0, 0.0, 0.92, 0.88)),
    ("crop-8x12-tr", Op::Crop(0.08, 0.0, 1.0, 0.88)),
    ("crop-8x12-bl", Op::Crop(0.0, 0.12, 0.92, 1.0)),
    ("crop-8x12-br", Op::Crop(0.08, 0.12, 1.0, 1.0)),
    ("crop-10x8-tl", Op::Crop(0.0, 0.0, 0.9, 0.92)),
    ("crop-10x8-tr", Op::Crop(0.1, 0.0, 1.0, 0.92)),
    ("crop-10x8-bl", Op::Crop(0.0, 0.08, 0.9, 1.0)),
    ("crop-10x8-br", Op::Crop(0.1, 0.08, 1.0, 1.0)),
    ("crop-10x12-tl", Op::Crop(0.0, 0.0, 0.9, 0.88)),
    ("crop-10x12-tr", Op::Crop(0.1, 0.0, 1.0, 0.88)),
    ("crop-10x12-bl", Op::Crop(0.0, 0.12, 0.9, 1.0)),
    ("crop-10x12-br", Op::Crop(0.1, 0.12, 1.0, 1.0)),
    ("crop-12x8-tl", Op::Crop(0.0, 0.0, 0.88, 0.92)),
    ("crop-12x8-tr", Op::Crop(0.12, 0.0, 1.0, 0.92)),
    ("crop-12x8-bl", Op::Crop(0.0, 0.08, 0.88, 1.0)),
    ("crop-12x8-br", Op::Crop(0.12, 0.08, 1.0, 1.0)),
    ("crop-12x10-tl", Op::Crop(0.0, 0.0, 0.88, 0.9)),
    ("crop-12x10-tr", Op::Crop(0.12, 0.0, 1.0, 0.9)),
    ("crop-12x10-bl", Op::Crop(0.0, 0.1, 0.88, 1.0)),
    ("crop-12x10-br", Op::Crop(0.12, 0.1, 1.0, 1.0)),
    ("crop-12x12-tl", Op::Crop(0.0, 0.0, 0.88, 0.88)),
    ("crop-12x12-tr", Op::Crop(0.12, 0.0, 1.0, 0.88)),
    ("crop-12x12-bl", Op::Crop(0.0, 0.12, 0.88, 1.0)),
    ("crop-12x12-br", Op::Crop(0.12, 0.12, 1.0, 1.0)),
];

impl DerivedKind {
    /// Every kind, in a fixed order.
    pub const ALL: [DerivedKind; KINDS.len()] = {
        let mut a = [DerivedKind(0); KINDS.len()];
        let mut i = 0;
        while i < KINDS.len() {
            a[i] = DerivedKind(i as u8);
            i += 1;
        }
        a
    };

    /// The stored name, e.g. `crop-5-centre`, `rotate+2`.
    pub fn name(self) -> &'static str {
        KINDS[usize::from(self.0) % KINDS.len()].0
    }

    /// The kind of a stored name; `None` for a name this version does not know.
    pub fn from_name(name: &str) -> Option<DerivedKind> {
        KINDS
            .iter()
            .position(|(n, _)| *n == name)
            .map(|i| DerivedKind(i as u8))
    }
}

impl std::fmt::Display for DerivedKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Longest side the edits are computed at: PDQ looks at a 64×64 downsample, so a larger
/// source only costs time.
const WORK_SIDE: usize = 1024;

/// The derived hashes of a packed RGB image (`width × height × 3` bytes), with their
/// quality; empty when the buffer does not match or the image is too small to edit.
pub fn derived_hashes(rgb: &[u8], width: u32, height: u32) -> Vec<(DerivedKind, Pdq)> {
    let (w, h) = (width as usize, height as usize);
    if w < 20 || h < 20 || w.checked_mul(h).and_then(|n| n.checked_mul(3)) != Some(rgb.len()) {
        return Vec::new();
    }
    let (small, sw, sh) = shrink(rgb, w, h);
    let mut out = Vec::new();
    for kind in DerivedKind::ALL {
        let (px, ew, eh) = match KINDS[usize::from(kind.0)].1 {
            Op::Crop(x0, y0, x1, y1) => {
                // Crops at full resolution: they are cheap, and exact as a query's crop is.
                let (cx0, cy0) = (
                    (x0 * w as f64).round() as usize,
                    (y0 * h as f64).round() as usize,
                );
                let (cx1, cy1) = (
                    (x1 * w as f64).round() as usize,
                    (y1 * h as f64).round() as usize,
                );
                let rect = crate::letterbox::Rect {
                    x: cx0 as u32,
                    y: cy0 as u32,
                    width: (cx1 - cx0) as u32,
                    height: (cy1 - cy0) as u32,
                };
                (
                    crate::regions::crop_rgb(rgb, width, rect),
                    cx1 - cx0,
                    cy1 - cy0,
                )
            }
            Op::Rotate(deg) => rotate_inscribed(&small, sw, sh, deg),
            Op::RotateFill(deg) => (rotate_filled(&small, sw, sh, deg), sw, sh),
        };
        if let Ok(p) = Pixels::rgb(&px, ew, eh) {
            out.push((kind, ward_pdq::pdq(&p)));
        }
    }
    out
}

/// A box-filtered copy no larger than [`WORK_SIDE`] (the image itself when small enough).
fn shrink(rgb: &[u8], w: usize, h: usize) -> (std::borrow::Cow<'_, [u8]>, usize, usize) {
    let f = w.max(h).div_ceil(WORK_SIDE).max(1);
    if f == 1 {
        return (rgb.into(), w, h);
    }
    let (sw, sh) = (w / f, h / f);
    let mut out = vec![0u8; sw * sh * 3];
    for y in 0..sh {
        for x in 0..sw {
            let mut s = [0u32; 3];
            for dy in 0..f {
                let row = ((y * f + dy) * w + x * f) * 3;
                for dx in 0..f {
                    for c in 0..3 {
                        s[c] += u32::from(rgb[row + dx * 3 + c]);
                    }
                }
            }
            let n = (f * f) as u32;
            for c in 0..3 {
                out[(y * sw + x) * 3 + c] = ((s[c] + n / 2) / n) as u8;
            }
        }
    }
    (out.into(), sw, sh)
}

/// Rotates by `deg` degrees counter-clockwise about the centre (bilinear) and keeps the
/// largest centred rectangle of the same aspect ratio that lies inside the rotated picture.
pub fn rotate_inscribed(rgb: &[u8], w: usize, h: usize, deg: f64) -> (Vec<u8>, usize, usize) {
    let t = deg.to_radians();
    let (s, c) = (t.sin().abs(), t.cos().abs());
    let (wf, hf) = (w as f64, h as f64);
    let scale = (wf / (wf * c + hf * s)).min(hf / (wf * s + hf * c));
    let (ow, oh) = (
        ((wf * scale).floor() as usize).max(1),
        ((hf * scale).floor() as usize).max(1),
    );
    let (sin, cos) = t.sin_cos();
    let (cx, cy) = (wf / 2.0, hf / 2.0);
    let (ocx, ocy) = (ow as f64 / 2.0, oh as f64 / 2.0);
    let mut out = vec![0u8; ow * oh * 3];
    for v in 0..oh {
        for u in 0..ow {
            // Output pixel centre relative to the centre, rotated back into the source. The
            // y axis points down, so counter-clockwise on screen is the inverse here.
            let (dx, dy) = (u as f64 + 0.5 - ocx, v as f64 + 0.5 - ocy);
            let sx = cos * dx - sin * dy + cx - 0.5;
            let sy = sin * dx + cos * dy + cy - 0.5;
            let px = bilinear(rgb, w, h, sx, sy);
            out[(v * ow + u) * 3..(v * ow + u) * 3 + 3].copy_from_slice(&px);
        }
    }
    (out, ow, oh)
}

/// Rotates by `deg` degrees counter-clockwise about the centre (bilinear) on the same canvas;
/// what falls outside the picture is black (what most editors and Pillow's `rotate` do).
pub fn rotate_filled(rgb: &[u8], w: usize, h: usize, deg: f64) -> Vec<u8> {
    let (sin, cos) = deg.to_radians().sin_cos();
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
    let mut out = vec![0u8; w * h * 3];
    for v in 0..h {
        for u in 0..w {
            let (dx, dy) = (u as f64 + 0.5 - cx, v as f64 + 0.5 - cy);
            let sx = cos * dx - sin * dy + cx - 0.5;
            let sy = sin * dx + cos * dy + cy - 0.5;
            // Outside by more than half a pixel: the fill.
            if sx < -0.5 || sy < -0.5 || sx > w as f64 - 0.5 || sy > h as f64 - 0.5 {
                continue;
            }
            let px = bilinear(rgb, w, h, sx, sy);
            out[(v * w + u) * 3..(v * w + u) * 3 + 3].copy_from_slice(&px);
        }
    }
    out
}

fn bilinear(rgb: &[u8], w: usize, h: usize, x: f64, y: f64) -> [u8; 3] {
    let x = x.clamp(0.0, (w - 1) as f64);
    let y = y.clamp(0.0, (h - 1) as f64);
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let p = |xx: usize, yy: usize, c: usize| f64::from(rgb[(yy * w + xx) * 3 + c]);
    std::array::from_fn(|c| {
        let top = p(x0, y0, c) * (1.0 - fx) + p(x1, y0, c) * fx;
        let bot = p(x0, y1, c) * (1.0 - fx) + p(x1, y1, c) * fx;
        (top * (1.0 - fy) + bot * fy).round().clamp(0.0, 255.0) as u8
    })
}
