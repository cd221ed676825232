//! Decoding in ward's own worker processes (`ward __av-worker`), which call libavformat and
//! libavcodec directly ([`ward_av`]) instead of starting an ffprobe and an ffmpeg per file.
//!
//! The isolation is that of the ffmpeg child: the decoder runs in another process, under a
//! data-memory limit it sets on itself for each file (`RLIMIT_DATA`), and the caller kills it
//! at the deadline or when anything is out of order; a crash costs one file. What changes is
//! the cost: a worker is started once and serves file after file (a pool, one worker per file
//! being decoded at once), so the ~130 shared libraries of FFmpeg are loaded once, not twice
//! per file, and frames come from the decoder's planes without ffmpeg's filter graph and
//! muxer copies.
//!
//! The worker does only what is exact against the ffmpeg path: `yuv420p` frames sent as
//! packed planes (whole, or a rectangle at even offsets), selected by decoded-frame index.
//! Everything else (RGB24 conversion, downscaling, a stream whose size or format changes)
//! stays with the ffmpeg program; a worker that meets such a frame says so and the caller
//! decodes the file with ffmpeg instead.
//!
//! Protocol, over the worker's stdin (requests, one JSON object a line) and stdout (messages:
//! one kind byte, a little-endian u32 length, the payload):
//! - `{"op":"open","path":HEX,"demuxer":D,"threads":N,"probe_only":B,"memory":M}`
//!   → `I` the stream facts as ffprobe's JSON, or `E` an error object;
//! - `{"op":"decode","interval":N,"rect":[x,y,w,h],"memory":M}` (after an open that was not
//!   probe-only) → `F` per selected frame (u64 index, then the packed planes), then `D`
//!   (`{"partial_file":B,"error":S}`) or `E`.

use crate::MediaError;
use serde_json::{json, Value};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Mutex;
use std::thread;
use std::time::Instant;

/// The argument that makes the ward binary a decoding worker.
pub const WORKER_ARG: &str = "__av-worker";

const INFO: u8 = b'I';
const FRAME: u8 = b'F';
const DONE: u8 = b'D';
const ERROR: u8 = b'E';

/// Largest message the caller accepts: a frame of the largest allowed size and then some.
const MAX_MESSAGE: u32 = 1 << 31;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The worker's main loop: serves requests until its stdin closes. Returns the exit code.
pub fn run_worker() -> i32 {
    use std::os::fd::AsFd;
    let Ok(fd) = std::io::stdout().as_fd().try_clone_to_owned() else {
        return 2;
    };
    let mut out = std::fs::File::from(fd);
    let loaded = ward_av::load();
    let mut open: Option<ward_av::Decoder> = None;
    let mut msg = Vec::new();
    // The header, then the body as it is (a frame is not copied once more).
    let send = |out: &mut std::fs::File, head: &mut Vec<u8>, kind: u8, body: &[u8]| {
        head.clear();
        head.push(kind);
        head.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.write_all(head)?;
        out.write_all(body)
    };
    let send_json = |out: &mut std::fs::File, msg: &mut Vec<u8>, kind: u8, v: Value| {
        send(out, msg, kind, v.to_string().as_bytes())
    };
    let mut frame = Vec::new();
    for line in std::io::stdin().lock().split(b'\n') {
        let Ok(line) = line else { break };
        let Ok(req) = serde_json::from_slice::<Value>(&line) else {
            return 2;
        };
        let sent = match req["op"].as_str() {
            Some("open") => {
                open = None;
                if let Err(e) = &loaded {
                    send_json(
                        &mut out,
                        &mut msg,
                        ERROR,
                        json!({"kind": "unavailable", "message": e}),
                    )
                } else {
                    if let Some(m) = req["memory"].as_u64() {
                        ward_av::set_memory_limit(m);
                    }
                    let path = req["path"].as_str().and_then(unhex).unwrap_or_default();
                    let demuxer = req["demuxer"].as_str().unwrap_or("");
                    let threads = req["threads"].as_u64().unwrap_or(1) as u32;
                    let probe_only = req["probe_only"].as_bool().unwrap_or(true);
                    match ward_av::Decoder::open(&path, demuxer, threads, probe_only) {
                        Ok(d) => {
                            let v = probe_json(&d.info);
                            if !probe_only {
                                open = Some(d);
                            }
                            send_json(&mut out, &mut msg, INFO, v)
                        }
                        Err(e) => send_json(&mut out, &mut msg, ERROR, open_error_json(&e)),
                    }
                }
            }
            Some("decode") => match open.take() {
                None => send_json(
                    &mut out,
                    &mut msg,
                    ERROR,
                    json!({"kind": "protocol", "message": "nothing open"}),
                ),
                Some(mut d) => {
                    if let Some(m) = req["memory"].as_u64() {
                        ward_av::set_memory_limit(m);
                    }
                    let interval = req["interval"].as_u64().unwrap_or(1).max(1);
                    let r: Vec<u32> = req["rect"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_u64())
                                .map(|x| x as u32)
                                .collect()
                        })
                        .unwrap_or_default();
                    let rect = match r[..] {
                        [x, y, w, h] => (x, y, w, h),
                        _ => (0, 0, d.info.width, d.info.height),
                    };
                    let (w, h) = (d.info.width, d.info.height);
                    d.skip_unhashed(interval);
                    let mut count: u64 = 0;
                    let end = loop {
                        match d.next_frame() {
                            Ok(Some(f)) => {
                                // Skipping frames: each comes with its index.
                                let n = match f.index {
                                    Some(i) => i,
                                    None => {
                                        count += 1;
                                        count - 1
                                    }
                                };
                                if n.is_multiple_of(interval) {
                                    frame.clear();
                                    frame.extend_from_slice(&n.to_le_bytes());
                                    if f.width != w
                                        || f.height != h
                                        || !f.copy_yuv420(rect, &mut frame)
                                    {
                                        break json!({"kind": "changed", "message": format!(
                                            "frame {n} is {}x{}{}, not {w}x{h} yuv420p",
                                            f.width, f.height, if f.yuv420p { " yuv420p" } else { "" })});
                                    }
                                    if send(&mut out, &mut msg, FRAME, &frame).is_err() {
                                        return 0;
                                    }
                                }
                            }
                            Ok(None) => break Value::Null,
                            Err(ward_av::NextError::Inexact(e)) => {
                                break json!({"kind": "changed", "message": e})
                            }
                            Err(ward_av::NextError::Failed(e)) => {
                                break json!({"kind": "failed", "message": e})
                            }
                        }
                    };
                    drop(d);
                    if end.is_null() {
                        send_json(
                            &mut out,
                            &mut msg,
                            DONE,
                            json!({
                                "partial_file": ward_av::partial_file(),
                                "error": ward_av::last_error(),
                            }),
                        )
                    } else {
                        send_json(&mut out, &mut msg, ERROR, end)
                    }
                }
            },
            _ => return 2,
        };
        if sent.is_err() {
            return 0;
        }
    }
    0
}

fn rate((n, d): (i32, i32)) -> String {
    format!("{n}/{d}")
}

/// The stream facts in ffprobe's JSON shape, so that one function checks both.
fn probe_json(i: &ward_av::Info) -> Value {
    let mut s = json!({
        "index": i.stream_index,
        "codec_type": "video",
        "codec_name": i.codec,
        "width": i.width,
        "height": i.height,
        "avg_frame_rate": rate(i.avg_frame_rate),
        "r_frame_rate": rate(i.r_frame_rate),
    });
    if !i.pix_fmt.is_empty() {
        s["pix_fmt"] = json!(i.pix_fmt);
    }
    if let Some(d) = i.duration {
        s["duration"] = json!(format!("{d:.6}"));
    }
    if let Some(n) = i.frame_count {
        s["nb_frames"] = json!(n.to_string());
    }
    json!({"streams": [s], "format": {"format_name": i.container}})
}

fn open_error_json(e: &ward_av::OpenError) -> Value {
    match e {
        ward_av::OpenError::Unavailable(m) => json!({"kind": "unavailable", "message": m}),
        ward_av::OpenError::Failed(m) => json!({"kind": "failed", "message": m}),
        ward_av::OpenError::NoVideoStream(kinds) => json!({"kind": "no-video", "kinds": kinds}),
        ward_av::OpenError::NoDecoder(i) => {
            // ffprobe names the codec but gives no pixel format: the caller's check says so.
            let mut v = probe_json(i);
            v["streams"][0].as_object_mut().map(|s| s.remove("pix_fmt"));
            json!({"kind": "no-decoder", "probe": v})
        }
    }
}

/// A message from a worker, as its reader thread saw it.
pub(crate) enum Msg {
    /// `I`: the stream facts (ffprobe's JSON shape).
    Info(Value),
    /// `F`: a selected frame's index and packed planes.
    Frame(u64, Vec<u8>),
    /// `D`: the end of a decode.
    Done(Value),
    /// `E`: an error object.
    Error(Value),
    /// The worker is gone or spoke nonsense.
    Gone(String),
}

/// A running worker: its stdin, and a thread reading its stdout into messages.
pub(crate) struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Msg>,
    free: Sender<Vec<u8>>,
    program: PathBuf,
}

static POOL: Mutex<Vec<Worker>> = Mutex::new(Vec::new());

static FALLBACKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many passes of this process a worker handed back to ffmpeg (a frame it could not
/// send exactly, or frame indices it could not vouch for while skipping frames).
pub fn fallbacks() -> u64 {
    FALLBACKS.load(std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn count_fallback() {
    FALLBACKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Ends the idle workers: their stdin closes, they exit, and are reaped (so that their CPU
/// time is counted as this process's children's). For the end of a command.
pub fn shutdown() {
    let idle = match POOL.lock() {
        Ok(mut pool) => std::mem::take(&mut *pool),
        Err(_) => return,
    };
    for mut w in idle {
        drop(w.stdin.take());
        let _ = w.child.wait();
    }
}

impl Worker {
    /// An idle worker of `program` from the pool, or a new one.
    pub(crate) fn checkout(program: &Path) -> Result<Worker, MediaError> {
        if let Ok(mut pool) = POOL.lock() {
            if let Some(i) = pool.iter().position(|w| w.program == program) {
                let mut w = pool.swap_remove(i);
                // One that died while idle (killed from outside) is replaced.
                if matches!(w.child.try_wait(), Ok(None)) {
                    return Ok(w);
                }
            }
        }
        Self::spawn(program)
    }

    fn spawn(program: &Path) -> Result<Worker, MediaError> {
        let mut child = Command::new(program)
            .arg(WORKER_ARG)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| MediaError::FfmpegMissing {
                program: program.display().to_string(),
                source,
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(MediaError::Ffmpeg(
                "the decoding worker has no pipes".to_owned(),
            ));
        };
        #[cfg(target_os = "linux")]
        let _ = rustix::pipe::fcntl_setpipe_size(&stdout, 1 << 20);
        // A few frames ahead of the hashing; buffers come back through `free`.
        let (tx, rx) = mpsc::sync_channel::<Msg>(4);
        let (free, free_rx) = mpsc::channel::<Vec<u8>>();
        thread::spawn(move || read_messages(stdout, &tx, &free_rx));
        Ok(Worker {
            child,
            stdin: Some(stdin),
            rx,
            free,
            program: program.to_owned(),
        })
    }

    /// Back to the pool, ready for the next file.
    pub(crate) fn checkin(self) {
        if let Ok(mut pool) = POOL.lock() {
            pool.push(self);
        }
    }

    pub(crate) fn send(&mut self, req: &Value) -> Result<(), MediaError> {
        let mut line = req.to_string();
        line.push('\n');
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| MediaError::Ffmpeg("the decoding worker is shut down".to_owned()))?;
        stdin
            .write_all(line.as_bytes())
            .map_err(|e| MediaError::Ffmpeg(format!("the decoding worker is gone: {e}")))
    }

    /// The next message, or `None` at the deadline.
    pub(crate) fn recv(&self, deadline: Instant) -> Option<Msg> {
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        match self.rx.recv_timeout(deadline - now) {
            Ok(m) => Some(m),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Some(Msg::Gone("the decoding worker exited".to_owned()))
            }
        }
    }

    /// Gives a frame buffer back for reuse.
    pub(crate) fn recycle(&self, buf: Vec<u8>) {
        let _ = self.free.send(buf);
    }
}

fn read_messages(mut pipe: impl Read, tx: &SyncSender<Msg>, free: &Receiver<Vec<u8>>) {
    loop {
        let mut head = [0u8; 5];
        if let Err(e) = pipe.read_exact(&mut head) {
            let _ = tx.send(Msg::Gone(format!("the decoding worker exited ({e})")));
            return;
        }
        let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
        if len > MAX_MESSAGE || (head[0] == FRAME && len < 8) {
            let _ = tx.send(Msg::Gone(format!("a {len}-byte message")));
            return;
        }
        let len = len as usize;
        let msg = if head[0] == FRAME {
            let mut index = [0u8; 8];
            let mut buf = free.try_recv().unwrap_or_default();
            buf.resize(len - 8, 0);
            if pipe
                .read_exact(&mut index)
                .and_then(|()| pipe.read_exact(&mut buf))
                .is_err()
            {
                let _ = tx.send(Msg::Gone("the decoding worker exited mid-frame".to_owned()));
                return;
            }
            Msg::Frame(u64::from_le_bytes(index), buf)
        } else {
            let mut body = vec![0u8; len];
            if pipe.read_exact(&mut body).is_err() {
                let _ = tx.send(Msg::Gone(
                    "the decoding worker exited mid-message".to_owned(),
                ));
                return;
            }
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            match head[0] {
                INFO => Msg::Info(v),
                DONE => Msg::Done(v),
                ERROR => Msg::Error(v),
                k => Msg::Gone(format!("a message of kind {k}")),
            }
        };
        if tx.send(msg).is_err() {
            return;
        }
    }
}

/// The open request for `url` (`file:` and an absolute path).
pub(crate) fn open_request(
    url: &std::ffi::OsStr,
    demuxer: &str,
    threads: u32,
    probe_only: bool,
    memory: u64,
) -> Value {
    use std::os::unix::ffi::OsStrExt;
    json!({
        "op": "open",
        "path": hex(url.as_bytes()),
        "demuxer": demuxer,
        "threads": threads,
        "probe_only": probe_only,
        "memory": memory,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_survive_hex() {
        let p = b"/tmp/a b\n\xff.mp4";
        assert_eq!(unhex(&hex(p)).as_deref(), Some(&p[..]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
