//! Server-wide measurements: Prometheus metrics (the `metrics` facade, exported
//! at `GET /metrics`) and a tick-duration window for load tests (`/v1/stats`).

use crate::tick::{TickObserver, TickReport};
use hdrhistogram::Histogram;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The process's Prometheus recorder, installed on first use. Metrics are
/// process-wide, as Prometheus expects of one process.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
                &[
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                ],
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Suffix("_bytes".into()),
                    &[
                        8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0, 16384.0,
                    ],
                )
            })
            .expect("bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (an embedding application's);
        // then ours stays empty and theirs gets the data.
        let _ = metrics::set_global_recorder(recorder);
        describe();
        handle
    })
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_gauge!("tickwire_players", "Players connected and in a match");
    describe_gauge!("tickwire_matches", "Live matches");
    describe_histogram!(
        "tickwire_tick_duration_seconds",
        Unit::Seconds,
        "Time one match tick takes"
    );
    describe_counter!(
        "tickwire_tick_overruns_total",
        "Tick deadlines missed and skipped"
    );
    describe_counter!(
        "tickwire_inputs_received_total",
        "Inputs decoded from clients"
    );
    describe_counter!("tickwire_inputs_dropped_total", "Inputs dropped, by reason");
    describe_counter!(
        "tickwire_snapshots_sent_total",
        "Snapshots sent, by kind (full or delta)"
    );
    describe_counter!(
        "tickwire_snapshots_stale_total",
        "Snapshots skipped because a newer one was ready"
    );
    describe_counter!(
        "tickwire_bytes_in_total",
        Unit::Bytes,
        "WebSocket message payload bytes received"
    );
    describe_counter!(
        "tickwire_bytes_out_total",
        Unit::Bytes,
        "WebSocket message payload bytes sent"
    );
    describe_histogram!(
        "tickwire_snapshot_payload_bytes",
        Unit::Bytes,
        "Size of each snapshot message"
    );
    describe_counter!(
        "tickwire_connection_closes_total",
        "Connections closed, by reason"
    );
    describe_counter!(
        "tickwire_handshake_refusals_total",
        "Upgrades refused before the WebSocket, by reason"
    );
    describe_counter!(
        "tickwire_panics_total",
        "Panics caught, by where (match or connection)"
    );
    describe_counter!(
        "tickwire_pings_dropped_total",
        "Protocol pings over a player's rate, left unanswered"
    );
    describe_counter!(
        "tickwire_events_sent_total",
        "Game events (and results, gap notices) sent to connections"
    );
    describe_counter!(
        "tickwire_messages_denied_total",
        "Game messages refused, by who refused (role, rate, busy, game)"
    );
    describe_counter!(
        "tickwire_tick_stalls_total",
        "Ticks seen running past the tick watchdog bound"
    );
    describe_counter!(
        "tickwire_api_refusals_total",
        "HTTP API requests refused, by reason"
    );
}

/// Labelled series, by metric name and label, that exist from the start.
pub(crate) struct SeriesLabels {
    pub close_reasons: &'static [&'static str],
    pub handshake_refusals: &'static [&'static str],
    pub api_refusals: &'static [&'static str],
}

/// Registers every series at zero (histograms empty), so that dashboards and
/// alerts never see a missing series before the first event.
pub(crate) fn register_series(labels: &SeriesLabels) {
    use metrics::{counter, gauge, histogram};
    prometheus();
    gauge!("tickwire_players").set(0.0);
    gauge!("tickwire_matches").set(0.0);
    let _ = histogram!("tickwire_tick_duration_seconds");
    let _ = histogram!("tickwire_snapshot_payload_bytes");
    for name in [
        "tickwire_tick_overruns_total",
        "tickwire_tick_stalls_total",
        "tickwire_inputs_received_total",
        "tickwire_snapshots_stale_total",
        "tickwire_bytes_in_total",
        "tickwire_bytes_out_total",
        "tickwire_pings_dropped_total",
        "tickwire_events_sent_total",
        "tickwire_view_entities_deferred_total",
        "tickwire_view_frames_shared_total",
        // Cluster mode (zero on a single node, so dashboards need no special case).
        "tickwire_cluster_registrations_total",
        "tickwire_cluster_redis_errors_total",
        "tickwire_cluster_resubscribes_total",
        "tickwire_cluster_bus_undecodable_total",
        "tickwire_cluster_tickets_issued_total",
        "tickwire_cluster_ticket_fallbacks_total",
        "tickwire_cluster_redirects_total",
        "tickwire_cluster_drains_total",
        "tickwire_cluster_migrations_total",
        "tickwire_cluster_migrations_failed_total",
    ] {
        counter!(name).increment(0);
    }
    for state in ["fresh", "stale"] {
        counter!("tickwire_view_near_entities_total", "state" => state).increment(0);
    }
    for by in ["role", "rate", "busy", "game"] {
        counter!("tickwire_messages_denied_total", "by" => by).increment(0);
    }
    for reason in ["queue_full", "rate_limit"] {
        counter!("tickwire_inputs_dropped_total", "reason" => reason).increment(0);
    }
    for kind in ["full", "delta"] {
        counter!("tickwire_snapshots_sent_total", "kind" => kind).increment(0);
    }
    for place in ["match", "connection"] {
        counter!("tickwire_panics_total", "where" => place).increment(0);
    }
    for &reason in labels.close_reasons {
        counter!("tickwire_connection_closes_total", "reason" => reason).increment(0);
    }
    for &reason in labels.handshake_refusals {
        counter!("tickwire_handshake_refusals_total", "reason" => reason).increment(0);
    }
    for &reason in labels.api_refusals {
        counter!("tickwire_api_refusals_total", "reason" => reason).increment(0);
    }
}

/// Tick durations since the window began, and totals since the server started.
pub struct ServerStats {
    started: Instant,
    window: Mutex<Window>,
    ticks: AtomicU64,
    overruns: AtomicU64,
    /// Interest management and budgets, summed over the writers.
    pub interest: InterestStats,
}

/// What the writers' viewers counted (`tick::Viewer`), since the server
/// started; the stats window reports the difference since it began.
#[derive(Default)]
pub struct InterestStats {
    near_fresh: AtomicU64,
    near_total: AtomicU64,
    deferred: AtomicU64,
    shared: AtomicU64,
    /// The totals when the stats window began.
    window_start: Mutex<[u64; 4]>,
}

/// Interest figures of one stats window.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct InterestWindow {
    /// Of each view's 16 heaviest entries (the nearest, in the built-in
    /// games), the share up to date on the client after each frame; `null`
    /// without interest management or a budget.
    pub near16_coverage: Option<f64>,
    pub near16_samples: u64,
    /// Visible entities a budget left stale or not yet entered, per frame sent.
    pub deferred: u64,
    /// Per-client frames another client with the same baseline and view had
    /// already encoded.
    pub shared_frames: u64,
}

impl InterestStats {
    pub fn add(&self, c: crate::tick::ViewerCounts) {
        self.near_fresh.fetch_add(c.near_fresh, Ordering::Relaxed);
        self.near_total.fetch_add(c.near_total, Ordering::Relaxed);
        self.deferred.fetch_add(c.deferred, Ordering::Relaxed);
        self.shared.fetch_add(c.shared, Ordering::Relaxed);
        metrics::counter!("tickwire_view_near_entities_total", "state" => "fresh")
            .increment(c.near_fresh);
        metrics::counter!("tickwire_view_near_entities_total", "state" => "stale")
            .increment(c.near_total - c.near_fresh);
        metrics::counter!("tickwire_view_entities_deferred_total").increment(c.deferred);
        metrics::counter!("tickwire_view_frames_shared_total").increment(c.shared);
    }

    fn totals(&self) -> [u64; 4] {
        [
            self.near_fresh.load(Ordering::Relaxed),
            self.near_total.load(Ordering::Relaxed),
            self.deferred.load(Ordering::Relaxed),
            self.shared.load(Ordering::Relaxed),
        ]
    }

    /// The figures since the window began; with `restart`, a new one begins.
    pub fn window(&self, restart: bool) -> InterestWindow {
        let now = self.totals();
        let mut start = self.window_start.lock().unwrap_or_else(|e| e.into_inner());
        let d: Vec<u64> = now.iter().zip(start.iter()).map(|(n, s)| n - s).collect();
        if restart {
            *start = now;
        }
        InterestWindow {
            near16_coverage: (d[1] > 0).then(|| d[0] as f64 / d[1] as f64),
            near16_samples: d[1],
            deferred: d[2],
            shared_frames: d[3],
        }
    }
}

struct Window {
    started: Instant,
    /// Tick durations in microseconds.
    ticks: Histogram<u64>,
    overruns: u64,
}

impl Window {
    fn new() -> Self {
        Window {
            started: Instant::now(),
            // 3 significant digits up to 10 s: a few tens of KiB, one per server.
            ticks: Histogram::new_with_bounds(1, 10_000_000, 3).expect("valid histogram bounds"),
            overruns: 0,
        }
    }
}

/// Tick figures of one window, in milliseconds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TickWindow {
    pub window_s: f64,
    pub ticks: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub overruns: u64,
}

impl Default for ServerStats {
    fn default() -> Self {
        ServerStats {
            started: Instant::now(),
            window: Mutex::new(Window::new()),
            ticks: AtomicU64::new(0),
            overruns: AtomicU64::new(0),
            interest: InterestStats::default(),
        }
    }
}

impl ServerStats {
    /// The observer the tick threads call after every tick.
    pub fn tick_observer(self: &Arc<Self>) -> TickObserver {
        let stats = self.clone();
        prometheus();
        Arc::new(move |report: TickReport| stats.record(report))
    }

    fn record(&self, report: TickReport) {
        self.ticks.fetch_add(1, Ordering::Relaxed);
        metrics::histogram!("tickwire_tick_duration_seconds").record(report.duration.as_secs_f64());
        if report.overruns > 0 {
            self.overruns
                .fetch_add(u64::from(report.overruns), Ordering::Relaxed);
            metrics::counter!("tickwire_tick_overruns_total").increment(u64::from(report.overruns));
        }
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let micros = report.duration.as_micros().clamp(1, 10_000_000) as u64;
        let _ = w.ticks.record(micros);
        w.overruns += u64::from(report.overruns);
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn ticks_total(&self) -> u64 {
        self.ticks.load(Ordering::Relaxed)
    }

    pub fn overruns_total(&self) -> u64 {
        self.overruns.load(Ordering::Relaxed)
    }

    /// The current window's figures; with `restart`, a new window begins.
    pub fn window(&self, restart: bool) -> TickWindow {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let ms = |v: u64| v as f64 / 1000.0;
        let out = TickWindow {
            window_s: w.started.elapsed().as_secs_f64(),
            ticks: w.ticks.len(),
            p50_ms: ms(w.ticks.value_at_quantile(0.5)),
            p99_ms: ms(w.ticks.value_at_quantile(0.99)),
            max_ms: ms(w.ticks.max()),
            overruns: w.overruns,
        };
        if restart {
            *w = Window::new();
        }
        out
    }
}
