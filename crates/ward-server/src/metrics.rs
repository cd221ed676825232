//! Request counters and latency histograms, written out in Prometheus' text format.
//!
//! Counters are atomics behind a read-mostly lock: a request takes the read lock to find its
//! route's counters and bumps atomics; only the first request of a route takes the write lock. Routes
//! are the router's patterns (`/c/bank/{name}`), never raw paths, so a caller cannot grow the
//! table by inventing URLs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Counters of one route: a slot per status code (100 to 599) and a latency histogram, all
/// atomics, so recording takes no lock once the route is known.
struct RouteStats {
    statuses: Box<[AtomicU64]>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl RouteStats {
    fn new() -> Self {
        RouteStats {
            statuses: (100..600).map(|_| AtomicU64::new(0)).collect(),
            buckets: Default::default(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

/// The server's metrics.
#[derive(Default)]
pub struct Metrics {
    routes: RwLock<BTreeMap<String, Arc<RouteStats>>>,
}

impl Metrics {
    /// Records one finished request.
    pub fn record(&self, route: &str, status: u16, elapsed: Duration) {
        let stats = self.route(route);
        if let Some(c) = stats.statuses.get(usize::from(status).wrapping_sub(100)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let secs = elapsed.as_secs_f64();
        // Cumulative buckets are summed at export; here each request lands in one.
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            stats.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        stats.count.fetch_add(1, Ordering::Relaxed);
        stats
            .sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }

    fn route(&self, route: &str) -> Arc<RouteStats> {
        if let Ok(m) = self.routes.read() {
            if let Some(s) = m.get(route) {
                return Arc::clone(s);
            }
        }
        match self.routes.write() {
            Ok(mut m) => Arc::clone(
                m.entry(route.to_owned())
                    .or_insert_with(|| Arc::new(RouteStats::new())),
            ),
            Err(_) => Arc::new(RouteStats::new()),
        }
    }

    /// The Prometheus text exposition, with `gauges` (name, help, value) appended.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let routes: Vec<(String, Arc<RouteStats>)> = match self.routes.read() {
            Ok(m) => m.iter().map(|(k, v)| (escape(k), Arc::clone(v))).collect(),
            Err(_) => Vec::new(),
        };
        let mut out = String::new();
        out.push_str("# HELP ward_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE ward_http_requests_total counter\n");
        for (route, s) in &routes {
            for (i, c) in s.statuses.iter().enumerate() {
                let n = c.load(Ordering::Relaxed);
                if n > 0 {
                    let status = i + 100;
                    let _ = writeln!(
                        out,
                        "ward_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                    );
                }
            }
        }
        out.push_str(
            "# HELP ward_http_request_duration_seconds Time from request to response, by route.\n",
        );
        out.push_str("# TYPE ward_http_request_duration_seconds histogram\n");
        for (route, h) in &routes {
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += h.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "ward_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let count = h.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "ward_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "ward_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "ward_http_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            );
        }
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
