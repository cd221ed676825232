//! Query-side normalisation on generated edits of the shared reference photos: each detector
//! fires where it must (the region right within a few pixels, and its hash back near the
//! source's) and stays quiet on look-alikes (a naturally dark edge, a sky, a real frame, and
//! every shared reference image).

mod edits;

use image::RgbImage;
use ward_media::regions::{
    detect_regions, query_candidates, Rect, Region, RegionKind, RegionOptions,
};
use ward_pdq::{Hash256, Pixels};

fn regions(img: &RgbImage) -> Vec<Region> {
    detect_regions(
        img.as_raw(),
        img.width(),
        img.height(),
        &RegionOptions::default(),
    )
}

fn pdq(img: &RgbImage) -> Hash256 {
    ward_pdq::pdq(&Pixels::rgb(img.as_raw(), img.width() as usize, img.height() as usize).unwrap())
        .hash
}

/// The closest candidate of `edited` to `source`'s hash, with the candidate's region.
fn best(edited: &RgbImage, source: &RgbImage) -> (u32, Option<Region>, u8) {
    let s = pdq(source);
    query_candidates(
        edited.as_raw(),
        edited.width(),
        edited.height(),
        &RegionOptions::default(),
    )
    .iter()
    .map(|c| (c.hash.distance(&s), c.region, c.dihedral))
    .min_by_key(|c| c.0)
    .unwrap()
}

#[track_caller]
fn assert_near(got: Rect, want: Rect, slack: u32) {
    let ok = got.x.abs_diff(want.x) <= slack
        && got.y.abs_diff(want.y) <= slack
        && (got.x + got.width).abs_diff(want.x + want.width) <= slack
        && (got.y + got.height).abs_diff(want.y + want.height) <= slack;
    assert!(ok, "region {got} is not within {slack} px of {want}");
}

#[track_caller]
fn check(edited: &RgbImage, source: &RgbImage, kind: RegionKind, want: Rect, slack: u32) {
    let found = regions(edited);
    let r = found
        .iter()
        .find(|r| r.kind == kind)
        .unwrap_or_else(|| panic!("no {} region among {found:?}", kind.name()));
    assert_near(r.rect, want, slack);
    let (d, region, _) = best(edited, source);
    assert!(
        d <= 20,
        "best candidate {d} bits from the source (via {region:?})"
    );
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
fn trim_border_finds_borders_of_any_colour() {
    let src = edits::bridge();
    let (w, h) = src.dimensions();
    for colour in [[0, 0, 0], [255, 255, 255], [128, 128, 128], [200, 30, 40]] {
        let e = edits::jpeg(&edits::pad(&src, 80, 50, 80, 50, colour), 80);
        check(&e, &src, RegionKind::TrimBorder, rect(80, 50, w, h), 3);
    }
    // One-sided padding, 2 % of the height.
    let e = edits::jpeg(&edits::pad(&src, 0, 0, 0, 11, [0, 0, 0]), 80);
    check(&e, &src, RegionKind::TrimBorder, rect(0, 0, w, h), 3);
}

#[test]
fn trim_border_finds_letterbox_and_pillarbox() {
    let src = edits::bridge();
    let (w, h) = src.dimensions();
    // Letterbox into a square, pillarbox into 21:9.
    let lb = (w - h) / 2;
    let e = edits::jpeg(&edits::pad(&src, 0, lb, 0, lb, [0, 0, 0]), 75);
    check(&e, &src, RegionKind::TrimBorder, rect(0, lb, w, h), 3);
    let pb = (h * 21 / 9 - w) / 2;
    let e = edits::jpeg(&edits::pad(&src, pb, 0, pb, 0, [16, 16, 16]), 75);
    check(&e, &src, RegionKind::TrimBorder, rect(pb, 0, w, h), 3);
}

/// A photo rotated by 3° and cropped (by an implementation of its own) is near the derived
/// `rotate+3` hash of its source, and far from the plain one.
#[test]
fn derived_rotation_and_crop_are_near_their_edits() {
    use ward_media::derived::{derived_hashes, DerivedKind};
    let src = edits::bridge();
    let d = derived_hashes(src.as_raw(), src.width(), src.height());
    assert_eq!(d.len(), DerivedKind::ALL.len());
    let of = |name: &str| d.iter().find(|(k, _)| k.name() == name).unwrap().1.hash;
    let rot = pdq(&edits::jpeg(&edits::rotate_small(&src, 3.0), 80));
    assert!(
        rot.distance(&of("rotate+3")) <= 16,
        "{}",
        rot.distance(&of("rotate+3"))
    );
    assert!(rot.distance(&pdq(&src)) > 40);
    let rot = pdq(&edits::jpeg(&edits::rotate_small(&src, -5.0), 80));
    assert!(
        rot.distance(&of("rotate-5")) <= 16,
        "{}",
        rot.distance(&of("rotate-5"))
    );
    let crop = pdq(&edits::jpeg(&edits::crop_centre(&src, 0.10), 80));
    assert!(crop.distance(&of("crop-10-centre")) <= 16);
    assert!(crop.distance(&pdq(&src)) > 40);
    for k in DerivedKind::ALL {
        assert_eq!(DerivedKind::from_name(k.name()), Some(k));
    }
    assert_eq!(DerivedKind::from_name("crop-99"), None);
}

#[test]
fn caption_band_finds_bars_with_text_top_and_bottom() {
    let src = edits::bridge();
    let (w, h) = src.dimensions();
    for share in [0.1, 0.2] {
        let e = edits::jpeg(&edits::caption(&src, share, true), 80);
        let bar = e.height() - h;
        check(&e, &src, RegionKind::CaptionBand, rect(0, bar, w, h), 3);
        let e = edits::jpeg(&edits::caption(&src, share, false), 80);
        check(&e, &src, RegionKind::CaptionBand, rect(0, 0, w, h), 3);
    }
}

#[test]
fn inner_region_finds_the_photo_in_a_screenshot() {
    let src = edits::bridge();
    let (w, h) = src.dimensions();
    let (shot, (x, y)) = edits::screenshot(&src);
    let e = edits::jpeg(&shot, 85);
    check(&e, &src, RegionKind::InnerRegion, rect(x, y, w, h), 3);
}

/// A phone app's post: the picture at full width between a header and buttons on a white or
/// black page (the four-edge detector sees no edges at its sides).
#[test]
fn inner_region_finds_the_photo_in_a_phone_post() {
    let src = edits::bridge();
    let (w, h) = src.dimensions();
    for dark in [false, true] {
        let (post, top) = edits::phone_post(&src, dark);
        let e = edits::jpeg(&post, 85);
        check(&e, &src, RegionKind::InnerRegion, rect(0, top, w, h), 3);
    }
}

#[test]
fn dihedrals_are_candidates() {
    let src = edits::bridge();
    for e in [edits::mirror(&src), edits::rotate90(&src)] {
        let (d, region, k) = best(&edits::jpeg(&e, 80), &src);
        assert!(d <= 16 && region.is_none() && k != 0, "{d} {region:?} {k}");
    }
}

#[test]
fn look_alikes_are_not_normalised() {
    let src = edits::bridge();
    for (name, e) in [
        ("dark edge", edits::dark_edge(&src)),
        ("sky band", edits::sky_band(&src)),
        ("real frame", edits::real_frame(&src)),
    ] {
        let found = regions(&e);
        assert!(found.is_empty(), "{name}: {found:?}");
    }
}

/// The reference photos: no region on any (their edges are the picture's own).
#[test]
fn reference_photos_give_no_regions() {
    let root = edits::pdq_root();
    let mut n = 0;
    for dir in ["images/bridge-mods", "images/reg-test-input/dih"] {
        for f in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = f.unwrap().path();
            let img = image::open(&p).unwrap().to_rgb8();
            let found = regions(&img);
            assert!(found.is_empty(), "{}: {found:?}", p.display());
            n += 1;
        }
    }
    for f in [
        "images/misc-images/wee.jpg",
        "images/misc-images/small.jpg",
        "images/reg-test-input/pen-and-coaster.png",
        "images/misc-images/c.png",
    ] {
        let found = regions(&edits::load(f));
        assert!(found.is_empty(), "{f}: {found:?}");
        n += 1;
    }
    assert_eq!(n, 24);
}

/// The labelme scans are padded with grey bars (a real edit, trimmed rightly); no candidate of
/// any reference image comes near an unrelated reference image.
#[test]
fn reference_candidates_stay_far_from_unrelated_images() {
    let root = edits::pdq_root();
    let mut imgs: Vec<(String, RgbImage)> = Vec::new();
    for f in std::fs::read_dir(root.join("images/reg-test-input/labelme-subset")).unwrap() {
        let p = f.unwrap().path();
        imgs.push((p.display().to_string(), image::open(&p).unwrap().to_rgb8()));
    }
    for f in [
        "lossless/bridge-mods__aaa-orig.png",
        "images/reg-test-input/pen-and-coaster.png",
        "images/misc-images/c.png",
    ] {
        imgs.push((f.to_owned(), edits::load(f)));
    }
    let plain: Vec<(Hash256, u8)> = imgs
        .iter()
        .map(|(_, i)| {
            let p = ward_pdq::pdq(
                &Pixels::rgb(i.as_raw(), i.width() as usize, i.height() as usize).unwrap(),
            );
            (p.hash, p.quality)
        })
        .collect();
    let mut closest = u32::MAX;
    for (a, (name, img)) in imgs.iter().enumerate() {
        for c in query_candidates(
            img.as_raw(),
            img.width(),
            img.height(),
            &RegionOptions::default(),
        ) {
            if c.quality < 50 {
                continue;
            }
            for (b, (h, q)) in plain.iter().enumerate() {
                if a != b && *q >= 50 {
                    let d = c.hash.distance(h);
                    assert!(d > 40, "{name} {c:?} is {d} bits from {}", imgs[b].0);
                    closest = closest.min(d);
                }
            }
        }
    }
    eprintln!("closest unrelated candidate: {closest} bits");
}

#[test]
fn odd_inputs_do_not_panic() {
    for (w, h) in [
        (0, 0),
        (1, 1),
        (1, 500),
        (500, 1),
        (5, 5),
        (16, 16),
        (17, 33),
        (64, 64),
    ] {
        for fill in [0u8, 255, 77] {
            let px = vec![fill; (w * h * 3) as usize];
            assert!(detect_regions(&px, w, h, &RegionOptions::default()).is_empty());
            let c = query_candidates(&px, w, h, &RegionOptions::default());
            assert!(c.len() == 8 || w == 0, "{w}x{h}");
            let d = ward_media::derived::derived_hashes(&px, w, h);
            assert!(d.is_empty() || d.len() == ward_media::derived::DerivedKind::ALL.len());
        }
    }
    // A buffer of the wrong length gives nothing rather than a panic.
    assert!(detect_regions(&[0; 10], 100, 100, &RegionOptions::default()).is_empty());
    // Noise: no structure to find.
    let mut seed = 1u32;
    let noise: Vec<u8> = (0..300 * 200 * 3)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 24) as u8
        })
        .collect();
    assert!(detect_regions(&noise, 300, 200, &RegionOptions::default()).is_empty());
}

/// The phone edit "blurred fill": `img` centred on a `cw × ch` canvas (`dy` pixels off
/// centre, downwards) whose empty bands show `img` enlarged to cover the canvas and blurred
/// (Gaussian, `sigma`). Returns the canvas and where the picture is.
fn blurred_fill(img: &RgbImage, cw: u32, ch: u32, sigma: f32, dy: i64) -> (RgbImage, Rect) {
    let (out, (x, y)) = edits::blurred_fill(img, cw, ch, sigma, dy);
    (out, rect(x, y, img.width(), img.height()))
}

fn trim_borders(found: &[Region]) -> Vec<Rect> {
    found
        .iter()
        .filter(|r| r.kind == RegionKind::TrimBorder)
        .map(|r| r.rect)
        .collect()
}

/// A landscape photo on a square canvas, the bands above and below it its own enlarged,
/// blurred copy: smooth, but not one colour. Found at every usual JPEG quality, with the
/// blur light or heavy, centred or not quite.
#[test]
fn trim_border_finds_a_blurred_fill_letterbox() {
    let src = edits::bridge();
    let (w, _) = src.dimensions();
    for (sigma, quality, dy) in [(12.0, 75, 0), (8.0, 90, 0), (20.0, 50, 0), (12.0, 75, 40)] {
        let (canvas, want) = blurred_fill(&src, w, w, sigma, dy);
        let e = edits::jpeg(&canvas, quality);
        check(&e, &src, RegionKind::TrimBorder, want, 3);
    }
}

/// The pillarbox form: a portrait picture on a square canvas, blurred copies left and
/// right.
#[test]
fn trim_border_finds_a_blurred_fill_pillarbox() {
    let src = edits::rotate90(&edits::bridge());
    let (_, h) = src.dimensions();
    let (canvas, want) = blurred_fill(&src, h, h, 12.0, 0);
    let e = edits::jpeg(&canvas, 75);
    check(&e, &src, RegionKind::TrimBorder, want, 3);
}

/// Two frames of one video in the same blurred-fill layout (the picture panned) give the
/// same rectangle, so the video's per-frame vote agrees.
#[test]
fn blurred_fill_is_found_alike_on_two_frames() {
    let src = edits::bridge();
    let (w, h) = src.dimensions();
    let wide = image::imageops::resize(&src, w + 80, h + 50, image::imageops::FilterType::Triangle);
    let mut rects = Vec::new();
    for (x, y) in [(0, 0), (80, 50)] {
        let frame = image::imageops::crop_imm(&wide, x, y, w, h).to_image();
        let (canvas, want) = blurred_fill(&frame, w, w * 9 / 8, 10.0, 0);
        let found = trim_borders(&regions(&edits::jpeg(&canvas, 80)));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_near(found[0], want, 3);
        rects.push(found[0]);
    }
    assert_near(rects[0], rects[1], 1);
}

/// A bokeh portrait: a sharp subject in the middle with a soft (feathered, curved) edge over
/// a smooth blurred background all round. Smooth bands at the top and bottom, but no
/// straight step across the width: no trim-border.
#[test]
fn blurred_fill_is_not_found_in_a_bokeh_photo() {
    let src = edits::bridge();
    let (w, h) = src.dimensions();
    let (canvas, _) = blurred_fill(&src, w, w, 14.0, 0);
    let back = image::imageops::blur(&canvas, 6.0);
    for (rx, ry) in [(0.32, 0.36), (0.45, 0.3), (0.3, 0.44)] {
        let mut out = back.clone();
        let (cx, cy) = (f64::from(w) / 2.0, f64::from(w) / 2.0);
        let (ax, ay) = (rx * f64::from(w), ry * f64::from(w));
        for (x, y, p) in out.enumerate_pixels_mut() {
            // Inside the ellipse the picture, fading out over its last 15 % (a soft edge).
            let d = ((f64::from(x) - cx) / ax).hypot((f64::from(y) - cy) / ay);
            let a = ((1.0 - d) / 0.15).clamp(0.0, 1.0);
            let q = src.get_pixel(x.min(w - 1), (y * h / w).min(h - 1));
            for c in 0..3 {
                p.0[c] = (a * f64::from(q.0[c]) + (1.0 - a) * f64::from(p.0[c])).round() as u8;
            }
        }
        let found = regions(&edits::jpeg(&out, 75));
        assert!(trim_borders(&found).is_empty(), "{rx} {ry}: {found:?}");
    }
}

/// A smooth sky over a textured photo, the horizon perfectly straight: one smooth band
/// with a straight step, but nothing matching it at the bottom.
#[test]
fn blurred_fill_is_not_found_under_a_straight_sky() {
    let src = edits::bridge();
    let (w, h) = src.dimensions();
    let mut out = src.clone();
    let horizon = h / 4;
    for y in 0..horizon {
        let t = f64::from(y) / f64::from(horizon);
        for x in 0..w {
            out.put_pixel(
                x,
                y,
                image::Rgb([
                    (70.0 + 90.0 * t) as u8,
                    (120.0 + 80.0 * t) as u8,
                    (200.0 + 40.0 * t) as u8,
                ]),
            );
        }
    }
    for q in [50, 75, 90] {
        let found = regions(&edits::jpeg(&out, q));
        assert!(trim_borders(&found).is_empty(), "q{q}: {found:?}");
    }
}

/// Degenerate shapes with a blurred-fill-like layout (smooth bands, a sharp middle) and
/// noise: nothing panics, and nothing is found where there is no room for it.
#[test]
fn blurred_fill_odd_shapes_do_not_panic() {
    let mut seed = 5u32;
    for (w, h) in [
        (1u32, 1u32),
        (3, 200),
        (200, 3),
        (2, 2),
        (31, 31),
        (32, 32),
        (40, 33),
    ] {
        let img = RgbImage::from_fn(w, h, |x, y| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let band = y < h / 4 || y >= h - h / 4 || x < w / 4 || x >= w - w / 4;
            let v = if band {
                (x + y) as u8
            } else {
                (seed >> 24) as u8
            };
            image::Rgb([v, v, v])
        });
        let found = regions(&img);
        assert!(found
            .iter()
            .all(|r| r.rect.width >= 8 && r.rect.height >= 8));
        if w < 16 || h < 16 {
            assert!(found.is_empty(), "{w}x{h}: {found:?}");
        }
    }
}
