//! Micro-benchmarks of the downsample: the fast streaming path against the reference port.
#![allow(missing_docs)] // criterion_main! generates an undocumented `main`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ward_pdq::{fast, reference, Pixels, Yuv420};

fn photo(w: usize, h: usize) -> Vec<u8> {
    let mut s = 0x2545_f491_4f6c_dd1du64;
    (0..w * h * 3)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((i / 3 % w + i / 3 / w) as u64 / 8 + (s & 31)) as u8
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("downsample");
    for (w, h) in [(1024, 768), (4000, 3000)] {
        let rgb = photo(w, h);
        let px = Pixels::rgb(&rgb, w, h).unwrap();
        g.throughput(Throughput::Elements((w * h) as u64));
        g.bench_function(format!("fast {w}x{h}"), |b| {
            b.iter(|| fast::downsample(&px))
        });
        if w < 2000 {
            g.bench_function(format!("reference {w}x{h}"), |b| {
                b.iter(|| reference::downsample(&mut px.luma(), h, w))
            });
        }
        g.bench_function(format!("pdq {w}x{h}"), |b| b.iter(|| ward_pdq::pdq(&px)));
    }
    g.finish();

    // A video frame: from RGB24 and from 4:2:0 planes, on the best code path for this CPU
    // and on the portable one.
    let mut g = c.benchmark_group("video-frame");
    let (w, h) = (480, 720);
    let rgb = photo(w, h);
    let px = Pixels::rgb(&rgb, w, h).unwrap();
    let yuv: Vec<u8> = photo(w, h)[..Yuv420::frame_len(w, h).unwrap()].to_vec();
    let frame = Yuv420::new(&yuv, w, h).unwrap();
    g.throughput(Throughput::Elements((w * h) as u64));
    g.bench_function(format!("pdq rgb {w}x{h}"), |b| {
        b.iter(|| ward_pdq::pdq(&px))
    });
    g.bench_function(format!("pdq yuv420 {w}x{h}"), |b| {
        b.iter(|| ward_pdq::pdq_yuv420(&frame))
    });
    g.bench_function(format!("downsample yuv420 portable {w}x{h}"), |b| {
        b.iter(|| fast::downsample_portable(&frame))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
