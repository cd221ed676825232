//! The server's shared state: the store, the current index snapshot, tokens, limits.
//!
//! Reads never wait for a lock held across work: the snapshot sits behind an
//! `RwLock<Arc<Snapshot>>` that is held only to clone the `Arc`; a refresh builds the next
//! snapshot beside the current one and swaps it in. SQLite work runs on tokio's blocking
//! pool: writes through one connection (SQLite has one writer anyway), reads through a small
//! pool of connections (WAL lets them run beside the writer).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use ward_engine::ward_store::{BankSettings, Store, StoreError};
use ward_engine::PdqSnapshot;
use ward_media::{DecodeOptions, HashOptions, ImageSignals};

use crate::auth::{load_tokens, TokenMap};
use crate::error::{ApiError, ErrorKind};
use crate::metrics::Metrics;

/// How the server runs. Built by the binary from flags; every field has a default.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The database file.
    pub db: PathBuf,
    /// Largest request body, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// Longest a request may take, body upload included (408 after it).
    pub request_timeout: Duration,
    /// Requests served at once; more are refused at once with 503 rather than queued.
    pub max_in_flight: usize,
    /// Longest a connection may take to send a request's headers, counted from when the
    /// server starts waiting for them (so an idle keep-alive connection is closed after it
    /// too). Slow-header clients cannot hold connections open.
    pub header_read_timeout: Duration,
    /// Connections served at once; one more is closed at once.
    pub max_connections: usize,
    /// Uploads hashed at once (decoding is the costly part); more get 503.
    pub max_hashing: usize,
    /// How often the store's change sequence is polled for changes made by other processes
    /// (`ward bank import` while the server runs).
    pub poll_interval: Duration,
    /// PDQ match threshold (Hamming distance, inclusive).
    pub pdq_threshold: u32,
    /// Image decoding limits.
    pub decode: DecodeOptions,
    /// Hosts that `GET /h/hash?url=` may fetch from. Empty: no URL is fetched (HMA fetches
    /// any URL by default, which is a server-side request forgery hole).
    pub fetch_allow_hosts: Vec<String>,
    /// Where the bytes of matched uploads are kept, by SHA-256 (default: `media/` beside the
    /// database). Uploads that match nothing are not kept.
    pub media_dir: Option<PathBuf>,
    /// Where decisions are posted (signed), if anywhere; they can also be polled.
    pub webhook: Option<crate::webhooks::WebhookConfig>,
    /// The review page's wellness defaults (blur, greyscale, autoplay) that each reviewer may
    /// override for themselves.
    pub review: crate::review::ReviewDefaults,
}

impl ServerConfig {
    /// Defaults for a database file.
    pub fn new(db: PathBuf) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        ServerConfig {
            db,
            max_body_bytes: 64 << 20,
            request_timeout: Duration::from_secs(30),
            max_in_flight: 1024,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_hashing: cores * 4,
            poll_interval: Duration::from_secs(1),
            pdq_threshold: 31,
            decode: DecodeOptions {
                max_bytes: 64 << 20,
                ..DecodeOptions::default()
            },
            fetch_allow_hosts: Vec::new(),
            media_dir: None,
            webhook: None,
            review: crate::review::ReviewDefaults::default(),
        }
    }
}

/// A bank as lookups need it.
#[derive(Clone, Debug)]
pub struct BankInfo {
    /// Name.
    pub name: String,
    /// HMA's matching ratio.
    pub ratio: f64,
}

/// Everything a lookup reads, at one change sequence.
#[derive(Debug)]
pub struct Snapshot {
    /// The PDQ index.
    pub pdq: PdqSnapshot,
    /// Live banks by id.
    pub banks: HashMap<i64, BankInfo>,
    /// Live bank ids by name.
    pub bank_ids: HashMap<String, i64>,
}

impl Snapshot {
    fn new(pdq: PdqSnapshot, settings: Vec<BankSettings>) -> Self {
        let mut banks = HashMap::new();
        let mut bank_ids = HashMap::new();
        for b in settings {
            bank_ids.insert(b.name.clone(), b.id);
            banks.insert(
                b.id,
                BankInfo {
                    name: b.name,
                    ratio: b.matching_enabled_ratio,
                },
            );
        }
        Snapshot {
            pdq,
            banks,
            bank_ids,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) config: ServerConfig,
    writer: Mutex<Store>,
    readers: Mutex<Vec<Store>>,
    snapshot: RwLock<Arc<Snapshot>>,
    tokens: RwLock<Arc<TokenMap>>,
    refresh_lock: Mutex<()>,
    /// Unix seconds of the last successful poll of the store (for `/status`).
    last_poll: AtomicI64,
    pub(crate) metrics: Metrics,
    pub(crate) in_flight: Arc<Semaphore>,
    pub(crate) hashing: Arc<Semaphore>,
    /// Video hashing and the vPDQ index.
    pub(crate) video: crate::video::VideoState,
    pub(crate) started: Instant,
    pub(crate) webhooks: crate::webhooks::Webhooks,
    /// Fetches `url=` media from the allowlisted hosts only.
    pub(crate) fetcher: crate::fetch::Fetcher,
}

/// The state every handler gets: cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Building the index failed.
    #[error(transparent)]
    Engine(#[from] ward_engine::EngineError),
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl AppState {
    /// Opens the store (creating and migrating it as the CLI does) and loads the indexes.
    /// Blocking: call it before starting to serve, or on a blocking thread.
    pub fn open(config: ServerConfig) -> Result<AppState, StartError> {
        let writer = Store::open(&config.db)?;
        let t = Instant::now();
        let pdq = PdqSnapshot::load(&writer)?;
        tracing::info!(
            hashes = pdq.active_len(),
            seq = pdq.seq(),
            millis = t.elapsed().as_millis() as u64,
            "PDQ index loaded"
        );
        let snapshot = Snapshot::new(pdq, writer.bank_settings()?);
        let tokens = load_tokens(&writer)?;
        if tokens.is_empty() {
            tracing::warn!("no API tokens: every request but /healthz will get 401 (create one with `ward token create`)");
        }
        let fetcher = crate::fetch::Fetcher::new(&config);
        let inner = Inner {
            fetcher,
            video: Default::default(),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            hashing: Arc::new(Semaphore::new(config.max_hashing.max(1))),
            config,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            snapshot: RwLock::new(Arc::new(snapshot)),
            tokens: RwLock::new(Arc::new(tokens)),
            refresh_lock: Mutex::new(()),
            last_poll: AtomicI64::new(unix_now()),
            metrics: Metrics::default(),
            started: Instant::now(),
            webhooks: Default::default(),
        };
        Ok(AppState {
            inner: Arc::new(inner),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// The current snapshot (a clone of an `Arc`; the lock is held for no longer).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.inner.snapshot.read() {
            Ok(s) => Arc::clone(&s),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub(crate) fn tokens(&self) -> Arc<TokenMap> {
        match self.inner.tokens.read() {
            Ok(t) => Arc::clone(&t),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Seconds since the last successful poll of the store.
    pub fn poll_age_secs(&self) -> i64 {
        unix_now() - self.inner.last_poll.load(Ordering::Relaxed)
    }

    /// Runs `f` with a read connection on the blocking pool.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let store = state.take_reader()?;
            let out = f(&store);
            if let Ok(mut pool) = state.inner.readers.lock() {
                pool.push(store);
            }
            out
        })
        .await?
    }

    /// Runs `f` with the write connection on the blocking pool, then brings the snapshot up
    /// to date, so the caller's next lookup sees the write.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let state = self.clone();
        let actor = crate::auth::current_actor().unwrap_or_else(|| "server".to_owned());
        tokio::task::spawn_blocking(move || {
            let out = {
                let mut store = state
                    .inner
                    .writer
                    .lock()
                    .map_err(|_| ApiError::internal("write connection lock poisoned"))?;
                // Functions that take no actor record this one in the audit log.
                store.set_actor(&actor);
                f(&mut store)
            };
            state.refresh_blocking().map_err(ApiError::from)?;
            out
        })
        .await?
    }

    fn take_reader(&self) -> Result<Store, ApiError> {
        let pooled = self.inner.readers.lock().ok().and_then(|mut p| p.pop());
        match pooled {
            Some(s) => Ok(s),
            None => Ok(Store::open(&self.inner.config.db)?),
        }
    }

    /// Brings the snapshot and the token table up to date with the store. Blocking. Returns
    /// whether the snapshot changed.
    pub fn refresh_blocking(&self) -> Result<bool, StoreError> {
        // One refresh at a time: two would build the same snapshot twice.
        let _guard = self.inner.refresh_lock.lock();
        let store = self.take_reader().map_err(|e| {
            StoreError::Invalid(format!("cannot open a read connection: {}", e.message()))
        })?;
        let result = self.refresh_with(&store);
        if let Ok(mut pool) = self.inner.readers.lock() {
            pool.push(store);
        }
        if result.is_ok() {
            self.inner.last_poll.store(unix_now(), Ordering::Relaxed);
        }
        result
    }

    fn refresh_with(&self, store: &Store) -> Result<bool, StoreError> {
        let tokens = load_tokens(store)?;
        if let Ok(mut t) = self.inner.tokens.write() {
            *t = Arc::new(tokens);
        }
        let current = self.snapshot();
        let next = match current.pdq.refreshed(store) {
            Ok(Some(next)) => next,
            Ok(None) => return Ok(false),
            Err(ward_engine::EngineError::Store(e)) => return Err(e),
            Err(e) => return Err(StoreError::Invalid(e.to_string())),
        };
        let t = Instant::now();
        let snapshot = Arc::new(Snapshot::new(next, store.bank_settings()?));
        tracing::info!(
            seq = snapshot.pdq.seq(),
            hashes = snapshot.pdq.active_len(),
            micros = t.elapsed().as_micros() as u64,
            "index refreshed"
        );
        if let Ok(mut s) = self.inner.snapshot.write() {
            *s = snapshot;
        }
        Ok(true)
    }

    /// One of the `max_hashing` slots for hashing an upload, taken without waiting: 503
    /// beyond them (a burst of uploads is shed, not queued without bound). Hold it until the
    /// hashing ends, even if the request timed out meanwhile.
    pub(crate) fn hashing_slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        self.inner.hashing.clone().try_acquire_owned().map_err(|_| {
            ApiError::new(
                ErrorKind::Overloaded,
                "too many uploads are being hashed; retry shortly",
            )
        })
    }

    /// Hashes an uploaded image on the blocking pool, in a hashing slot.
    pub(crate) async fn hash_image(&self, bytes: Vec<u8>) -> Result<ImageSignals, ApiError> {
        let extra = ward_media::ExtraOptions {
            regions: None,
            derived: false,
        };
        Ok(self.hash_image_extra(bytes, extra).await?.0)
    }

    /// Hashes an image to be added to a bank: its signals and its derived hashes (crops,
    /// small rotations) from the same decode.
    pub(crate) async fn hash_image_for_bank(
        &self,
        bytes: Vec<u8>,
    ) -> Result<(ImageSignals, ward_media::ImageExtras), ApiError> {
        let extra = ward_media::ExtraOptions {
            regions: None,
            derived: true,
        };
        self.hash_image_extra(bytes, extra).await
    }

    /// Hashes an upload as [`AppState::hash_image`] does, plus the query candidates of
    /// edit-robust matching (the whole image's dihedrals, content inside borders, without a
    /// caption band, the photo inside a screenshot) from the same decode.
    pub(crate) async fn hash_image_normalised(
        &self,
        bytes: Vec<u8>,
    ) -> Result<(ImageSignals, Vec<ward_media::regions::Candidate>), ApiError> {
        let extra = ward_media::ExtraOptions {
            regions: Some(ward_media::regions::RegionOptions::default()),
            derived: false,
        };
        let (signals, extras) = self.hash_image_extra(bytes, extra).await?;
        Ok((signals, extras.candidates))
    }

    /// An image's signals and the `extra` hashes asked for, on the blocking pool, in a
    /// hashing slot.
    async fn hash_image_extra(
        &self,
        bytes: Vec<u8>,
        extra: ward_media::ExtraOptions,
    ) -> Result<(ImageSignals, ward_media::ImageExtras), ApiError> {
        let slot = self.hashing_slot()?;
        let opts = HashOptions {
            decode: self.inner.config.decode.clone(),
            dihedral: false,
        };
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            ward_media::hash_bytes_extra(&bytes, &opts, &extra)
        })
        .await?
        .map_err(ApiError::from)
    }

    /// Starts the background poll that picks up changes made by other processes. It stops
    /// when the runtime does.
    pub fn spawn_poller(&self) {
        let state = self.clone();
        let every = self.inner.config.poll_interval;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let s = state.clone();
                match tokio::task::spawn_blocking(move || s.refresh_blocking()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "polling the store failed"),
                    Err(e) => tracing::error!(error = %e, "the poll task failed"),
                }
            }
        });
    }
}
