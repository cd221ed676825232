//! Query-side normalisation of still images: where the picture a re-upload shows may sit
//! inside something else.
//!
//! Edited copies of known media come back padded (letterbox, pillarbox, a border of any
//! colour, a blurred fill), with a caption or channel banner along an edge, or as the photo
//! inside a screenshot of a post. PDQ hashes every pixel, so each of these moves the copy's
//! hash 100 or more bits from the original's. [`detect_regions`] finds the rectangle that
//! probably holds the original picture; hashing it as well (plus its eight rotations and
//! flips, [`query_candidates`]) finds the copy again, while the plain hash of the whole image
//! stays the field's.
//!
//! Pure functions over decoded RGB; no I/O. The detectors are conservative: a wrong region is
//! one more query hash (a chance of a false match), so each one asks for positive evidence of
//! an edit, not just a plain area:
//!
//! - **trim-border**: whole lines at an edge of one colour (up to JPEG noise: at most 3 % of a
//!   line's pixels more than [`RegionOptions::tolerance`] off, mean deviation at most 6), and
//!   then a sharp transition: within the next three lines, at least 30 % of a line's pixels
//!   leave that colour. A photo whose edge darkens gradually (a vignette, a night sky) never
//!   passes both. A blurred fill (the picture on a taller or wider canvas, the bands its own
//!   enlarged, blurred copy) is a trim-border too: bands on two opposite sides whose lines
//!   are smooth but not one colour, each ending where most of the width steps sharply at
//!   one line, of similar depth, around a picture with more detail than they have (see
//!   `fill_depth`). A photo's own smooth areas (a sky, a bokeh background) end along a
//!   line of their own shape; where picture and fill meet in one flat colour, the step is
//!   missing there, and more than 3 of 8 segments missing loses the fill.
//! - **caption-band**: a band along the top or bottom whose lines are mostly one background
//!   colour, with high-contrast strokes (text, a logo: at least 1 % of the band) and few
//!   in-between colours (a sky drifts through in-between colours; text on a bar does not),
//!   ending where the picture starts.
//! - **inner-region**: the largest rectangle bounded by long straight edges on all four sides
//!   (a picture flush with the image's edges is the other detectors' case), covering 20–95 %
//!   of the image, whose
//!   surroundings are mostly flat (the UI of a post or a browser: flat colour with text),
//!   found on a downscaled luma plane and refined at full resolution (two sides from the
//!   longest edges, the other two wherever a step covers the span between them: a small
//!   picture's edges are shorter than the text lines and toolbars around it). Beside it, a
//!   page of one colour is tried: two opposite edges of the image that colour, and the
//!   picture the longest band of lines mostly off it with page-coloured lines on both sides,
//!   cut to the lines across that cover it densely (a phone app's post, where the photo spans
//!   the whole width; a page with a sidebar and toolbars). "Off the page" is read twice: by
//!   colour, and by colour or texture (a page is flat; a dark photo on a dark page is not),
//!   and each distinct reading is a candidate.

pub use crate::letterbox::Rect;
use ward_pdq::{Hash256, Pixels};

/// Which normalisation produced a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegionKind {
    /// The content inside uniform borders.
    TrimBorder,
    /// The content without a caption or banner band.
    CaptionBand,
    /// The main picture inside a screenshot, post or collage.
    InnerRegion,
}

impl RegionKind {
    /// `trim-border`, `caption-band` or `inner-region`.
    pub fn name(self) -> &'static str {
        match self {
            RegionKind::TrimBorder => "trim-border",
            RegionKind::CaptionBand => "caption-band",
            RegionKind::InnerRegion => "inner-region",
        }
    }
}

/// A candidate rectangle of an image and why it was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// The detector that found it.
    pub kind: RegionKind,
    /// Where, in the image's pixel coordinates.
    pub rect: Rect,
}

/// How [`detect_regions`] decides; the defaults suit JPEG photos and screenshots.
#[derive(Clone, Debug, PartialEq)]
pub struct RegionOptions {
    /// A pixel belongs to a border or a band's background when each channel is at most this
    /// far from its colour. Default 24.
    pub tolerance: u8,
    /// Thinnest border or band, as a share of the dimension across it (at least 2 pixels).
    /// Default 0.01.
    pub min_band: f64,
    /// Smallest content left, as a share of each dimension. Default 0.4.
    pub min_content: f64,
    /// Tallest caption band, as a share of the image's height. Default 0.35.
    pub max_caption: f64,
    /// Smallest inner region, as a share of the image's area. Default 0.2.
    pub min_inner_area: f64,
    /// Run the inner-region detector. Default true.
    pub inner_region: bool,
}

impl Default for RegionOptions {
    fn default() -> Self {
        RegionOptions {
            tolerance: 24,
            min_band: 0.01,
            min_content: 0.4,
            max_caption: 0.35,
            min_inner_area: 0.2,
            inner_region: true,
        }
    }
}

/// One query hash of an image: the whole image or a region, in one of the 8 dihedral
/// transforms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The region it was computed from; `None` for the whole image.
    pub region: Option<Region>,
    /// Dihedral transform, 0 (as found) to 7, in the reference's order.
    pub dihedral: u8,
    /// The hash.
    pub hash: Hash256,
    /// The quality, shared by the eight transforms of one region.
    pub quality: u8,
}

/// A borrowed packed RGB image.
#[derive(Clone, Copy)]
struct Img<'a> {
    rgb: &'a [u8],
    w: usize,
    h: usize,
}

impl Img<'_> {
    #[inline]
    fn px(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.w + x) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
}

/// Which edge a line is counted from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Top,
    Bottom,
    Left,
    Right,
}

/// Half-open rectangle in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bounds {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
}

impl Bounds {
    fn rect(self) -> Rect {
        Rect {
            x: self.x0 as u32,
            y: self.y0 as u32,
            width: (self.x1 - self.x0) as u32,
            height: (self.y1 - self.y0) as u32,
        }
    }
    fn depth(self, side: Side) -> usize {
        match side {
            Side::Top | Side::Bottom => self.y1 - self.y0,
            Side::Left | Side::Right => self.x1 - self.x0,
        }
    }
    fn span(self, side: Side) -> usize {
        match side {
            Side::Top | Side::Bottom => self.x1 - self.x0,
            Side::Left | Side::Right => self.y1 - self.y0,
        }
    }
}

/// The pixels of line `i` (0: the outermost) from `side` of `b`.
fn line(img: Img<'_>, b: Bounds, side: Side, i: usize) -> impl Iterator<Item = [u8; 3]> + '_ {
    let n = b.span(side);
    (0..n).map(move |k| match side {
        Side::Top => img.px(b.x0 + k, b.y0 + i),
        Side::Bottom => img.px(b.x0 + k, b.y1 - 1 - i),
        Side::Left => img.px(b.x0 + i, b.y0 + k),
        Side::Right => img.px(b.x1 - 1 - i, b.y0 + k),
    })
}

#[inline]
fn dev(p: [u8; 3], c: [u8; 3]) -> u8 {
    p[0].abs_diff(c[0])
        .max(p[1].abs_diff(c[1]))
        .max(p[2].abs_diff(c[2]))
}

#[inline]
fn luma(p: [u8; 3]) -> i32 {
    (299 * i32::from(p[0]) + 587 * i32::from(p[1]) + 114 * i32::from(p[2])) / 1000
}

/// Per-channel median of a line.
fn median_colour(px: impl Iterator<Item = [u8; 3]>) -> Option<[u8; 3]> {
    let mut hist = [[0u32; 256]; 3];
    let mut n = 0u32;
    for p in px {
        for c in 0..3 {
            hist[c][usize::from(p[c])] += 1;
        }
        n += 1;
    }
    if n == 0 {
        return None;
    }
    Some(std::array::from_fn(|c| {
        let mut acc = 0;
        for (v, &k) in hist[c].iter().enumerate() {
            acc += k;
            if acc * 2 >= n {
                return v as u8;
            }
        }
        255
    }))
}

/// Statistics of one line against a colour.
#[derive(Clone, Copy, Debug, Default)]
struct LineStats {
    /// Share of pixels within the tolerance.
    on: f64,
    /// Share far off (strokes: more than 64 levels away).
    far: f64,
    /// Share in between.
    mid: f64,
    /// Mean of the largest channel difference.
    mean_dev: f64,
}

fn stats(px: impl Iterator<Item = [u8; 3]>, colour: [u8; 3], tol: u8) -> LineStats {
    let (mut n, mut on, mut far, mut sum) = (0u32, 0u32, 0u32, 0u64);
    for p in px {
        let d = dev(p, colour);
        n += 1;
        sum += u64::from(d);
        if d <= tol {
            on += 1;
        } else if d > 64 {
            far += 1;
        }
    }
    if n == 0 {
        return LineStats::default();
    }
    let n = f64::from(n);
    LineStats {
        on: f64::from(on) / n,
        far: f64::from(far) / n,
        mid: 1.0 - (f64::from(on) + f64::from(far)) / n,
        mean_dev: sum as f64 / n,
    }
}

fn min_band(opts: &RegionOptions, dim: usize) -> usize {
    ((opts.min_band * dim as f64).ceil() as usize).max(2)
}

/// How many lines from `side` are a uniform border, 0 when none (or no sharp transition).
fn uniform_depth(img: Img<'_>, b: Bounds, side: Side, opts: &RegionOptions) -> usize {
    let depth = b.depth(side);
    let limit = depth / 2;
    if limit < 2 || b.span(side) < 2 {
        return 0;
    }
    let Some(colour) = median_colour(line(img, b, side, 0)) else {
        return 0;
    };
    let is_border = |i: usize| {
        let s = stats(line(img, b, side, i), colour, opts.tolerance);
        s.on >= 0.97 && s.mean_dev <= 6.0
    };
    let mut d = 0;
    while d < limit && is_border(d) {
        d += 1;
    }
    if d < min_band(opts, depth) || d >= limit {
        return 0;
    }
    // A sharp transition to content: within the next 8 lines (JPEG rings for up to a block
    // before an edge) a line mostly leaves the border's colour; the border ends there. The
    // lines after it must stay away (text on a bar keeps coming back to the bar's colour).
    let on = |i: usize| stats(line(img, b, side, i), colour, opts.tolerance).on;
    let Some(edge) = (d..(d + 8).min(limit)).find(|&i| on(i) <= 0.7) else {
        return 0;
    };
    let after: Vec<f64> = (edge..(edge + 8).min(depth)).map(on).collect();
    if after.iter().sum::<f64>() / after.len().max(1) as f64 <= 0.6 {
        edge
    } else {
        0
    }
}

/// The content inside uniform borders of any colour.
fn trim_border(img: Img<'_>, full: Bounds, opts: &RegionOptions) -> Option<Bounds> {
    let mut b = full;
    let mut any = false;
    // Rows over the whole width first, then columns between the top and bottom borders.
    for pair in [[Side::Top, Side::Bottom], [Side::Left, Side::Right]] {
        let d0 = uniform_depth(img, b, pair[0], opts);
        let d1 = uniform_depth(img, b, pair[1], opts);
        if d0 + d1 == 0 {
            continue;
        }
        any = true;
        trim_pair(&mut b, pair[0], d0, d1);
    }
    (any && enough_content(b, full, opts)).then_some(b)
}

/// How finely a blurred fill's step into the picture is checked across a line: in this many
/// segments, each on its own.
const FILL_SEGMENTS: usize = 8;

/// One line read by the blurred-fill detector.
struct FillLine {
    /// Mean absolute second difference of luma along the line: fine detail, blind to the
    /// smooth gradients a blurred copy keeps.
    detail: f64,
    /// Per segment, the mean absolute luma step from the line before (0 for the first).
    steps: [f64; FILL_SEGMENTS],
}

impl FillLine {
    fn read(luma: &[i32], prev: Option<&[i32]>) -> FillLine {
        let n = luma.len();
        let detail = if n >= 3 {
            let sum: u64 = luma
                .windows(3)
                .map(|v| u64::from((v[0] - 2 * v[1] + v[2]).unsigned_abs()))
                .sum();
            sum as f64 / (n - 2) as f64
        } else {
            0.0
        };
        let mut steps = [0.0; FILL_SEGMENTS];
        if let Some(prev) = prev {
            for (k, s) in steps.iter_mut().enumerate() {
                let (a, b) = (k * n / FILL_SEGMENTS, (k + 1) * n / FILL_SEGMENTS);
                let sum: u64 = luma[a..b]
                    .iter()
                    .zip(&prev[a..b])
                    .map(|(&p, &q)| u64::from((p - q).unsigned_abs()))
                    .sum();
                *s = sum as f64 / (b - a).max(1) as f64;
            }
        }
        FillLine { detail, steps }
    }
    fn step(&self) -> f64 {
        self.steps.iter().sum::<f64>() / FILL_SEGMENTS as f64
    }
}

fn line_luma(img: Img<'_>, b: Bounds, side: Side, i: usize) -> Vec<i32> {
    line(img, b, side, i).map(luma).collect()
}

/// A band of a blurred fill along `side`: how many lines deep it is, and its lines' mean
/// detail; `None` when there is none.
///
/// Lines from the edge while each is smooth (fine detail at most 2 levels, and at most 8
/// levels from the line before: a blurred copy keeps gradients, and JPEG adds steps between
/// blocks), then the picture: the line, at most 8 lines past the smooth ones (JPEG rings up
/// to a block before an edge), where at least 5 of 8 segments of the width step sharply
/// from the band: by at least 1.5 levels plus twice the band's own steps a block further
/// out, and by at least 1.5 times the steps of the 3 lines before; of those lines, the
/// outermost that steps at least half as much as the strongest. A photo's smooth area (a
/// sky, a blurred background) ends along a line of its own shape, not at one line across
/// the width; where picture and fill meet in one flat colour (a black night on its own
/// blurred black), that segment gives no evidence either way.
fn fill_depth(img: Img<'_>, b: Bounds, side: Side, opts: &RegionOptions) -> Option<(usize, f64)> {
    let depth = b.depth(side);
    if depth < 32 || b.span(side) < 32 {
        return None;
    }
    // Both bands together leave `min_content`, the deeper at most twice the other.
    let limit = ((1.0 - opts.min_content) * depth as f64 * 2.0 / 3.0) as usize;
    let min = min_band(opts, depth).max((3 * depth).div_ceil(100)).max(4);
    let limit = limit.min(depth - 1);
    if limit <= min {
        return None;
    }
    let mut lines: Vec<FillLine> = Vec::new();
    let mut prev = line_luma(img, b, side, 0);
    lines.push(FillLine::read(&prev, None));
    let mut smooth = 0;
    while smooth < limit {
        let l = &lines[smooth];
        if l.detail > 2.0 || (smooth > 0 && l.step() > 8.0) {
            break;
        }
        smooth += 1;
        let cur = line_luma(img, b, side, smooth);
        lines.push(FillLine::read(&cur, Some(&prev)));
        prev = cur;
    }
    if smooth < min {
        return None;
    }
    let last = (smooth + 8).min(limit);
    while lines.len() <= last {
        let cur = line_luma(img, b, side, lines.len());
        lines.push(FillLine::read(&cur, Some(&prev)));
        prev = cur;
    }
    let mean_steps = |r: std::ops::Range<usize>| -> [f64; FILL_SEGMENTS] {
        let n = r.len().max(1) as f64;
        std::array::from_fn(|k| lines[r.clone()].iter().map(|l| l.steps[k]).sum::<f64>() / n)
    };
    // Each line where most segments step, with its mean step.
    let mut found: Vec<(usize, f64)> = Vec::new();
    for (y, l) in lines.iter().enumerate().take(last + 1).skip(min) {
        let lo = y.saturating_sub(16).max(1);
        let band = mean_steps(lo..y.saturating_sub(8).max(lo + 1));
        let near = mean_steps(y - 3..y);
        let s = &l.steps;
        let hits = (0..FILL_SEGMENTS)
            .filter(|&k| s[k] >= 1.5 + 2.0 * band[k] && s[k] >= 1.5 * near[k])
            .count();
        if hits >= 5 {
            found.push((y, l.step()));
        }
    }
    // The outermost of the strong ones: JPEG's rings before the edge step less (a third or
    // so), and a line inside the picture that steps as much (a thin frame of its own) is
    // not the fill's edge.
    let strongest = found.iter().map(|&(_, s)| s).fold(0.0, f64::max);
    let &(y, _) = found.iter().find(|&&(_, s)| s >= 0.5 * strongest)?;
    let band = &lines[..y.saturating_sub(8).max(1)];
    let detail = band.iter().map(|l| l.detail).sum::<f64>() / band.len() as f64;
    Some((y, detail))
}

/// Whether a blurred fill along `pair` is worth reading line by line: the outer 4 lines of
/// both sides smooth, and the middle fifth of the lines between them (the picture, whatever
/// the bands' depths) clearly more detailed. Most photos fail on their first line; a
/// smooth picture (a gradient wallpaper), which the deeper reading would walk through,
/// fails on its middle.
fn fill_worth_reading(img: Img<'_>, b: Bounds, pair: [Side; 2]) -> bool {
    let depth = b.depth(pair[0]);
    if depth < 32 || b.span(pair[0]) < 32 {
        return false;
    }
    let detail = |side: Side, i: usize| FillLine::read(&line_luma(img, b, side, i), None).detail;
    let mut edge: f64 = 0.0;
    for side in pair {
        for i in 0..4 {
            let d = detail(side, i);
            if d > 2.0 {
                return false;
            }
            edge = edge.max(d);
        }
    }
    let middle = (0..8)
        .map(|k| detail(pair[0], depth * 2 / 5 + k * depth / 40))
        .sum::<f64>()
        / 8.0;
    middle >= 1.3 * edge && middle >= edge + 0.1
}

/// The picture inside a blurred fill: bands on two opposite sides (top and bottom, or left
/// and right) of [`fill_depth`], of similar depth (the deeper at most twice the other: the
/// picture is centred, give or take), the picture's own lines clearly more detailed than
/// the bands' (a photo whose sky and foreground are both smooth between straight edges,
/// or a flat abstract with straight bands, has no sharp picture between them). Rows over
/// the whole width first, then columns between them, as for uniform borders.
fn fill_border(img: Img<'_>, full: Bounds, opts: &RegionOptions) -> Option<Bounds> {
    let mut b = full;
    let mut any = false;
    for pair in [[Side::Top, Side::Bottom], [Side::Left, Side::Right]] {
        if !fill_worth_reading(img, b, pair) {
            continue;
        }
        let Some((d0, detail0)) = fill_depth(img, b, pair[0], opts) else {
            continue;
        };
        let Some((d1, detail1)) = fill_depth(img, b, pair[1], opts) else {
            continue;
        };
        let depth = b.depth(pair[0]);
        if d0.max(d1) > 2 * d0.min(d1) || d0 + d1 + 16 >= depth {
            continue;
        }
        // The picture's detail: 16 lines spread over it, clear of the edges' JPEG rings.
        let (first, last) = (d0 + 8, depth - d1 - 8);
        let sample: Vec<f64> = (0..16)
            .map(|k| {
                let i = first + k * (last - first) / 15;
                FillLine::read(&line_luma(img, b, pair[0], i), None).detail
            })
            .collect();
        let inside = sample.iter().sum::<f64>() / sample.len() as f64;
        let band = detail0.max(detail1);
        if inside < 1.6 * band || inside < band + 0.1 {
            continue;
        }
        any = true;
        trim_pair(&mut b, pair[0], d0, d1);
    }
    (any && enough_content(b, full, opts)).then_some(b)
}

/// Takes `d0` lines off the side `first` (top or left) of `b` and `d1` off the opposite one.
fn trim_pair(b: &mut Bounds, first: Side, d0: usize, d1: usize) {
    match first {
        Side::Top => {
            b.y0 += d0;
            b.y1 -= d1;
        }
        _ => {
            b.x0 += d0;
            b.x1 -= d1;
        }
    }
}

/// Whether `b` keeps at least `min_content` of `full` along both axes.
fn enough_content(b: Bounds, full: Bounds, opts: &RegionOptions) -> bool {
    (b.x1 - b.x0) as f64 >= opts.min_content * (full.x1 - full.x0) as f64
        && (b.y1 - b.y0) as f64 >= opts.min_content * (full.y1 - full.y0) as f64
}

/// The mean colour of the most common coarse colour (32 levels a channel) of a few lines.
fn dominant_colour(img: Img<'_>, b: Bounds, side: Side, lines: usize) -> Option<[u8; 3]> {
    let mut count = vec![0u32; 512];
    let mut sum = vec![[0u64; 3]; 512];
    for i in 0..lines.min(b.depth(side)) {
        for p in line(img, b, side, i) {
            let k =
                usize::from(p[0] >> 5) << 6 | usize::from(p[1] >> 5) << 3 | usize::from(p[2] >> 5);
            count[k] += 1;
            for c in 0..3 {
                sum[k][c] += u64::from(p[c]);
            }
        }
    }
    let (k, &n) = count.iter().enumerate().max_by_key(|&(_, n)| *n)?;
    if n == 0 {
        return None;
    }
    Some(std::array::from_fn(|c| (sum[k][c] / u64::from(n)) as u8))
}

/// How many lines from `side` are a caption band, 0 when none.
fn caption_depth(img: Img<'_>, b: Bounds, side: Side, opts: &RegionOptions) -> usize {
    let depth = b.depth(side);
    let limit = ((opts.max_caption * depth as f64) as usize).min(depth.saturating_sub(4));
    if limit < 4 || b.span(side) < 8 {
        return 0;
    }
    let Some(bg) = dominant_colour(img, b, side, 2) else {
        return 0;
    };
    let tol = opts.tolerance.max(28);
    let is_band = |s: &LineStats| s.on >= 0.3 && s.mid <= 0.2;
    let mut d = 0;
    let mut far = 0.0;
    let mut stroke_lines = 0;
    // Lines of clean background just before the end of the band: a caption keeps a margin
    // between its text and the picture; a dark or wavy edge of a photo does not.
    let mut clean_run = 0;
    // A line of picture: not band-like, or rich in in-between colours (a dark picture under a
    // black band is mostly near the band's colour, but not in two tones like text).
    let picture = |s: &LineStats| !is_band(s) || s.mid >= 0.1;
    while d < limit {
        let s = stats(line(img, b, side, d), bg, tol);
        if !is_band(&s) || (clean_run >= 2 && s.on < 0.97 && picture(&s)) {
            break;
        }
        far += s.far;
        if s.far >= 0.01 {
            stroke_lines += 1;
        }
        clean_run = if s.on >= 0.97 { clean_run + 1 } else { 0 };
        d += 1;
    }
    if clean_run < 2 {
        return 0;
    }
    let min = ((0.03 * depth as f64).ceil() as usize).max(4);
    if d < min || d >= limit || far / (d as f64) < 0.01 || stroke_lines < 3 {
        return 0;
    }
    // The picture starts: the next lines are not band lines, and one leaves the background.
    let next: Vec<LineStats> = (d..(d + 4).min(depth))
        .map(|i| stats(line(img, b, side, i), bg, tol))
        .collect();
    let ends = next.iter().all(picture) && next.iter().any(|s| s.on <= 0.9);
    if ends {
        d
    } else {
        0
    }
}

/// The content without a caption band at the top and/or bottom.
fn caption_band(img: Img<'_>, base: Bounds, opts: &RegionOptions) -> Option<Bounds> {
    let top = caption_depth(img, base, Side::Top, opts);
    let bottom = caption_depth(img, base, Side::Bottom, opts);
    if top + bottom == 0 {
        return None;
    }
    let b = Bounds {
        y0: base.y0 + top,
        y1: base.y1 - bottom,
        ..base
    };
    ((b.y1 - b.y0) as f64 >= opts.min_content * (base.y1 - base.y0) as f64).then_some(b)
}

/// A downscaled luma plane (box average by an integer factor).
struct Plane {
    v: Vec<i16>,
    w: usize,
    h: usize,
    f: usize,
}

impl Plane {
    fn new(img: Img<'_>, max_side: usize) -> Plane {
        let f = img.w.max(img.h).div_ceil(max_side).max(1);
        let (w, h) = (img.w / f, img.h / f);
        let mut v = vec![0i16; w * h];
        for y in 0..h {
            for x in 0..w {
                let mut s = 0i32;
                for dy in 0..f {
                    for dx in 0..f {
                        s += luma(img.px(x * f + dx, y * f + dy));
                    }
                }
                v[y * w + x] = (s / (f * f) as i32) as i16;
            }
        }
        Plane { v, w, h, f }
    }
    #[inline]
    fn at(&self, x: usize, y: usize) -> i16 {
        self.v[y * self.w + x]
    }
}

/// A straight edge found on the plane: a horizontal one at row boundary `pos` (between rows
/// `pos - 1` and `pos`) over `[a, b)` columns, or a vertical one likewise.
#[derive(Clone, Copy, Debug)]
struct Edge {
    pos: usize,
    a: usize,
    b: usize,
}

const EDGE_STEP: i16 = 8;

/// Per boundary, prefix counts of strong steps along it.
struct Steps {
    n_along: usize,
    prefix: Vec<u32>,
}

impl Steps {
    fn new(n_pos: usize, n_along: usize, step: impl Fn(usize, usize) -> bool) -> Steps {
        let mut prefix = vec![0u32; (n_pos + 1) * (n_along + 1)];
        for pos in 1..n_pos {
            let row = pos * (n_along + 1);
            for k in 0..n_along {
                prefix[row + k + 1] = prefix[row + k] + u32::from(step(pos, k));
            }
        }
        Steps { n_along, prefix }
    }
    /// Share of `[a, b)` with a strong step at `pos`.
    fn cover(&self, pos: usize, a: usize, b: usize) -> f64 {
        let row = pos * (self.n_along + 1);
        match (self.prefix.get(row + b), self.prefix.get(row + a)) {
            (Some(&hi), Some(&lo)) if b > a => f64::from(hi - lo) / (b - a) as f64,
            _ => 0.0,
        }
    }
    /// The longest run (gaps of up to 8 samples allowed) of strong steps at each boundary.
    fn edges(&self, n_pos: usize) -> Vec<Edge> {
        let mut out = Vec::new();
        for pos in 1..n_pos {
            let row = pos * (self.n_along + 1);
            let hit = |k: usize| self.prefix[row + k + 1] > self.prefix[row + k];
            let (mut best, mut run_start, mut last_hit) = ((0, 0), 0usize, None::<usize>);
            for k in 0..self.n_along {
                if hit(k) {
                    if last_hit.is_none_or(|l| k > l + 8) {
                        run_start = k;
                    }
                    last_hit = Some(k);
                    if k + 1 - run_start > best.1 - best.0 {
                        best = (run_start, k + 1);
                    }
                }
            }
            if best.1 > best.0 {
                out.push(Edge {
                    pos,
                    a: best.0,
                    b: best.1,
                });
            }
        }
        out
    }
}

/// Keeps the `k` longest edges at least `min_len` long, one per neighbourhood of positions.
fn strongest(mut e: Vec<Edge>, min_len: usize, k: usize) -> Vec<Edge> {
    e.retain(|e| e.b - e.a >= min_len);
    e.sort_by_key(|e| std::cmp::Reverse(e.b - e.a));
    let mut kept: Vec<Edge> = Vec::new();
    for x in e {
        if kept.iter().all(|y| y.pos.abs_diff(x.pos) > 2) {
            kept.push(x);
            if kept.len() == k {
                break;
            }
        }
    }
    kept
}

/// Share of flat samples (every neighbour within 3 levels) of the plane outside `r`
/// (plane coordinates), or `None` when there is almost nothing outside.
fn flat_outside(p: &Plane, r: (usize, usize, usize, usize)) -> Option<f64> {
    let (x0, y0, x1, y1) = r;
    let (mut n, mut flat) = (0u32, 0u32);
    for y in 1..p.h.saturating_sub(1) {
        for x in 1..p.w.saturating_sub(1) {
            if x + 1 >= x0 && x <= x1 && y + 1 >= y0 && y <= y1 {
                continue;
            }
            n += 1;
            let c = p.at(x, y);
            let d = (c - p.at(x + 1, y))
                .abs()
                .max((c - p.at(x, y + 1)).abs())
                .max((c - p.at(x - 1, y)).abs())
                .max((c - p.at(x, y - 1)).abs());
            if d <= 3 {
                flat += 1;
            }
        }
    }
    (n >= 16).then(|| f64::from(flat) / f64::from(n))
}

/// The largest rectangle bounded by straight edges on four sides.
fn inner_region(img: Img<'_>, opts: &RegionOptions) -> Option<Bounds> {
    if img.w < 32 || img.h < 32 {
        return None;
    }
    let p = Plane::new(img, 480);
    let (w, h) = (p.w, p.h);
    if w < 16 || h < 16 {
        return None;
    }
    let hstep = |y: usize, x: usize| (p.at(x, y) - p.at(x, y - 1)).abs() >= EDGE_STEP;
    let vstep = |x: usize, y: usize| (p.at(x, y) - p.at(x - 1, y)).abs() >= EDGE_STEP;
    let hsteps = Steps::new(h, w, hstep);
    let vsteps = Steps::new(w, h, vstep);
    let min_side = |n: usize| n / 5;
    let hs: Vec<usize> = strongest(hsteps.edges(h), min_side(w), 12)
        .iter()
        .map(|e| e.pos)
        .collect();
    let vs: Vec<usize> = strongest(vsteps.edges(w), min_side(h), 12)
        .iter()
        .map(|e| e.pos)
        .collect();
    if hs.len() < 2 || vs.len() < 2 {
        return None;
    }
    // A side is bounded when most of it (70 %) is a strong step.
    // Each quarter of a side must have some (35 %), so that an edge longer than the picture
    // (a toolbar's) does not stand in for the picture's own.
    let quarters = |s: &Steps, pos: usize, a: usize, b: usize| {
        let q = (b - a) / 4;
        s.cover(pos, a, b) >= 0.7
            && (0..4).all(|i| s.cover(pos, a + i * q, a + (i + 1) * q) >= 0.35)
    };
    let hcov = |pos: usize, a: usize, b: usize| quarters(&hsteps, pos, a, b);
    let vcov = |pos: usize, a: usize, b: usize| quarters(&vsteps, pos, a, b);
    let area = (w * h) as f64;
    // The best-bounded rectangle wins (its worst side's coverage, in tenths: a longer UI line
    // that only partly lines up with the picture covers less), then the larger one.
    // ((x0, y0, x1, y1), (coverage in tenths, area)) on the plane.
    type Best = ((usize, usize, usize, usize), (usize, usize));
    let mut best: Option<Best> = None;
    let mut consider = |x0: usize, y0: usize, x1: usize, y1: usize| {
        if y1 <= y0 + h / 5 || x1 <= x0 + w / 5 || y0 == 0 || x0 == 0 || y1 >= h || x1 >= w {
            return;
        }
        let a = (x1 - x0) * (y1 - y0);
        let share = a as f64 / area;
        if share < opts.min_inner_area || share > 0.95 {
            return;
        }
        if hcov(y0, x0, x1) && hcov(y1, x0, x1) && vcov(x0, y0, y1) && vcov(x1, y0, y1) {
            let c = hsteps
                .cover(y0, x0, x1)
                .min(hsteps.cover(y1, x0, x1))
                .min(vsteps.cover(x0, y0, y1))
                .min(vsteps.cover(x1, y0, y1));
            let key = ((c * 10.0) as usize, a);
            if best.is_none_or(|(_, b)| key > b) {
                best = Some(((x0, y0, x1, y1), key));
            }
        }
    };
    // Two sides from the longest edges one way; the other two wherever a step covers the
    // span between them (a small picture's own edges are shorter than the lines of text or
    // the toolbars around it, so they need not be among the longest).
    for &x0 in &vs {
        for &x1 in &vs {
            if x1 <= x0 + w / 5 {
                continue;
            }
            let ys: Vec<usize> = (1..h).filter(|&y| hcov(y, x0, x1)).collect();
            for (i, &y0) in ys.iter().enumerate() {
                for &y1 in &ys[i + 1..] {
                    consider(x0, y0, x1, y1);
                }
            }
        }
    }
    for &y0 in &hs {
        for &y1 in &hs {
            if y1 <= y0 + h / 5 {
                continue;
            }
            let xs: Vec<usize> = (1..w).filter(|&x| vcov(x, y0, y1)).collect();
            for (i, &x0) in xs.iter().enumerate() {
                for &x1 in &xs[i + 1..] {
                    consider(x0, y0, x1, y1);
                }
            }
        }
    }
    let (r, _) = best?;
    if flat_outside(&p, r)? < 0.5 {
        return None;
    }
    // Back to full resolution, each side moved to the strongest step near it.
    let f = p.f;
    let (x0, y0, x1, y1) = (r.0 * f, r.1 * f, r.2 * f, r.3 * f);
    let x1 = if r.2 == w { img.w } else { x1 };
    let y1 = if r.3 == h { img.h } else { y1 };
    let y0 = refine(img, y0, f, img.h, |y| row_step(img, y, x0, x1));
    let y1 = refine(img, y1, f, img.h, |y| row_step(img, y, x0, x1));
    let x0 = refine(img, x0, f, img.w, |x| col_step(img, x, y0, y1));
    let x1 = refine(img, x1, f, img.w, |x| col_step(img, x, y0, y1));
    let b = Bounds { x0, y0, x1, y1 };
    (x1 > x0 + 8 && y1 > y0 + 8).then_some(b)
}

/// The boundary near `at` (within `f` samples) with the largest step, keeping the image's own
/// edges.
fn refine(_img: Img<'_>, at: usize, f: usize, n: usize, step: impl Fn(usize) -> u64) -> usize {
    if at == 0 || at >= n {
        return at.min(n);
    }
    let lo = at.saturating_sub(f).max(1);
    let hi = (at + f).min(n - 1);
    (lo..=hi)
        .max_by_key(|&k| (step(k), std::cmp::Reverse(k.abs_diff(at))))
        .unwrap_or(at)
}

fn row_step(img: Img<'_>, y: usize, x0: usize, x1: usize) -> u64 {
    (x0..x1.min(img.w))
        .map(|x| luma(img.px(x, y)).abs_diff(luma(img.px(x, y - 1))) as u64)
        .sum()
}

fn col_step(img: Img<'_>, x: usize, y0: usize, y1: usize) -> u64 {
    (y0..y1.min(img.h))
        .map(|y| luma(img.px(x, y)).abs_diff(luma(img.px(x - 1, y))) as u64)
        .sum()
}

/// The candidate regions of a packed RGB image (`width × height × 3` bytes; anything else
/// gives none): at most one of each kind (up to two trim-border regions, when a uniform
/// border and a blurred fill disagree; up to three inner regions, when the rectangle and the
/// page's two readings disagree), never the whole image, none below 8×8 pixels.
pub fn detect_regions(rgb: &[u8], width: u32, height: u32, opts: &RegionOptions) -> Vec<Region> {
    let (w, h) = (width as usize, height as usize);
    if w < 16 || h < 16 || w.checked_mul(h).and_then(|n| n.checked_mul(3)) != Some(rgb.len()) {
        return Vec::new();
    }
    let img = Img { rgb, w, h };
    let full = Bounds {
        x0: 0,
        y0: 0,
        x1: w,
        y1: h,
    };
    let mut out: Vec<Region> = Vec::new();
    // A region within a few pixels of one already found adds nothing but a chance of a
    // false match.
    let same = |a: Bounds, b: Bounds| {
        a.x0.abs_diff(b.x0) <= 4
            && a.y0.abs_diff(b.y0) <= 4
            && a.x1.abs_diff(b.x1) <= 4
            && a.y1.abs_diff(b.y1) <= 4
    };
    let mut found: Vec<Bounds> = Vec::new();
    let mut push = |kind, b: Bounds| {
        let rect = b.rect();
        if !same(b, full)
            && rect.width >= 8
            && rect.height >= 8
            && !found.iter().any(|&f| same(f, b))
        {
            found.push(b);
            out.push(Region { kind, rect });
        }
    };
    // A uniform border and a blurred fill: a fill that is nearly one colour along one edge
    // passes for a one-sided border, and then both readings are kept. A uniform border on
    // two sides is mostly found by both alike (one region).
    let uniform = trim_border(img, full, opts);
    let filled = fill_border(img, full, opts);
    for b in [uniform, filled].into_iter().flatten() {
        push(RegionKind::TrimBorder, b);
    }
    let trimmed = uniform.or(filled);
    // Inside the borders first; then the whole image, because a caption bar's plain margin
    // can pass for a border.
    let caption = caption_band(img, trimmed.unwrap_or(full), opts)
        .or_else(|| trimmed.and_then(|_| caption_band(img, full, opts)));
    if let Some(b) = caption {
        push(RegionKind::CaptionBand, b);
    }
    if opts.inner_region {
        // Both readings of a screenshot: the rectangle with four straight edges, and the
        // band of a one-colour page (they differ when a toolbar or a rule above the picture
        // gives the first a false edge).
        if let Some(b) = inner_region(img, opts) {
            push(RegionKind::InnerRegion, b);
        }
        for b in page_region(img, opts) {
            push(RegionKind::InnerRegion, b);
        }
    }
    out
}

/// The picture of a screenshot whose page is one colour: two opposite edges of the image are
/// that colour (up to JPEG noise), and the picture is the longest run of lines across the
/// page mostly off it, bounded on both sides by lines mostly on it (UI text is sparse), then
/// cut to the columns (or rows) that run covers densely. A phone app's post (the photo at
/// full width between a header and buttons) and a page with a sidebar are found this way;
/// a natural photo seldom has two uniform opposite edges, and then must also show a dense
/// block with a sharp step to that colour on both sides. Up to two readings (by colour, by
/// colour or texture), each covering at least half of `min_inner_area`.
fn page_region(img: Img<'_>, opts: &RegionOptions) -> Vec<Bounds> {
    let (w, h) = (img.w, img.h);
    let full = Bounds {
        x0: 0,
        y0: 0,
        x1: w,
        y1: h,
    };
    let tol = opts.tolerance;
    // A page edge: 90 % of the line within the tolerance of its median colour.
    let edge = |side: Side| -> Option<[u8; 3]> {
        let c = median_colour(line(img, full, side, 0))?;
        (stats(line(img, full, side, 0), c, tol).on >= 0.9).then_some(c)
    };
    let pair = |a: Side, b: Side| -> Option<[u8; 3]> {
        let (ca, cb) = (edge(a)?, edge(b)?);
        (dev(ca, cb) <= tol).then_some(ca)
    };
    let rows_first = pair(Side::Top, Side::Bottom);
    let cols_first = pair(Side::Left, Side::Right);
    if rows_first.is_none() && cols_first.is_none() {
        return Vec::new();
    }
    // Off the page: a pixel away from the page colour; on a second pass, also one in a
    // textured neighbourhood (luma more than 1 level from its right or lower neighbour). A
    // page is flat to within JPEG's noise, while a picture's parts near the page colour still
    // vary (a dark photo on a dark page). Row-major.
    let mut lum: Vec<i16> = Vec::new();
    let mut mask = |page: [u8; 3], textured: bool| -> Vec<bool> {
        if textured && lum.is_empty() {
            lum = img
                .rgb
                .chunks_exact(3)
                .map(|p| luma([p[0], p[1], p[2]]) as i16)
                .collect();
        }
        img.rgb
            .chunks_exact(3)
            .enumerate()
            .map(|(k, p)| {
                dev([p[0], p[1], p[2]], page) > tol
                    || (textured
                        && ((k % w + 1 < w && (lum[k] - lum[k + 1]).abs() > 1)
                            || (k + w < lum.len() && (lum[k] - lum[k + w]).abs() > 1)))
            })
            .collect()
    };
    let try_axis = |off: &[bool], transposed: bool| -> Option<Bounds> {
        // Along `n` lines of `m` pixels each; `at(i, j)`: pixel `j` of line `i` is off the page.
        let (n, m) = if transposed { (w, h) } else { (h, w) };
        let at = |i: usize, j: usize| {
            if transposed {
                off[j * w + i]
            } else {
                off[i * w + j]
            }
        };
        let share_of =
            |lines: std::ops::Range<usize>, across: std::ops::Range<usize>, line: bool| {
                let len = across.len().max(1) as f64;
                lines
                    .map(|i| {
                        let k = across.clone();
                        let c = if line {
                            k.filter(|&j| at(i, j)).count()
                        } else {
                            k.filter(|&j| at(j, i)).count()
                        };
                        c as f64 / len
                    })
                    .collect::<Vec<f64>>()
            };
        let share = share_of(0..n, 0..m, true);
        let (i0, i1) = dense_run(&share, (n / 100).max(2), 0.3)?;
        // Bounded on both sides by lines mostly on the page, a few lines out.
        let quiet = |r: std::ops::Range<usize>| r.clone().all(|i| share[i] < 0.3);
        if i1 - i0 < n / 8 || i0 < 3 || i1 + 3 > n || !quiet(i0 - 3..i0) || !quiet(i1..i1 + 3) {
            return None;
        }
        // Across: the dense run of the other lines over that band, then the band again over
        // those (a toolbar across the whole page then no longer counts).
        // Across the band, a picture's light parts (a sky, a white wall) are still not the
        // page: the band's lines are widened, across and then along, until one is
        // practically all page.
        let cover = share_of(0..m, i0..i1, false);
        let (j0, j1) = dense_run(&cover, (m / 100).max(2), 0.02)?;
        let again = share_of(0..n, j0..j1, true);
        let (i0, i1) = dense_run(&again, (n / 100).max(2), 0.02)?;
        let inside: f64 = again[i0..i1].iter().sum::<f64>() / (i1 - i0) as f64;
        if j1 - j0 < m / 5 || i1 - i0 < n / 8 || inside < 0.6 {
            return None;
        }
        Some(if transposed {
            Bounds {
                x0: i0,
                y0: j0,
                x1: i1,
                y1: j1,
            }
        } else {
            Bounds {
                x0: j0,
                y0: i0,
                x1: j1,
                y1: i1,
            }
        })
    };
    // Each pair of page edges with its own colour (a dark page's title bar and sidebar are
    // two shades), by colour and then by texture: colour cuts a picture where its own parts
    // come near the page colour (a dark road on a dark page, a white wall on a white one),
    // texture where they are smooth (a hazy sky); the two readings are both kept when they
    // differ.
    let mut out: Vec<Bounds> = Vec::new();
    for textured in [false, true] {
        let found = rows_first
            .and_then(|c| try_axis(&mask(c, textured), false))
            .or_else(|| cols_first.and_then(|c| try_axis(&mask(c, textured), true)));
        let Some(mut b) = found else {
            continue;
        };
        if textured {
            // JPEG rings for up to a block outside the picture, and those lines pass for
            // textured: each side moves to the strongest step within a block of it.
            let Bounds { x0, y0, x1, y1 } = b;
            let y0 = refine(img, y0, 8, h, |y| row_step(img, y, x0, x1));
            let y1 = refine(img, y1, 8, h, |y| row_step(img, y, x0, x1));
            let x0 = refine(img, x0, 8, w, |x| col_step(img, x, y0, y1));
            let x1 = refine(img, x1, 8, w, |x| col_step(img, x, y0, y1));
            if x1 <= x0 + 8 || y1 <= y0 + 8 {
                continue;
            }
            b = Bounds { x0, y0, x1, y1 };
        }
        // The page is evidence enough for a smaller picture than a bare rectangle needs
        // (a portrait photo in a desktop page is about a sixth of it).
        let area = ((b.x1 - b.x0) * (b.y1 - b.y0)) as f64 / (w * h) as f64;
        if area >= opts.min_inner_area / 2.0 && area <= 0.95 {
            out.push(b);
        }
    }
    out
}

/// The longest run of lines at least half off the page (gaps of up to `gap` lines bridged),
/// widened over its neighbours that are still at least `extend` off (a picture's edge
/// lines, softened by JPEG or lighter than its middle).
fn dense_run(share: &[f64], gap: usize, extend: f64) -> Option<(usize, usize)> {
    let (mut a, mut b) = longest_dense_run(share, 0.5, gap)?;
    while a > 0 && share[a - 1] >= extend {
        a -= 1;
    }
    while b < share.len() && share[b] >= extend {
        b += 1;
    }
    Some((a, b))
}

/// The longest run of `share >= min`, gaps of up to `gap` lines below it bridged.
fn longest_dense_run(share: &[f64], min: f64, gap: usize) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    let mut cur: Option<(usize, usize)> = None;
    for (i, &s) in share.iter().enumerate() {
        if s < min {
            continue;
        }
        cur = match cur {
            Some((a, b)) if i - b <= gap => Some((a, i + 1)),
            _ => Some((i, i + 1)),
        };
        let (a, b) = cur?;
        if best.is_none_or(|(x, y)| b - a > y - x) {
            best = Some((a, b));
        }
    }
    best
}

/// Copies a rectangle out of a packed RGB image.
pub fn crop_rgb(rgb: &[u8], width: u32, rect: Rect) -> Vec<u8> {
    let w = width as usize;
    let (x, y, cw, ch) = (
        rect.x as usize,
        rect.y as usize,
        rect.width as usize,
        rect.height as usize,
    );
    let mut out = Vec::with_capacity(cw * ch * 3);
    for row in y..y + ch {
        let s = (row * w + x) * 3;
        match rgb.get(s..s + cw * 3) {
            Some(line) => out.extend_from_slice(line),
            None => return Vec::new(),
        }
    }
    out
}

/// Every query hash of an image: the whole image and each region found, each in its eight
/// dihedral transforms (one downsample per region serves all eight). The whole image comes
/// first, transform 0 first.
pub fn query_candidates(
    rgb: &[u8],
    width: u32,
    height: u32,
    opts: &RegionOptions,
) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut add = |region: Option<Region>, px: &[u8], w: u32, h: u32| {
        if let Ok(p) = Pixels::rgb(px, w as usize, h as usize) {
            let d = ward_pdq::dihedral(&p);
            for (k, hash) in d.hashes.iter().enumerate() {
                out.push(Candidate {
                    region,
                    dihedral: k as u8,
                    hash: *hash,
                    quality: d.quality,
                });
            }
        }
    };
    add(None, rgb, width, height);
    for r in detect_regions(rgb, width, height, opts) {
        let px = crop_rgb(rgb, width, r.rect);
        add(Some(r), &px, r.rect.width, r.rect.height);
    }
    out
}

#[cfg(test)]
mod tests {
    //! The page detector on generated screenshots (the shared reference photos' tests are in
    //! `tests/regions.rs`): where it must find the picture, within a few pixels, and where it
    //! must not fire.

    use super::*;

    /// A packed RGB canvas.
    struct Canvas {
        rgb: Vec<u8>,
        w: usize,
        h: usize,
    }

    impl Canvas {
        fn new(w: usize, h: usize, c: [u8; 3]) -> Canvas {
            Canvas {
                rgb: c.repeat(w * h),
                w,
                h,
            }
        }
        fn fill(&mut self, x0: usize, y0: usize, x1: usize, y1: usize, c: [u8; 3]) {
            for y in y0..y1.min(self.h) {
                for x in x0..x1.min(self.w) {
                    self.rgb[(y * self.w + x) * 3..][..3].copy_from_slice(&c);
                }
            }
        }
        /// Lines of blocky "text": short strokes, sparse like UI text.
        fn text(&mut self, x0: usize, y0: usize, x1: usize, lines: usize, ink: [u8; 3]) {
            for l in 0..lines {
                let y = y0 + l * 24;
                let mut x = x0;
                while x + 6 < x1 {
                    self.fill(x, y, x + 2, y + 12, ink);
                    x += 7 + (x * 7 + l * 3) % 5;
                }
            }
        }
        /// A photo-like picture at `r`: smooth shapes with fine grain; `dark` draws its lower
        /// half near black (a dark photo on a dark page: close to the page's colour, but not
        /// flat).
        fn picture(&mut self, r: Bounds, dark: bool) {
            let mut seed = 99u32;
            for y in r.y0..r.y1 {
                for x in r.x0..r.x1 {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    let grain = f64::from((seed >> 16) % 17) - 8.0;
                    let (u, v) = ((x - r.x0) as f64, (y - r.y0) as f64);
                    let shape = (u / 23.0).sin() * (v / 17.0).cos();
                    let low = dark && v > (r.y1 - r.y0) as f64 * 0.45;
                    let base = if low {
                        36.0 + 6.0 * shape + grain
                    } else {
                        130.0 + 80.0 * shape + grain
                    };
                    let c = |k: f64| (base * k).clamp(0.0, 255.0) as u8;
                    self.fill(x, y, x + 1, y + 1, [c(1.0), c(0.9), c(0.8)]);
                }
            }
        }
        /// A JPEG round trip at quality 90.
        fn jpeg(&self) -> Vec<u8> {
            let img =
                image::RgbImage::from_raw(self.w as u32, self.h as u32, self.rgb.clone()).unwrap();
            let mut buf = Vec::new();
            let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, 90);
            img.write_with_encoder(enc).unwrap();
            image::load_from_memory(&buf).unwrap().to_rgb8().into_raw()
        }
        fn regions(&self) -> Vec<Region> {
            let rgb = self.jpeg();
            detect_regions(
                &rgb,
                self.w as u32,
                self.h as u32,
                &RegionOptions::default(),
            )
        }
    }

    /// A desktop browser page: a title bar, a sidebar, a headline, `pic`, text below.
    fn desktop(pic: Bounds, dark: bool) -> Canvas {
        let (page, bar, side, ink) = if dark {
            ([32, 33, 36], [20, 20, 22], [41, 42, 45], [232, 234, 237])
        } else {
            ([255; 3], [222, 225, 230], [246, 248, 250], [32, 33, 36])
        };
        let mut c = Canvas::new(720, 450, page);
        c.fill(0, 0, 720, 20, bar);
        c.fill(0, 43, 120, 450, side);
        c.text(12, 55, 100, 10, ink);
        c.text(140, 58, 500, 1, ink);
        c.picture(pic, dark);
        // Text a line's height under the picture (JPEG rings across a narrower gap, and
        // the textured reading then takes the text for part of the picture).
        c.text(140, pic.y1 + 24, 600, 2, ink);
        c
    }

    #[track_caller]
    fn assert_found(found: &[Region], want: Bounds, slack: usize) {
        let near = |r: &Region| {
            let b = r.rect;
            let (x0, y0) = (b.x as usize, b.y as usize);
            let (x1, y1) = (x0 + b.width as usize, y0 + b.height as usize);
            r.kind == RegionKind::InnerRegion
                && x0.abs_diff(want.x0) <= slack
                && y0.abs_diff(want.y0) <= slack
                && x1.abs_diff(want.x1) <= slack
                && y1.abs_diff(want.y1) <= slack
        };
        assert!(
            found.iter().any(near),
            "no inner region within {slack} px of {want:?} among {found:?}"
        );
    }

    /// The lower half of the picture is near the dark page's colour: by colour alone the
    /// picture ends half-way; its grain still sets it off the flat page.
    #[test]
    fn page_region_finds_a_dark_picture_on_a_dark_page() {
        let pic = Bounds {
            x0: 150,
            y0: 90,
            x1: 570,
            y1: 370,
        };
        assert_found(&desktop(pic, true).regions(), pic, 3);
    }

    /// A portrait photo in a desktop page covers about a sixth of it.
    #[test]
    fn page_region_finds_a_small_portrait_picture() {
        for dark in [false, true] {
            let pic = Bounds {
                x0: 290,
                y0: 90,
                x1: 470,
                y1: 360,
            };
            let c = desktop(pic, dark);
            let area = (pic.x1 - pic.x0) * (pic.y1 - pic.y0);
            assert!(area * 6 < c.w * c.h, "the picture is not small");
            assert_found(&c.regions(), pic, 3);
        }
    }

    /// A photo filling the frame, its first and last two lines one flat colour (a print's thin
    /// rule; a dark night photo whose sky and ground meet the edges): a page needs plain lines
    /// around the picture, so nothing is found.
    #[test]
    fn page_region_needs_plain_lines_around_the_picture() {
        for rule in [[255; 3], [30, 30, 30]] {
            let mut c = Canvas::new(480, 320, rule);
            c.picture(
                Bounds {
                    x0: 0,
                    y0: 2,
                    x1: 480,
                    y1: 318,
                },
                true,
            );
            let found = c.regions();
            assert!(found.is_empty(), "{rule:?}: {found:?}");
        }
    }
}
