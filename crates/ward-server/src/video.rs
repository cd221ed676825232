//! Videos in the service: uploads told apart from images by their bytes, hashed by
//! ward-media's bounded ffmpeg child, matched against the vPDQ bank entries.
//!
//! An uploaded video is written to a private temporary file beside the database (ffmpeg
//! reads files, not pipes, so that it can seek in MP4s whose index is at the end), hashed,
//! and the file removed whatever happens. Decoding is bounded by the request's own time
//! limit (ffmpeg is killed when it passes), ward-media's memory and frame-size limits, and
//! the same hashing slots as images (503 past them).
//!
//! Uploads to be matched are hashed at **every frame** (seconds per hash 0): bank videos
//! carry the field's one-a-second samples, and a re-upload cut at an arbitrary instant needs
//! denser samples to meet them (see DESIGN.md and `ward match`). Hashes for banks and for
//! HMA's `/h/hash` follow the field's convention, one frame a second. The vPDQ index is ward-engine's
//! ([`Ward::match_vpdq`]), behind a mutex: matching is quick next to decoding, and the
//! engine rebuilds its frame index only when the store's change sequence has moved.

use std::sync::Mutex;

use ward_engine::ward_store::Store;
use ward_engine::{VideoMatch, VideoMatchOptions, Ward};
use ward_media::{MediaError, VideoOptions, VideoSignals};
use ward_pdq::vpdq::VpdqFrame;

use crate::error::{ApiError, ErrorKind};
use crate::AppState;

/// Derived vPDQ of a video, by kind.
pub(crate) type DerivedVpdq = Vec<(&'static str, Vec<VpdqFrame>)>;

/// The video side of the server state.
#[derive(Default)]
pub(crate) struct VideoState {
    /// The engine that holds the vPDQ frame index, opened on the first video.
    engine: Mutex<Option<Ward>>,
}

/// Whether `bytes` start a video container ward hands to ffmpeg.
pub(crate) fn is_video(bytes: &[u8]) -> bool {
    ward_media::sniff_video(&bytes[..bytes.len().min(512)]).is_some()
}

impl AppState {
    /// Hashes an uploaded video: vPDQ at `seconds_per_hash` (0: every frame, for matching;
    /// 1: the bank convention), MD5 and SHA-256.
    /// With `remove_letterbox`, the content inside letterbox or pillarbox bars is hashed
    /// too (for matching; banks keep the plain hashes).
    pub(crate) async fn hash_video(
        &self,
        bytes: Vec<u8>,
        seconds_per_hash: f64,
        remove_letterbox: bool,
    ) -> Result<VideoSignals, ApiError> {
        Ok(self
            .hash_video_with(bytes, seconds_per_hash, remove_letterbox, &[])
            .await?
            .0)
    }

    /// [`Self::hash_video`] and, for a bank entry, the derived vPDQ of `derived` (names of
    /// `ward_media::VIDEO_DERIVED_KINDS`) from the same temporary file.
    pub(crate) async fn hash_video_with(
        &self,
        bytes: Vec<u8>,
        seconds_per_hash: f64,
        remove_letterbox: bool,
        derived: &'static [&'static str],
    ) -> Result<(VideoSignals, DerivedVpdq), ApiError> {
        let slot = self.hashing_slot()?;
        let config = self.config();
        let dir = config
            .db
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(
                || std::path::PathBuf::from("."),
                std::path::Path::to_path_buf,
            );
        let opts = VideoOptions {
            max_bytes: config.max_body_bytes as u64,
            // No longer than the request may take: ffmpeg does not outlive its caller.
            timeout: config.request_timeout,
            seconds_per_hash,
            remove_letterbox,
            ..VideoOptions::default()
        };
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let mut file = tempfile::Builder::new()
                .prefix(".ward-upload-")
                .tempfile_in(&dir)
                .map_err(|e| {
                    ApiError::internal(format!("temporary file in {}: {e}", dir.display()))
                })?;
            std::io::Write::write_all(&mut file, &bytes)
                .map_err(|e| ApiError::internal(format!("writing the upload: {e}")))?;
            // Removed when `file` drops, on every path.
            let signals = ward_media::hash_video_file(file.path(), &opts).map_err(video_error)?;
            let derived = if derived.is_empty() {
                Vec::new()
            } else {
                ward_media::derived_vpdq(file.path(), &opts, derived).map_err(video_error)?
            };
            Ok((signals, derived))
        })
        .await?
    }

    /// The active vPDQ bank entries `frames` matches, with segments and a verdict.
    pub(crate) async fn match_video(
        &self,
        frames: Vec<VpdqFrame>,
    ) -> Result<Vec<VideoMatch>, ApiError> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = state
                .inner
                .video
                .engine
                .lock()
                .map_err(|_| ApiError::internal("video engine lock poisoned"))?;
            if guard.is_none() {
                *guard = Some(Ward::new(Store::open(&state.config().db)?));
            }
            let engine = guard
                .as_mut()
                .ok_or_else(|| ApiError::internal("video engine missing"))?;
            Ok(engine.match_vpdq(&frames, &VideoMatchOptions::default())?)
        })
        .await?
    }
}

/// Media errors of a video upload: the file's fault is a 400, a missing ffmpeg is ours.
fn video_error(e: MediaError) -> ApiError {
    match e {
        MediaError::FfmpegMissing { .. } => ApiError::internal(e),
        MediaError::Timeout { .. } => ApiError::new(
            ErrorKind::Timeout,
            format!("{e} (the request time limit bounds video decoding)"),
        ),
        other => other.into(),
    }
}
