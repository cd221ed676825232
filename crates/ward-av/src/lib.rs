//! The few libavformat/libavcodec calls of ward's decoding worker (`ward __av-worker`), behind
//! a safe API.
//!
//! The C side (`csrc/ward_av.c`) is compiled against the installed FFmpeg headers and loads
//! the libraries of the same major versions with `dlopen` when [`load`] is called, so the
//! ward binary neither links FFmpeg nor pays for loading it on every start. Only the worker
//! process calls this crate: a decoder that crashes on a hostile file takes that child down,
//! never the process that asked for the hashes.
//!
//! Built without the FFmpeg headers (or with `WARD_NO_AV` set), [`available`] is false and
//! every call says so; ward then decodes through the ffmpeg program.
#![allow(unsafe_code)] // the FFI boundary; every unsafe block of the workspace is in this file

use std::ffi::{c_char, c_int, CStr, CString};

/// What the container says about the chosen stream (the facts ffprobe prints).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Info {
    /// The demuxer's name, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    pub container: String,
    /// The codec's name, e.g. `h264`.
    pub codec: String,
    /// The decoder's pixel format, e.g. `yuv420p`; empty when unknown.
    pub pix_fmt: String,
    /// Index of the stream in the container.
    pub stream_index: u32,
    /// Declared frame width.
    pub width: u32,
    /// Declared frame height.
    pub height: u32,
    /// The stream's average frame rate, numerator and denominator.
    pub avg_frame_rate: (i32, i32),
    /// The stream's base frame rate.
    pub r_frame_rate: (i32, i32),
    /// Declared duration in seconds: the stream's, else the container's.
    pub duration: Option<f64>,
    /// Declared frame count.
    pub frame_count: Option<u64>,
}

/// Why a file could not be opened.
#[derive(Clone, Debug, PartialEq)]
pub enum OpenError {
    /// FFmpeg's libraries are not there (or this build has no worker).
    Unavailable(String),
    /// The container could not be read.
    Failed(String),
    /// No video stream: the kinds of stream there are (`audio`, ...).
    NoVideoStream(Vec<String>),
    /// No decoder for the stream's codec.
    NoDecoder(Box<Info>),
}

/// One decoded frame, borrowed from the decoder until the next call.
pub struct Frame<'a> {
    planes: [&'a [u8]; 3],
    linesize: [usize; 3],
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The frame's decoded-frame index, when [`Decoder::skip_unhashed`] is on (frames are
    /// skipped, so they cannot be counted); `None` otherwise.
    pub index: Option<u64>,
    /// Whether the frame is 8-bit 4:2:0 (`yuv420p`), the only layout [`Frame::copy_yuv420`]
    /// copies.
    pub yuv420p: bool,
}

impl Frame<'_> {
    /// Appends the rectangle (`x`, `y`, `w`, `h`; `x` and `y` even) of a `yuv420p` frame to
    /// `out` as packed planes: Y rows, then U and V at half resolution (rounded up). False
    /// if the frame is another format or the rectangle is not inside it.
    pub fn copy_yuv420(&self, (x, y, w, h): (u32, u32, u32, u32), out: &mut Vec<u8>) -> bool {
        if !self.yuv420p
            || x % 2 == 1
            || y % 2 == 1
            || w == 0
            || h == 0
            || x.checked_add(w).is_none_or(|e| e > self.width)
            || y.checked_add(h).is_none_or(|e| e > self.height)
        {
            return false;
        }
        let (x, y, w, h) = (x as usize, y as usize, w as usize, h as usize);
        let copy = |out: &mut Vec<u8>, plane: usize, x: usize, y: usize, w: usize, h: usize| {
            let (data, stride) = (self.planes[plane], self.linesize[plane]);
            for row in y..y + h {
                let start = row * stride + x;
                match data.get(start..start + w) {
                    Some(line) => out.extend_from_slice(line),
                    None => return false,
                }
            }
            true
        };
        let (cx, cy, cw, ch) = (x / 2, y / 2, w.div_ceil(2), h.div_ceil(2));
        copy(out, 0, x, y, w, h) && copy(out, 1, cx, cy, cw, ch) && copy(out, 2, cx, cy, cw, ch)
    }
}

#[cfg(ward_av)]
mod ffi {
    use std::ffi::{c_char, c_int, c_uchar, c_ulonglong};

    #[repr(C)]
    pub struct WardAv {
        _private: [u8; 0],
    }

    #[repr(C)]
    pub struct InfoC {
        pub stream_index: c_int,
        pub width: c_int,
        pub height: c_int,
        pub avg_num: c_int,
        pub avg_den: c_int,
        pub r_num: c_int,
        pub r_den: c_int,
        pub has_duration: c_int,
        pub duration: f64,
        pub nb_frames: i64,
        pub video_streams: c_int,
        pub pix_fmt: [c_char; 32],
        pub codec: [c_char; 32],
        pub container: [c_char; 64],
        pub kinds: [c_char; 128],
    }

    #[repr(C)]
    pub struct FrameC {
        pub data: [*const c_uchar; 3],
        pub linesize: [c_int; 3],
        pub width: c_int,
        pub height: c_int,
        pub format: c_int,
        pub index: i64,
    }

    extern "C" {
        pub fn ward_av_load(err: *mut c_char, n: usize) -> c_int;
        pub fn ward_av_set_memory_limit(bytes: c_ulonglong) -> c_int;
        pub fn ward_av_open(
            url: *const c_char,
            demuxer: *const c_char,
            threads: c_int,
            probe_only: c_int,
            info: *mut InfoC,
            out: *mut *mut WardAv,
            err: *mut c_char,
            n: usize,
        ) -> c_int;
        pub fn ward_av_next(s: *mut WardAv, f: *mut FrameC, err: *mut c_char, n: usize) -> c_int;
        pub fn ward_av_close(s: *mut WardAv);
        pub fn ward_av_skip_unhashed(s: *mut WardAv, interval: i64) -> c_int;
        pub fn ward_av_partial_file() -> c_int;
        pub fn ward_av_last_error() -> *const c_char;
        pub fn ward_av_yuv420p() -> c_int;
    }
}

/// Whether this build has the worker's decoder (the FFmpeg headers were there).
pub const fn available() -> bool {
    cfg!(ward_av)
}

fn text(buf: &[c_char]) -> String {
    let bytes: Vec<u8> = buf
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Loads FFmpeg's libraries (once per process).
pub fn load() -> Result<(), String> {
    #[cfg(ward_av)]
    {
        let mut err = [0 as c_char; 512];
        // SAFETY: `err` is a writable buffer of the length given.
        let r = unsafe { ffi::ward_av_load(err.as_mut_ptr(), err.len()) };
        if r == 0 {
            Ok(())
        } else {
            Err(text(&err))
        }
    }
    #[cfg(not(ward_av))]
    Err("this ward was built without FFmpeg's headers".to_owned())
}

/// Sets this process's data-memory limit (`RLIMIT_DATA`, soft), so that a decoder's
/// allocations past it fail. False if it could not be set.
pub fn set_memory_limit(bytes: u64) -> bool {
    #[cfg(ward_av)]
    {
        // SAFETY: plain system call wrapper.
        unsafe { ffi::ward_av_set_memory_limit(bytes) == 0 }
    }
    #[cfg(not(ward_av))]
    {
        let _ = bytes;
        false
    }
}

/// Whether a demuxer said, since the last [`Decoder::open`], that the file is shorter than
/// its index (how a truncated MP4 shows).
pub fn partial_file() -> bool {
    #[cfg(ward_av)]
    {
        // SAFETY: reads a flag.
        unsafe { ffi::ward_av_partial_file() != 0 }
    }
    #[cfg(not(ward_av))]
    false
}

/// The last error line FFmpeg logged since the last [`Decoder::open`], or "".
pub fn last_error() -> String {
    #[cfg(ward_av)]
    {
        // SAFETY: a NUL-terminated static buffer.
        let s = unsafe { CStr::from_ptr(ffi::ward_av_last_error()) };
        s.to_string_lossy().into_owned()
    }
    #[cfg(not(ward_av))]
    String::new()
}

/// Why [`Decoder::next_frame`] gave no frame.
#[derive(Clone, Debug, PartialEq)]
pub enum NextError {
    /// Decoding failed.
    Failed(String),
    /// With [`Decoder::skip_unhashed`] on, the frames stopped matching the packets, so the
    /// indices cannot be trusted: decode the file again without skipping.
    Inexact(String),
}

/// One open file and its video stream's decoder.
pub struct Decoder {
    #[cfg(ward_av)]
    ptr: *mut ffi::WardAv,
    /// The stream's facts.
    pub info: Info,
}

// The decoder is used by one thread at a time; FFmpeg contexts may move between threads.
// SAFETY: nothing in the context is tied to the thread that made it.
unsafe impl Send for Decoder {}

impl Decoder {
    /// Opens `url` (`file:` and an absolute path) reading it with the demuxer `demuxer`
    /// only, and picks the first video stream that is not a cover picture; unless
    /// `probe_only`, opens its decoder with `threads` threads (0: FFmpeg's choice).
    pub fn open(
        url: &[u8],
        demuxer: &str,
        threads: u32,
        probe_only: bool,
    ) -> Result<Decoder, OpenError> {
        let url = CString::new(url).map_err(|_| OpenError::Failed("NUL in the path".into()))?;
        let demuxer =
            CString::new(demuxer).map_err(|_| OpenError::Failed("NUL in the demuxer".into()))?;
        #[cfg(ward_av)]
        {
            let mut info = std::mem::MaybeUninit::<ffi::InfoC>::zeroed();
            let mut ptr: *mut ffi::WardAv = std::ptr::null_mut();
            let mut err = [0 as c_char; 512];
            // SAFETY: the strings are NUL-terminated, `info`, `ptr` and `err` are writable
            // and of the sizes the C side expects; `load` must have succeeded, which the C
            // side cannot check, so it is checked here.
            let r = unsafe {
                ffi::ward_av_open(
                    url.as_ptr(),
                    demuxer.as_ptr(),
                    c_int::try_from(threads).unwrap_or(0),
                    c_int::from(probe_only),
                    info.as_mut_ptr(),
                    &mut ptr,
                    err.as_mut_ptr(),
                    err.len(),
                )
            };
            // SAFETY: zeroed is a valid InfoC, and the C side only writes valid values.
            let c = unsafe { info.assume_init() };
            let rate = |n: c_int, d: c_int| (n, d);
            let info = Info {
                container: text(&c.container),
                codec: text(&c.codec),
                pix_fmt: text(&c.pix_fmt),
                stream_index: u32::try_from(c.stream_index).unwrap_or(0),
                width: u32::try_from(c.width).unwrap_or(0),
                height: u32::try_from(c.height).unwrap_or(0),
                avg_frame_rate: rate(c.avg_num, c.avg_den),
                r_frame_rate: rate(c.r_num, c.r_den),
                duration: (c.has_duration != 0).then_some(c.duration),
                frame_count: u64::try_from(c.nb_frames).ok().filter(|&n| n > 0),
            };
            match r {
                0 => Ok(Decoder { ptr, info }),
                -2 => Err(OpenError::NoVideoStream(
                    text(&c.kinds)
                        .split(',')
                        .filter(|k| !k.is_empty())
                        .map(str::to_owned)
                        .collect(),
                )),
                -3 => Err(OpenError::NoDecoder(Box::new(info))),
                _ => Err(OpenError::Failed(text(&err))),
            }
        }
        #[cfg(not(ward_av))]
        {
            let _ = (url, demuxer, threads, probe_only);
            Err(OpenError::Unavailable(
                "this ward was built without FFmpeg's headers".to_owned(),
            ))
        }
    }

    /// The next decoded frame in output order (the order the reference counts), `None` at
    /// the end of the stream.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, NextError> {
        #[cfg(ward_av)]
        {
            let mut f = std::mem::MaybeUninit::<ffi::FrameC>::zeroed();
            let mut err = [0 as c_char; 512];
            // SAFETY: `self.ptr` is an open context (from `open`, closed only on drop);
            // `f` and `err` are writable.
            let r =
                unsafe { ffi::ward_av_next(self.ptr, f.as_mut_ptr(), err.as_mut_ptr(), err.len()) };
            match r {
                1 => {
                    // SAFETY: filled by the C side on success.
                    let f = unsafe { f.assume_init() };
                    // SAFETY: a constant.
                    let yuv420p = f.format == unsafe { ffi::ward_av_yuv420p() };
                    let (w, h) = (
                        u32::try_from(f.width).unwrap_or(0),
                        u32::try_from(f.height).unwrap_or(0),
                    );
                    let mut planes: [&[u8]; 3] = [&[]; 3];
                    let mut linesize = [0usize; 3];
                    if yuv420p && w > 0 && h > 0 {
                        for i in 0..3 {
                            let rows = if i == 0 { h } else { h.div_ceil(2) } as usize;
                            let stride = usize::try_from(f.linesize[i]).unwrap_or(0);
                            if stride == 0 || f.data[i].is_null() {
                                return Err(NextError::Failed(
                                    "a frame without its planes".to_owned(),
                                ));
                            }
                            // SAFETY: FFmpeg allocates each plane of a yuv420p frame as
                            // `linesize` bytes for each of its rows (and padding past them);
                            // the slice lives until the next call, which needs `&mut self`.
                            planes[i] =
                                unsafe { std::slice::from_raw_parts(f.data[i], stride * rows) };
                            linesize[i] = stride;
                        }
                    }
                    Ok(Some(Frame {
                        planes,
                        linesize,
                        index: u64::try_from(f.index).ok(),
                        width: w,
                        height: h,
                        yuv420p: yuv420p && w > 0 && h > 0,
                    }))
                }
                0 => Ok(None),
                -4 => Err(NextError::Inexact(text(&err))),
                _ => Err(NextError::Failed(text(&err))),
            }
        }
        #[cfg(not(ward_av))]
        Err(NextError::Failed(
            "this ward was built without FFmpeg's headers".to_owned(),
        ))
    }

    /// Lets the decoder skip frames that no other frame refers to and that are not among
    /// every `interval`-th decoded frame (those hashed), where the frame indices stay exact:
    /// H.264 or HEVC in MP4/MOV or Matroska, decoded on one thread, every packet with its own
    /// timestamp. Then [`Frame::index`] gives each frame's index, and a stream that breaks
    /// the assumptions midway gives [`NextError::Inexact`]. Returns whether it is on.
    pub fn skip_unhashed(&mut self, interval: u64) -> bool {
        #[cfg(ward_av)]
        {
            // SAFETY: an open context.
            unsafe {
                ffi::ward_av_skip_unhashed(self.ptr, i64::try_from(interval).unwrap_or(0)) == 1
            }
        }
        #[cfg(not(ward_av))]
        {
            let _ = interval;
            false
        }
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        #[cfg(ward_av)]
        // SAFETY: the context from `open`, closed once.
        unsafe {
            ffi::ward_av_close(self.ptr)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 6×4 yuv420p frame with strides wider than its rows (as decoders give them): luma
    /// value `10 y + x`, chroma `100 + 10 y + x` and `200 + 10 y + x`.
    fn planes() -> [Vec<u8>; 3] {
        let luma = (0..4u8)
            .flat_map(|y| (0..8u8).map(move |x| 10 * y + x))
            .collect();
        let chroma = |base: u8| {
            (0..2u8)
                .flat_map(move |y| (0..5u8).map(move |x| base + 10 * y + x))
                .collect()
        };
        [luma, chroma(100), chroma(200)]
    }

    fn frame(p: &[Vec<u8>; 3]) -> Frame<'_> {
        Frame {
            planes: [&p[0], &p[1], &p[2]],
            linesize: [8, 5, 5],
            index: None,
            width: 6,
            height: 4,
            yuv420p: true,
        }
    }

    #[test]
    fn rectangles_come_out_packed() {
        let p = planes();
        let f = frame(&p);
        let mut out = Vec::new();
        assert!(f.copy_yuv420((2, 2, 3, 2), &mut out));
        // Luma rows 2..4, columns 2..5; chroma row 1, columns 1..3 (3 wide rounds up to 2).
        assert_eq!(out, [22, 23, 24, 32, 33, 34, 111, 112, 211, 212]);
        out.clear();
        assert!(f.copy_yuv420((0, 0, 6, 4), &mut out));
        assert_eq!(out.len(), 6 * 4 + 2 * 3 * 2);
        assert_eq!(&out[..6], &[0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn odd_or_outside_rectangles_are_refused() {
        let p = planes();
        let f = frame(&p);
        let mut out = Vec::new();
        for r in [
            (1, 0, 2, 2),
            (0, 1, 2, 2),
            (0, 0, 7, 4),
            (4, 0, 4, 4),
            (0, 0, 0, 4),
            (0, 2, 6, u32::MAX),
        ] {
            assert!(!f.copy_yuv420(r, &mut out), "{r:?}");
        }
        assert!(out.is_empty());
        let other = Frame {
            yuv420p: false,
            ..frame(&p)
        };
        assert!(!other.copy_yuv420((0, 0, 2, 2), &mut out));
    }

    #[test]
    fn the_libraries_load_where_the_headers_were() {
        // CI installs FFmpeg's headers and libraries: there, the worker must be built and load.
        if available() {
            load().unwrap();
            let e = Decoder::open(b"file:/nonexistent/clip.mp4", "mov", 1, true);
            assert!(
                matches!(e, Err(OpenError::Failed(ref m)) if m.contains("No such file")),
                "{:?}",
                e.err()
            );
        }
    }
}
