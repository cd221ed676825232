//! `ward serve`: the HTTP service.

use anyhow::Context;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use ward_server::{AppState, ServerConfig};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the address is printed on start).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: SocketAddr,
    /// Largest request body in bytes (413 above).
    #[arg(long, default_value_t = 64 << 20, value_name = "N")]
    max_body_bytes: usize,
    /// Longest a request may take in seconds, reading its body included (408 after).
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    request_timeout: f64,
    /// Requests served at once; more get 503 at once instead of waiting in a queue.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    max_in_flight: usize,
    /// Seconds a connection may take to send a request's headers (also how long an idle
    /// keep-alive connection stays open).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    header_timeout: f64,
    /// A host that `url=` parameters (HMA's `GET /h/hash?url=`, `/m/lookup?url=`, bank
    /// content) may fetch from, as `host` (the scheme's default port) or `host:port`;
    /// repeat for more. Redirects are checked against the same list. None given: no URL is
    /// ever fetched.
    #[arg(long = "fetch-allow-host", value_name = "HOST")]
    fetch_allow_hosts: Vec<String>,
    /// Connections served at once; more are closed at once.
    #[arg(long, default_value_t = 4096, value_name = "N")]
    max_connections: usize,
    /// Uploads hashed at once (default: 4 per core); more get 503.
    #[arg(long, value_name = "N")]
    max_hashing: Option<usize>,
    /// Seconds between polls of the database for changes made by other processes.
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    poll_interval: f64,
    /// PDQ match threshold (Hamming distance, inclusive).
    #[arg(long, default_value_t = 31, value_name = "BITS")]
    threshold: u32,
    /// Refuse images with more pixels than this.
    #[arg(long, default_value_t = 200_000_000, value_name = "N")]
    max_pixels: u64,
    /// Worker threads for the async runtime (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Log level: error, warn, info, debug (one line per request), trace. RUST_LOG is read
    /// when this is not given.
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
    /// Folder where the bytes of uploads that matched are kept, by SHA-256, as evidence and
    /// for review (default: `media/` beside the database). Uploads that match nothing are
    /// not kept.
    #[arg(long, value_name = "DIR")]
    media_dir: Option<std::path::PathBuf>,
    /// Post every decision (and auto-quarantine) to this URL, signed with HMAC-SHA256;
    /// retried until it answers 2xx, across restarts. Needs a secret.
    #[arg(long, value_name = "URL")]
    webhook_url: Option<String>,
    /// File holding the webhook signing secret (or set WARD_WEBHOOK_SECRET).
    #[arg(long, value_name = "FILE")]
    webhook_secret_file: Option<std::path::PathBuf>,
    /// Review page: how strongly uploads are blurred until the reviewer reveals them, in
    /// pixels (0 to 64). Each reviewer may choose their own in the page's settings.
    #[arg(long, default_value_t = 24, value_name = "PX")]
    review_blur: u32,
    /// Review page: show uploads in greyscale until revealed.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    review_greyscale: bool,
    /// Review page: start videos (muted) when a case opens.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, value_name = "BOOL")]
    review_autoplay: bool,
}

/// The webhook URL and its secret: from `--webhook-secret-file`, else `WARD_WEBHOOK_SECRET`.
fn webhook_config(args: &ServeArgs) -> anyhow::Result<Option<ward_server::WebhookConfig>> {
    let Some(url) = args.webhook_url.clone() else {
        anyhow::ensure!(
            args.webhook_secret_file.is_none(),
            "--webhook-secret-file needs --webhook-url"
        );
        return Ok(None);
    };
    anyhow::ensure!(
        url.starts_with("http://") || url.starts_with("https://"),
        "--webhook-url must start with http:// or https://, not '{url}'"
    );
    let secret = match &args.webhook_secret_file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the webhook secret from {}", path.display()))?
            .trim_end_matches(['\r', '\n'])
            .to_owned(),
        None => std::env::var("WARD_WEBHOOK_SECRET").map_err(|_| {
            anyhow::anyhow!(
                "--webhook-url needs a signing secret: --webhook-secret-file FILE or WARD_WEBHOOK_SECRET"
            )
        })?,
    };
    anyhow::ensure!(
        secret.len() >= 16,
        "the webhook secret must be at least 16 characters"
    );
    Ok(Some(ward_server::WebhookConfig {
        url,
        secret: secret.into_bytes(),
    }))
}

fn secs(name: &str, v: f64) -> anyhow::Result<Duration> {
    anyhow::ensure!(
        v.is_finite() && v > 0.0,
        "{name} must be a positive number of seconds"
    );
    Ok(Duration::from_secs_f64(v))
}

pub fn run(args: ServeArgs, db: &Path) -> anyhow::Result<ExitCode> {
    let level = args
        .log_level
        .clone()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".to_owned());
    let level: tracing::Level = level.parse().map_err(|_| {
        anyhow::anyhow!("--log-level must be error, warn, info, debug or trace, not '{level}'")
    })?;
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let mut config = ServerConfig::new(db.to_owned());
    config.max_body_bytes = args.max_body_bytes;
    config.decode.max_bytes = args.max_body_bytes as u64;
    config.decode.max_pixels = args.max_pixels;
    config.request_timeout = secs("--request-timeout", args.request_timeout)?;
    config.poll_interval = secs("--poll-interval", args.poll_interval)?;
    config.max_in_flight = args.max_in_flight.max(1);
    config.header_read_timeout = secs("--header-timeout", args.header_timeout)?;
    config.max_connections = args.max_connections.max(1);
    config.fetch_allow_hosts = args.fetch_allow_hosts.clone();
    if let Some(n) = args.max_hashing {
        config.max_hashing = n.max(1);
    }
    config.pdq_threshold = args.threshold;
    config.media_dir = args.media_dir.clone();
    config.webhook = webhook_config(&args)?;
    config.review = ward_server::ReviewDefaults {
        blur_px: args.review_blur,
        greyscale: args.review_greyscale,
        autoplay: args.review_autoplay,
    };
    config
        .review
        .validate()
        .map_err(|e| anyhow::anyhow!("--review-blur: {e}"))?;

    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = args.threads {
        anyhow::ensure!(n > 0, "--threads must be at least 1");
        rt.worker_threads(n);
    }
    let rt = rt.build().context("cannot start the async runtime")?;
    rt.block_on(async move {
        let state = tokio::task::spawn_blocking(move || AppState::open(config))
            .await?
            .with_context(|| format!("cannot open {}", db.display()))?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, db = %db.display(), "ward serve listening");
        // The first line on stdout is the address, for scripts and tests that pass port 0.
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
        drop(out);
        ward_server::serve(listener, state, ward_server::shutdown_signal()).await?;
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
