//! Letterbox and pillarbox detection: the content rectangle inside uniform bars.
//!
//! A re-upload is often padded to another aspect ratio: black (or grey, or white) bars above
//! and below (letterbox) or left and right (pillarbox). vPDQ hashes every pixel of a frame, so
//! bars move every frame hash of the copy more than 31 bits away from the original's (the
//! reference matches the `-bar` and `-no-bar` versions of one clip 0 %). Hashing the content
//! rectangle as well fixes that on the query side, while the plain hashes stay in the
//! reference convention so that shared hash lists keep working.
//!
//! [`detect_letterbox`] is pure: a few RGB frames sampled over the video in, the content
//! rectangle out. It is conservative, because cropping away a scene is worse than missing a
//! bar:
//!
//! - a bar is a band of whole lines at an edge, each line of one colour (up to compression
//!   noise) in **every** sampled frame, the same colour all through the band and in every frame;
//! - the colour may be any colour, but the test is tight: a pixel is off when a channel is more
//!   than [`LetterboxOptions::tolerance`] from the bar colour, a line may have only
//!   [`LetterboxOptions::noisy_share`] of its pixels off and a mean deviation of at most
//!   [`LetterboxOptions::mean_deviation`] (real bars in H.264 are flat to a level or two; a
//!   dark, noisy scene is not);
//! - bars thinner than [`LetterboxOptions::min_bar`] are ignored (an encoder's padding line);
//! - the content must keep at least [`LetterboxOptions::min_content`] of each dimension, and at
//!   least [`LetterboxOptions::min_frames`] frames must have been sampled; otherwise there is no
//!   answer (`None`), never a sliver.

/// A rectangle of pixels: `x`, `y` of its top-left corner, then its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rect {
    /// Left edge, in pixels from the left of the frame.
    pub x: u32,
    /// Top edge, in pixels from the top of the frame.
    pub y: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Rect {
    /// The rectangle from corner `(x0, y0)` to corner `(x1, y1)` with its top-left corner
    /// moved right and down, and its size cut, to multiples of `align` (inward, never over
    /// the content).
    pub fn aligned_inward((x0, y0): (u32, u32), (x1, y1): (u32, u32), align: u32) -> Rect {
        let a = align.max(1);
        let (x, y) = (x0.div_ceil(a) * a, y0.div_ceil(a) * a);
        Rect {
            x,
            y,
            width: x1.saturating_sub(x) / a * a,
            height: y1.saturating_sub(y) / a * a,
        }
    }
}

impl std::fmt::Display for Rect {
    /// `WxH+X+Y`, as ImageMagick writes a geometry.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}+{}+{}", self.width, self.height, self.x, self.y)
    }
}

/// How strict [`detect_letterbox`] is; the defaults suit compressed video.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LetterboxOptions {
    /// A pixel belongs to a bar when each of its channels is at most this far from the bar's
    /// colour. Default 16.
    pub tolerance: u8,
    /// Share (0–1) of a bar line's pixels that may be off (compression noise, a stray pixel of
    /// a watermark). Default 0.02.
    pub noisy_share: f64,
    /// Mean over a bar line of each pixel's largest channel difference from the bar colour.
    /// Default 4.
    pub mean_deviation: f64,
    /// Thinnest bar, as a share (0–1) of the frame's dimension across it; thinner bands are not
    /// bars. At least 2 pixels whatever this says. Default 0.01.
    pub min_bar: f64,
    /// Smallest content left, as a share (0–1) of each dimension. Default 0.5.
    pub min_content: f64,
    /// Fewest sampled frames to decide on (one frame cannot tell a bar from a still, plain
    /// part of a scene). Default 2.
    pub min_frames: usize,
    /// The content rectangle's corners are moved inward to multiples of this (2: the chroma
    /// subsampling of most video, so that ffmpeg crops exactly there). Default 2.
    pub align: u32,
}

impl Default for LetterboxOptions {
    fn default() -> Self {
        LetterboxOptions {
            tolerance: 16,
            noisy_share: 0.02,
            mean_deviation: 4.0,
            min_bar: 0.01,
            min_content: 0.5,
            min_frames: 2,
            align: 2,
        }
    }
}

/// The frame hashes of a video's content rectangle, its bars cropped away.
#[derive(Clone, Debug, PartialEq)]
pub struct CroppedVpdq {
    /// The content rectangle, in the coordinates of the decoded frame.
    pub content: Rect,
    /// What found it: `trim-letterbox` (black bars), or the image detector that found the
    /// same rectangle on most sampled frames (`trim-border`, `caption-band`,
    /// `inner-region`).
    pub via: &'static str,
    /// One PDQ hash per sampled frame of the content, with the same frame numbers and
    /// timestamps as the plain hashes.
    pub vpdq: Vec<ward_pdq::vpdq::VpdqFrame>,
}

/// The content rectangle inside uniform bars along the edges of `frames`, or `None` when
/// there are no bars (or no safe answer: too few frames, too little content left).
///
/// Every frame is packed RGB24, `width × height × 3` bytes, rows top to bottom; the frames
/// are samples of one video, whose bars are taken to be fixed. A frame of another length
/// gives `None`.
pub fn detect_letterbox(
    frames: &[&[u8]],
    width: u32,
    height: u32,
    opts: &LetterboxOptions,
) -> Option<Rect> {
    let (w, h) = (width as usize, height as usize);
    if frames.len() < opts.min_frames.max(1)
        || w == 0
        || h == 0
        || frames.iter().any(|f| f.len() != w * h * 3)
    {
        return None;
    }
    let scan = Scan { frames, w, opts };
    let min_bar = |dim: usize| ((opts.min_bar * dim as f64).ceil() as usize).max(2);
    let keep = |t: usize, dim: usize| if t >= min_bar(dim) { t } else { 0 };
    let min_h = (opts.min_content * h as f64).ceil() as usize;
    let min_w = (opts.min_content * w as f64).ceil() as usize;

    // Rows first, over the whole width; then columns, between the top and bottom bars.
    let rows = |i: usize| Line::Row { y: i, x0: 0, x1: w };
    let top = keep(scan.band(h, rows), h);
    let bottom = keep(scan.band(h - top, |i| rows(h - 1 - i)), h);
    if h - top - bottom < min_h {
        return None;
    }
    let (y0, y1) = (top, h - bottom);
    let cols = |x: usize| Line::Col { x, y0, y1 };
    let left = keep(scan.band(w, cols), w);
    let right = keep(scan.band(w - left, |i| cols(w - 1 - i)), w);
    if top + bottom + left + right == 0 {
        return None;
    }
    let r = Rect::aligned_inward(
        (left as u32, top as u32),
        ((w - right) as u32, (h - bottom) as u32),
        opts.align,
    );
    let (cw, ch) = (r.width as usize, r.height as usize);
    if cw < min_w || ch < min_h || cw == 0 || ch == 0 {
        return None;
    }
    Some(r)
}

/// One row or column segment of a frame.
#[derive(Clone, Copy)]
enum Line {
    Row { y: usize, x0: usize, x1: usize },
    Col { x: usize, y0: usize, y1: usize },
}

struct Scan<'a> {
    frames: &'a [&'a [u8]],
    w: usize,
    opts: &'a LetterboxOptions,
}

impl Scan<'_> {
    /// The pixels of `line` in `frame`.
    fn pixels<'f>(&self, frame: &'f [u8], line: Line) -> impl Iterator<Item = [u8; 3]> + 'f {
        let w = self.w;
        let (start, step, n) = match line {
            Line::Row { y, x0, x1 } => ((y * w + x0) * 3, 3, x1 - x0),
            Line::Col { x, y0, y1 } => ((y0 * w + x) * 3, w * 3, y1 - y0),
        };
        (0..n).map(move |i| {
            let p = start + i * step;
            [frame[p], frame[p + 1], frame[p + 2]]
        })
    }

    /// How many lines from an edge (`line(0)` the outermost, at most `limit`) form one bar:
    /// the bar's colour is the mean of the outermost line over all frames, and every line of
    /// the band is that colour in every frame.
    fn band(&self, limit: usize, line: impl Fn(usize) -> Line) -> usize {
        if limit == 0 {
            return 0;
        }
        let mut sum = [0u64; 3];
        let mut n = 0u64;
        for f in self.frames {
            for p in self.pixels(f, line(0)) {
                for c in 0..3 {
                    sum[c] += u64::from(p[c]);
                }
                n += 1;
            }
        }
        if n == 0 {
            return 0;
        }
        let colour = sum.map(|s| ((s + n / 2) / n) as u8);
        (0..limit)
            .take_while(|&i| self.frames.iter().all(|f| self.is_bar(f, line(i), colour)))
            .count()
    }

    /// Whether `line` of `frame` is of `colour`, up to the allowed noise.
    fn is_bar(&self, frame: &[u8], line: Line, colour: [u8; 3]) -> bool {
        let (mut n, mut off, mut dev) = (0usize, 0usize, 0u64);
        for p in self.pixels(frame, line) {
            let d = (0..3).map(|c| p[c].abs_diff(colour[c])).max().unwrap_or(0);
            off += usize::from(d > self.opts.tolerance);
            dev += u64::from(d);
            n += 1;
        }
        n > 0
            && off as f64 <= self.opts.noisy_share * n as f64
            && dev as f64 <= self.opts.mean_deviation * n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u32 = 160;
    const H: u32 = 120;

    /// A deterministic pseudo-random byte stream (xorshift), for textures and noise.
    struct Rng(u64);
    impl Rng {
        fn byte(&mut self) -> u8 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 24) as u8
        }
    }

    /// A frame of busy content (texture over a gradient, different per `seed`), with
    /// everything outside `content` painted by `bar`.
    fn frame(seed: u64, content: Rect, bar: impl Fn(&mut Rng) -> [u8; 3]) -> Vec<u8> {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut out = Vec::with_capacity((W * H * 3) as usize);
        for y in 0..H {
            for x in 0..W {
                let inside = x >= content.x
                    && x < content.x + content.width
                    && y >= content.y
                    && y < content.y + content.height;
                let p = if inside {
                    let t = rng.byte();
                    let g = ((x * 2 + y + seed as u32 * 37) % 256) as u8;
                    [g / 2 + t / 2, t, g]
                } else {
                    bar(&mut rng)
                };
                out.extend_from_slice(&p);
            }
        }
        out
    }

    fn detect(frames: &[Vec<u8>]) -> Option<Rect> {
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        detect_letterbox(&refs, W, H, &LetterboxOptions::default())
    }

    fn rect(x: u32, y: u32, width: u32, height: u32) -> Rect {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    fn black(_: &mut Rng) -> [u8; 3] {
        [0, 0, 0]
    }

    #[test]
    fn letterbox_top_and_bottom() {
        let content = rect(0, 16, W, 88);
        let frames: Vec<_> = (0..4).map(|s| frame(s, content, black)).collect();
        assert_eq!(detect(&frames), Some(content));
    }

    #[test]
    fn pillarbox_left_and_right() {
        let content = rect(20, 0, 120, H);
        let frames: Vec<_> = (0..4).map(|s| frame(s, content, black)).collect();
        assert_eq!(detect(&frames), Some(content));
    }

    #[test]
    fn uneven_and_odd_bars_are_aligned_inward() {
        // 7 px on top, 12 below, 9 left, none right: corners to even coordinates, inward.
        let content = rect(9, 7, W - 9, H - 7 - 12);
        let frames: Vec<_> = (0..3).map(|s| frame(s, content, black)).collect();
        assert_eq!(detect(&frames), Some(rect(10, 8, 150, 100)));
    }

    #[test]
    fn grey_bars_count_too() {
        let content = rect(0, 20, W, 80);
        let frames: Vec<_> = (0..3)
            .map(|s| frame(s, content, |_| [128, 128, 128]))
            .collect();
        assert_eq!(detect(&frames), Some(content));
    }

    #[test]
    fn no_bars_is_none() {
        let frames: Vec<_> = (0..4).map(|s| frame(s, rect(0, 0, W, H), black)).collect();
        assert_eq!(detect(&frames), None);
    }

    #[test]
    fn noisy_bars_are_still_bars() {
        // Compression noise: every bar pixel a few levels off black, and one in 512 far off.
        let noisy = |r: &mut Rng| {
            if r.byte() == 0 && r.byte() < 128 {
                [90, 90, 90]
            } else {
                let n = r.byte() % 6;
                [n, n / 2, n]
            }
        };
        let content = rect(0, 14, W, 92);
        let frames: Vec<_> = (0..4).map(|s| frame(s, content, noisy)).collect();
        assert_eq!(detect(&frames), Some(content));
    }

    #[test]
    fn a_dark_scene_without_bars_is_not_cropped() {
        // Every pixel dark (0..=40), textured, different per frame: uniformly dark, but not
        // flat.
        let dark: Vec<Vec<u8>> = (0..4)
            .map(|s| {
                let mut rng = Rng(s + 11);
                (0..W * H * 3).map(|_| rng.byte() % 41).collect()
            })
            .collect();
        assert_eq!(detect(&dark), None);
        // A black frame (a fade) among them changes nothing.
        let mut with_black = dark.clone();
        with_black.push(vec![0; (W * H * 3) as usize]);
        assert_eq!(detect(&with_black), None);
        // All black: everything is "bar", and nothing is left: no answer, not a sliver.
        let all_black = vec![vec![0u8; (W * H * 3) as usize]; 3];
        assert_eq!(detect(&all_black), None);
    }

    #[test]
    fn a_dark_band_that_moves_is_not_a_bar() {
        // Frame 0 has a dark band on top, frame 1 does not: not fixed, so not a bar.
        let frames = vec![
            frame(1, rect(0, 20, W, 100), black),
            frame(2, rect(0, 0, W, H), black),
            frame(3, rect(0, 20, W, 100), black),
        ];
        assert_eq!(detect(&frames), None);
    }

    #[test]
    fn bars_of_another_colour_in_another_frame_are_not_bars() {
        let content = rect(0, 16, W, 88);
        let frames = vec![
            frame(1, content, black),
            frame(2, content, |_| [200, 200, 200]),
        ];
        assert_eq!(detect(&frames), None);
    }

    #[test]
    fn too_little_content_or_too_few_frames_is_none() {
        // Content 40 % of the height.
        let content = rect(0, 36, W, 48);
        let frames: Vec<_> = (0..3).map(|s| frame(s, content, black)).collect();
        assert_eq!(detect(&frames), None);
        // One frame alone cannot tell a bar from a plain, still part of a scene.
        let content = rect(0, 16, W, 88);
        assert_eq!(detect(&[frame(0, content, black)]), None);
        // Frames of the wrong size.
        assert_eq!(detect(&[vec![0; 10], vec![0; 10]]), None);
    }

    #[test]
    fn a_one_pixel_line_is_not_a_bar() {
        let content = rect(0, 1, W, H - 1);
        let frames: Vec<_> = (0..3).map(|s| frame(s, content, black)).collect();
        assert_eq!(detect(&frames), None);
    }

    #[test]
    fn rect_displays_as_a_geometry() {
        assert_eq!(rect(32, 0, 416, 720).to_string(), "416x720+32+0");
    }
}
