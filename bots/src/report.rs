//! The swarm's report: the figures the scenario's measurement protocol asks
//! for, as JSON or as a table.

use crate::swarm::Behavior;
use crate::Args;
use serde::Serialize;

#[derive(Serialize, Default)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub samples: u64,
}

#[derive(Serialize, Default)]
pub struct TickFigures {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Serialize, Default)]
pub struct ServerFigures {
    pub cpu_cores: Option<f64>,
    pub cpu_cores_per_1000_clients: Option<f64>,
    pub rss_bytes: Option<u64>,
    pub rss_per_client_bytes: Option<u64>,
    pub tick_ms: TickFigures,
    pub tick_overruns: u64,
    pub matches: u64,
}

#[derive(Serialize, Default)]
pub struct Report {
    pub behavior: Option<Behavior>,
    pub clients: u64,
    pub connected: u64,
    pub errors: u64,
    pub connect_failures: u64,
    pub disconnects: u64,
    /// Cluster redirects followed while connecting (`--matchmake`).
    pub redirects: u64,
    /// Matches followed to another node (a drain), without an error.
    pub migrations: u64,
    pub decode_errors: u64,
    pub joins: u64,
    pub measured_s: f64,
    pub snapshots: u64,
    pub snapshots_per_client_s: f64,
    pub down_bytes_per_client_s: f64,
    pub full_bytes_per_client_s: f64,
    /// Delta bytes as a share of full-snapshot bytes for the same states.
    pub delta_to_full_ratio: f64,
    pub inputs_per_client_s: f64,
    /// Whether the bots timed their inputs (not `--no-input-timing`).
    pub input_timing: bool,
    /// Timed inputs sent in the window, and those the server reported late
    /// (they missed their tick and were applied at the next).
    pub timed_inputs: u64,
    pub late_inputs: u64,
    /// The server's input-timing reports, which `down_bytes_per_client_s`
    /// (snapshots only) leaves out.
    pub timing_bytes_per_client_s: f64,
    /// From sending an input to the first snapshot that shows it applied.
    pub latency_ms: Latency,
    pub bots_cpu_cores: f64,
    /// The most bytes any one client received in one whole second of the
    /// window (snapshots and reports).
    pub worst_client_window_bytes_s: Option<u64>,
    /// With interest management (the server's figure): bytes per client per
    /// second if every client were sent the whole world in full every tick.
    pub full_world_bytes_per_client_s: Option<f64>,
    /// With interest management or a budget (the server's figure): the
    /// share of frames on which each of a player's 16 nearest entities was
    /// up to date on it.
    pub near16_coverage: Option<f64>,
    /// Visible entities a budget deferred, per client per second.
    pub deferred_per_client_s: Option<f64>,
    /// `--behavior chat`: chats sent, chat events received, and how many the
    /// matches' players should have received.
    pub messages_sent: u64,
    pub events_received: u64,
    pub events_expected: u64,
    /// From a chat's send to each player's receipt of its event.
    pub event_latency_ms: Latency,
    pub server: ServerFigures,
    /// The first few errors the bots hit, verbatim.
    pub error_samples: Vec<String>,
}

pub fn print_table(args: &Args, r: &Report) {
    let opt = |v: Option<f64>, digits: usize| {
        v.map(|v| format!("{v:.digits$}"))
            .unwrap_or_else(|| "n/a".into())
    };
    let kib = |v: Option<u64>| {
        v.map(|v| format!("{:.1} KiB", v as f64 / 1024.0))
            .unwrap_or_else(|| "n/a".into())
    };
    println!(
        "tickwire-bots: {:?}, {} clients, {:.1} s measured after {:?} warm-up",
        args.behavior, r.clients, r.measured_s, args.warmup
    );
    println!(
        "  connected                  {} ({} joins)",
        r.connected, r.joins
    );
    println!(
        "  errors                     {} (connect failures {}, disconnects {}, decode errors {})",
        r.errors, r.connect_failures, r.disconnects, r.decode_errors
    );
    println!(
        "  cluster                    {} redirects, {} migrations",
        r.redirects, r.migrations
    );
    println!(
        "  snapshots / client / s     {:.1}",
        r.snapshots_per_client_s
    );
    println!(
        "  down bytes / client / s    {:.0}",
        r.down_bytes_per_client_s
    );
    println!(
        "  full-snapshot bytes / c / s {:.0}  (deltas are {:.1}% of full)",
        r.full_bytes_per_client_s,
        r.delta_to_full_ratio * 100.0
    );
    if r.input_timing {
        println!(
            "  timed inputs               {} sent, {} late  (reports: {:.1} B / client / s)",
            r.timed_inputs, r.late_inputs, r.timing_bytes_per_client_s
        );
    } else {
        println!("  timed inputs               off (--no-input-timing)");
    }
    if let Some(worst) = r.worst_client_window_bytes_s {
        println!("  worst client second        {worst} B");
    }
    if let Some(full) = r.full_world_bytes_per_client_s {
        println!("  whole world in full        {full:.0} B / client / s (without interest)");
    }
    if let Some(cov) = r.near16_coverage {
        println!(
            "  16 nearest up to date      {:.1} % of frames  (deferred {} / client / s)",
            cov * 100.0,
            opt(r.deferred_per_client_s, 1)
        );
    }
    println!(
        "  input→snapshot latency ms  p50 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  ({} samples)",
        r.latency_ms.p50,
        r.latency_ms.p99,
        r.latency_ms.p999,
        r.latency_ms.max,
        r.latency_ms.samples
    );
    println!(
        "  server CPU cores           {}  ({} per 1000 clients)",
        opt(r.server.cpu_cores, 3),
        opt(r.server.cpu_cores_per_1000_clients, 3)
    );
    println!(
        "  server peak RSS            {}  ({} per client)",
        kib(r.server.rss_bytes),
        kib(r.server.rss_per_client_bytes)
    );
    println!(
        "  tick ms                    p50 {:.3}  p99 {:.3}  max {:.3}  overruns {}",
        r.server.tick_ms.p50, r.server.tick_ms.p99, r.server.tick_ms.max, r.server.tick_overruns
    );
    if r.messages_sent > 0 {
        println!(
            "  chat                       {} sent, events {} received of {} expected",
            r.messages_sent, r.events_received, r.events_expected
        );
        println!(
            "  chat→event latency ms      p50 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  ({} samples)",
            r.event_latency_ms.p50,
            r.event_latency_ms.p99,
            r.event_latency_ms.p999,
            r.event_latency_ms.max,
            r.event_latency_ms.samples
        );
    }
    println!(
        "  bots CPU cores             {:.3}  (bots and server share this machine)",
        r.bots_cpu_cores
    );
    for e in &r.error_samples {
        println!("  error: {e}");
    }
}
