//! Query-side normalisation of videos: the content rectangle inside a fixed layout, found by
//! what stays still.
//!
//! A re-upload often shows the known video inside something else that does not change for
//! the whole video: bars or a border of any colour, a caption or banner band with a headline,
//! the dark canvas and account name of a phone app. A single frame cannot always tell such a
//! layout from a plain part of the picture, but a video can: over frames sampled across it,
//! the layout is **static** while the content **moves**. [`detect_layout`] looks for that:
//!
//! 1. per pixel, the range of its luma over the sampled frames; a pixel whose luma stays
//!    within [`LayoutOptions::static_range`] is still. The lines (rows, columns) with moving
//!    pixels bound the motion;
//! 2. each strip between the motion and an edge of the frame is a candidate band, and counts
//!    only when it looks like an edit: almost all of it still, most of it one background
//!    colour (text, a logo or UI on top is allowed);
//! 3. the content's edge is then moved outward from the motion, over still lines that are not
//!    mostly that background (the still parts of the picture, its own bars), to the first
//!    line that is; and the step there must be sharp, as a pasted picture's edge is;
//! 4. a band that fails any test is not trimmed (the content reaches the frame's edge there).
//!
//! It answers with a [`Region`] whose kind names the edit: `trim-border` when no band has
//! anything on it, `caption-band` when one band along the top or bottom carries text, and
//! `inner-region` for the rest (a phone or post frame with UI around the picture). A video
//! whose picture never moves gets no answer: nothing tells its layout from its content.
//!
//! Pure: RGB frames in, a rectangle out.

use crate::letterbox::Rect;
use crate::regions::{Region, RegionKind};

/// How [`detect_layout`] decides; the defaults suit compressed video.
#[derive(Clone, Debug, PartialEq)]
pub struct LayoutOptions {
    /// A pixel is still when its luma varies by at most this over the sampled frames
    /// (H.264 at usual rates moves a still, flat area by a few levels). Default 16.
    pub static_range: u8,
    /// A line moves when at least this share of its pixels are not still (and at least 2).
    /// Default 0.01.
    pub moving_share: f64,
    /// Least share of a band's pixels that are still (a caption's text may flicker a little
    /// in compression). Default 0.95.
    pub band_static: f64,
    /// Least share of a band's pixels of its background colour (the rest: text, logos, UI).
    /// Default 0.6.
    pub band_background: f64,
    /// A pixel (its mean over the frames) has the background colour when each channel is at
    /// most this far from it. Tight, so that a picture's own black bars stay apart from a
    /// phone app's dark grey. Default 10.
    pub tolerance: u8,
    /// A line is background when at least this share of its pixels are. Default 0.5.
    pub line_background: f64,
    /// Least share of background pixels on a band's outermost line, along the frame's whole
    /// side (an edit's band runs along all of it; text never reaches the frame's edge).
    /// Default 0.9.
    pub edge_background: f64,
    /// Least share of the pixels of the content's edge line that differ from the background
    /// line beside it by more than the tolerance. Default 0.25.
    pub edge_step: f64,
    /// Thinnest band, as a share of the frame's dimension across it (at least 2 pixels).
    /// Default 0.01.
    pub min_band: f64,
    /// Smallest content left, as a share of each dimension (a portrait video pillarboxed to
    /// 16:9 keeps 32 % of the width). Default 0.25.
    pub min_content: f64,
    /// Fewest sampled frames to decide on. Default 3.
    pub min_frames: usize,
    /// The content rectangle's corners are moved inward to multiples of this. Default 2.
    pub align: u32,
}

impl Default for LayoutOptions {
    fn default() -> Self {
        LayoutOptions {
            static_range: 16,
            moving_share: 0.01,
            band_static: 0.95,
            band_background: 0.6,
            tolerance: 10,
            line_background: 0.5,
            edge_background: 0.9,
            edge_step: 0.25,
            min_band: 0.01,
            min_content: 0.25,
            min_frames: 3,
            align: 2,
        }
    }
}

/// The sides of a frame, in the order they are trimmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Top,
    Bottom,
    Left,
    Right,
}

/// The frames reduced to what the detector needs: per pixel, whether it moves, and its mean
/// colour.
struct Still {
    w: usize,
    moving: Vec<bool>,
    mean: Vec<[u8; 3]>,
}

impl Still {
    fn new(frames: &[&[u8]], w: usize, h: usize, static_range: u8) -> Still {
        let n = w * h;
        let mut lo = vec![u8::MAX; n];
        let mut hi = vec![0u8; n];
        let mut sum = vec![[0u32; 3]; n];
        for f in frames {
            for (i, p) in f.chunks_exact(3).enumerate() {
                let y =
                    ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2]) + 128)
                        >> 8) as u8;
                lo[i] = lo[i].min(y);
                hi[i] = hi[i].max(y);
                for c in 0..3 {
                    sum[i][c] += u32::from(p[c]);
                }
            }
        }
        let k = frames.len().max(1) as u32;
        Still {
            w,
            moving: lo
                .iter()
                .zip(&hi)
                .map(|(l, h)| h - l > static_range)
                .collect(),
            mean: sum
                .iter()
                .map(|s| s.map(|v| ((v + k / 2) / k) as u8))
                .collect(),
        }
    }

    /// The pixel indices of row `y` from `x0` to `x1`, or of column `x` from `y0` to `y1`.
    fn line(&self, side: Side, i: usize, span: (usize, usize)) -> impl Iterator<Item = usize> {
        let w = self.w;
        let (start, step) = match side {
            Side::Top | Side::Bottom => (i * w + span.0, 1),
            Side::Left | Side::Right => (span.0 * w + i, w),
        };
        (0..span.1 - span.0).map(move |k| start + k * step)
    }
}

fn near(a: [u8; 3], b: [u8; 3], tol: u8) -> bool {
    (0..3).all(|c| a[c].abs_diff(b[c]) <= tol)
}

/// The most common colour of some pixels: the mean of those in the fullest cell of a
/// 16-level-a-channel grid.
fn background<I: Iterator<Item = [u8; 3]>>(px: impl Fn() -> I) -> [u8; 3] {
    let cell = |p: [u8; 3]| {
        (usize::from(p[0] >> 4) << 8) | (usize::from(p[1] >> 4) << 4) | usize::from(p[2] >> 4)
    };
    let mut count = vec![0u32; 4096];
    for p in px() {
        count[cell(p)] += 1;
    }
    let best = (0..4096).max_by_key(|&i| count[i]).unwrap_or(0);
    let (mut sum, mut n) = ([0u64; 3], 0u64);
    for p in px().filter(|&p| cell(p) == best) {
        for c in 0..3 {
            sum[c] += u64::from(p[c]);
        }
        n += 1;
    }
    let n = n.max(1);
    sum.map(|s| ((s + n / 2) / n) as u8)
}

/// The content rectangle inside a layout that stays still while the picture moves, and the
/// kind of edit it looks like; `None` when there is no such layout (or no safe answer).
///
/// Every frame is packed RGB24, `width × height × 3` bytes; the frames are samples spread
/// over one video. A frame of another length gives `None`.
pub fn detect_layout(
    frames: &[&[u8]],
    width: u32,
    height: u32,
    opts: &LayoutOptions,
) -> Option<Region> {
    let (w, h) = (width as usize, height as usize);
    if frames.len() < opts.min_frames.max(2)
        || w < 16
        || h < 16
        || frames.iter().any(|f| f.len() != w * h * 3)
    {
        return None;
    }
    let s = Still::new(frames, w, h, opts.static_range);
    // Where the picture moves: the longest run of rows with moving pixels (short gaps
    // bridged), then of columns within those rows. A flickering caption apart from the
    // picture is a run of its own, and stays in the band.
    let rows: Vec<usize> = s
        .moving
        .chunks_exact(w)
        .map(|r| r.iter().filter(|&&m| m).count())
        .collect();
    let row_min = ((opts.moving_share * w as f64).ceil() as usize).max(2);
    let (ra, rb) = motion_run(&rows, row_min, (h / 50).max(2))?;
    let mut cols = vec![0usize; w];
    for y in ra..rb {
        for (x, c) in cols.iter_mut().enumerate() {
            *c += usize::from(s.moving[y * w + x]);
        }
    }
    let col_min = ((opts.moving_share * (rb - ra) as f64).ceil() as usize).max(2);
    let (ca, cb) = motion_run(&cols, col_min, (w / 50).max(2))?;
    let (top, bottom, left, right) = (ra, h - rb, ca, w - cb);

    // The content, edge by edge: [y0, y1) × [x0, x1).
    let (mut y0, mut y1, mut x0, mut x1) = (0, h, 0, w);
    let mut text = Vec::new();
    for (side, thick) in [
        (Side::Top, top),
        (Side::Bottom, bottom),
        (Side::Left, left),
        (Side::Right, right),
    ] {
        let across = match side {
            Side::Top | Side::Bottom => h,
            Side::Left | Side::Right => w,
        };
        if thick < ((opts.min_band * across as f64).ceil() as usize).max(2) {
            continue;
        }
        // The band's lines (outermost first) and the span of each: whole rows, and columns
        // between the content's rows as trimmed so far; the outermost line is also looked
        // at along the frame's whole side (an edit's band runs along all of it, a picture's
        // own bars only along the picture).
        let (span, whole) = match side {
            Side::Top | Side::Bottom => ((0, w), (0, w)),
            Side::Left | Side::Right => ((y0, y1), (0, h)),
        };
        let lines = Lines {
            side,
            span,
            whole,
            across,
        };
        if let Some((edge, has_text)) = band(&s, &lines, thick, opts) {
            match side {
                Side::Top => y0 = edge,
                Side::Bottom => y1 = h - edge,
                Side::Left => x0 = edge,
                Side::Right => x1 = w - edge,
            }
            text.push((side, has_text));
        }
    }
    if text.is_empty() {
        return None;
    }
    let a = opts.align.max(1) as usize;
    let (x0, y0) = (x0.div_ceil(a) * a, y0.div_ceil(a) * a);
    let cw = x1.saturating_sub(x0) / a * a;
    let ch = y1.saturating_sub(y0) / a * a;
    if (cw as f64) < opts.min_content * w as f64 || (ch as f64) < opts.min_content * h as f64 {
        return None;
    }
    let texts: Vec<Side> = text.iter().filter(|t| t.1).map(|t| t.0).collect();
    let kind = match texts.as_slice() {
        [] => RegionKind::TrimBorder,
        [Side::Top] | [Side::Bottom] => RegionKind::CaptionBand,
        _ => RegionKind::InnerRegion,
    };
    Some(Region {
        kind,
        rect: Rect {
            x: x0 as u32,
            y: y0 as u32,
            width: cw as u32,
            height: ch as u32,
        },
    })
}

/// The lines of one side of a frame, `across` of them: `span` is the part of each line
/// looked at, `whole` the line's full length.
struct Lines {
    side: Side,
    span: (usize, usize),
    whole: (usize, usize),
    across: usize,
}

impl Lines {
    /// The index (row or column) of the `i`-th line from the edge.
    fn at(&self, i: usize) -> usize {
        match self.side {
            Side::Top | Side::Left => i,
            Side::Bottom | Side::Right => self.across - 1 - i,
        }
    }
}

/// The longest run `[a, b)` of lines whose count is at least `min`, gaps of up to `gap`
/// lines bridged.
fn motion_run(counts: &[usize], min: usize, gap: usize) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    let mut cur: Option<(usize, usize)> = None;
    for (i, &n) in counts.iter().enumerate() {
        if n < min {
            continue;
        }
        cur = match cur {
            Some((a, b)) if i <= b + gap => Some((a, i + 1)),
            _ => Some((i, i + 1)),
        };
        let (a, b) = cur?;
        if best.is_none_or(|(x, y)| b - a > y - x) {
            best = Some((a, b));
        }
    }
    best
}

/// Whether the `thick` lines at one side are a band of an edit; if so, how many lines from
/// the edge the content starts, and whether the band carries anything (text, UI) on its
/// background.
fn band(s: &Still, l: &Lines, thick: usize, opts: &LayoutOptions) -> Option<(usize, bool)> {
    let (side, span, across) = (l.side, l.span, l.across);
    let line_at = |i: usize| l.at(i);
    if span.1 <= span.0 || thick == 0 {
        return None;
    }
    // The background: the most common colour of the outermost line, which must be almost
    // all of it, along the frame's whole side.
    let bg = background(|| s.line(side, line_at(0), l.whole).map(|p| s.mean[p]));
    let share = |i: usize, span: (usize, usize)| {
        let on = s
            .line(side, line_at(i), span)
            .filter(|&p| near(s.mean[p], bg, opts.tolerance))
            .count();
        on as f64 / (span.1 - span.0) as f64
    };
    if share(0, l.whole) < opts.edge_background {
        return None;
    }
    let is_background = |i: usize| share(i, span) >= opts.line_background;
    // From the motion's edge: inward over a few background lines (compression rings a few
    // lines beside a sharp edge: they move a little but keep the colour), then outward over
    // still lines of the picture that are not background (its own bars, a still sky).
    let mut edge = thick;
    while edge < (thick + 8).min(across - 1) && is_background(edge) {
        edge += 1;
    }
    while edge > 0 && !is_background(edge - 1) {
        edge -= 1;
    }
    if edge < ((opts.min_band * across as f64).ceil() as usize).max(2) || edge >= across {
        return None;
    }
    // The band, lines [0, edge): still, and mostly background.
    let pixels = || (0..edge).flat_map(move |i| s.line(side, line_at(i), span));
    let total = edge * (span.1 - span.0);
    let still = pixels().filter(|&p| !s.moving[p]).count();
    let on = pixels()
        .filter(|&p| near(s.mean[p], bg, opts.tolerance))
        .count();
    if (still as f64) < opts.band_static * total as f64
        || (on as f64) < opts.band_background * total as f64
    {
        return None;
    }
    // A band with nothing on it is near-uniform: a few stray pixels are compression noise,
    // and the lines beside the picture are blurred into it by compression and chroma
    // subsampling.
    let plain = edge.saturating_sub(4);
    let off = (0..plain)
        .flat_map(|i| s.line(side, line_at(i), span))
        .filter(|&p| !near(s.mean[p], bg, opts.tolerance))
        .count();
    let has_text = off as f64 > 0.003 * (plain * (span.1 - span.0)) as f64;
    // The step from the background line into the content must be sharp (a line or two
    // into it: the edge line itself may be blended by chroma subsampling).
    let outer: Vec<usize> = s.line(side, line_at(edge - 1), span).collect();
    let steps = (edge..(edge + 3).min(across))
        .map(|k| {
            s.line(side, line_at(k), span)
                .zip(&outer)
                .filter(|&(i, &o)| !near(s.mean[o], s.mean[i], opts.tolerance))
                .count()
        })
        .max()
        .unwrap_or(0);
    if (steps as f64) < opts.edge_step * outer.len() as f64 {
        return None;
    }
    Some((edge, has_text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: usize = 160;
    const H: usize = 120;

    struct Rng(u64);
    impl Rng {
        fn byte(&mut self) -> u8 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 24) as u8
        }
    }

    /// A frame: moving texture in `content`, `bg` elsewhere, with dark "text" boxes drawn at
    /// `marks` (x, y, w, h) on the layout.
    fn frame(
        seed: u64,
        content: (usize, usize, usize, usize),
        bg: [u8; 3],
        marks: &[(usize, usize, usize, usize)],
    ) -> Vec<u8> {
        let mut rng = Rng(seed * 7919 + 1);
        let mut f = vec![0u8; W * H * 3];
        for y in 0..H {
            for x in 0..W {
                let (cx, cy, cw, ch) = content;
                let inside = x >= cx && x < cx + cw && y >= cy && y < cy + ch;
                let mark = marks
                    .iter()
                    .any(|&(mx, my, mw, mh)| x >= mx && x < mx + mw && y >= my && y < my + mh);
                let p = if inside {
                    let v = rng.byte();
                    [v, v / 2 + 40, 255 - v]
                } else if mark {
                    [250, 250, 250]
                } else {
                    bg
                };
                f[(y * W + x) * 3..][..3].copy_from_slice(&p);
            }
        }
        f
    }

    fn detect(frames: &[Vec<u8>]) -> Option<Region> {
        let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
        detect_layout(&refs, W as u32, H as u32, &LayoutOptions::default())
    }

    fn rect(x: u32, y: u32, width: u32, height: u32) -> Rect {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    #[test]
    fn a_border_of_any_colour_is_trimmed() {
        for bg in [[0, 0, 0], [255, 255, 255], [40, 90, 200]] {
            let frames: Vec<Vec<u8>> = (0..6)
                .map(|k| frame(k, (20, 10, 120, 100), bg, &[]))
                .collect();
            let r = detect(&frames).expect("a border");
            assert_eq!(r.rect, rect(20, 10, 120, 100), "{bg:?}");
            assert_eq!(r.kind, RegionKind::TrimBorder);
        }
    }

    #[test]
    fn a_band_with_text_is_a_caption() {
        let marks = [(10, 6, 6, 8), (30, 6, 6, 8), (50, 6, 6, 8), (70, 6, 6, 8)];
        let frames: Vec<Vec<u8>> = (0..6)
            .map(|k| frame(k, (0, 24, 160, 96), [20, 20, 20], &marks))
            .collect();
        let r = detect(&frames).expect("a caption band");
        assert_eq!(r.rect, rect(0, 24, 160, 96));
        assert_eq!(r.kind, RegionKind::CaptionBand);
    }

    #[test]
    fn text_on_two_sides_is_a_frame() {
        let marks = [(40, 4, 60, 6), (40, 110, 60, 6)];
        let frames: Vec<Vec<u8>> = (0..6)
            .map(|k| frame(k, (0, 20, 160, 80), [16, 16, 16], &marks))
            .collect();
        let r = detect(&frames).expect("a frame");
        assert_eq!(r.rect, rect(0, 20, 160, 80));
        assert_eq!(r.kind, RegionKind::InnerRegion);
    }

    #[test]
    fn the_pictures_own_still_edge_stays_in() {
        // Black bars of the picture's own (still), inside a dark grey canvas.
        let frames: Vec<Vec<u8>> = (0..6)
            .map(|k| {
                let mut f = frame(k, (30, 10, 100, 100), [16, 16, 16], &[]);
                for y in 10..110 {
                    for x in (20..30).chain(130..140) {
                        f[(y * W + x) * 3..][..3].copy_from_slice(&[0, 0, 0]);
                    }
                }
                f
            })
            .collect();
        let r = detect(&frames).expect("a frame");
        assert_eq!(r.rect, rect(20, 10, 120, 100));
    }

    #[test]
    fn a_moving_picture_without_layout_is_none() {
        let frames: Vec<Vec<u8>> = (0..6)
            .map(|k| frame(k, (0, 0, 160, 120), [0; 3], &[]))
            .collect();
        assert_eq!(detect(&frames), None);
    }

    #[test]
    fn a_still_picture_is_none() {
        let f = frame(1, (20, 10, 120, 100), [0; 3], &[]);
        let frames = vec![f.clone(), f.clone(), f];
        assert_eq!(detect(&frames), None);
    }

    #[test]
    fn a_still_textured_part_of_the_picture_is_not_a_band() {
        // The top 30 rows never change but are textured (a still background): not trimmed.
        let still = frame(99, (0, 0, 160, 120), [0; 3], &[]);
        let frames: Vec<Vec<u8>> = (0..6)
            .map(|k| {
                let mut f = frame(k, (0, 0, 160, 120), [0; 3], &[]);
                f[..30 * W * 3].copy_from_slice(&still[..30 * W * 3]);
                f
            })
            .collect();
        assert_eq!(detect(&frames), None);
    }

    #[test]
    fn too_little_content_or_too_few_frames_is_none() {
        let frames: Vec<Vec<u8>> = (0..6)
            .map(|k| frame(k, (70, 10, 20, 100), [0; 3], &[]))
            .collect();
        assert_eq!(detect(&frames), None);
        let frames: Vec<Vec<u8>> = (0..2)
            .map(|k| frame(k, (20, 10, 120, 100), [0; 3], &[]))
            .collect();
        assert_eq!(detect(&frames), None);
    }
}
