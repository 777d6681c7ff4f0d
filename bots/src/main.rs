//! `tickwire-bots`: a swarm of bot clients that plays arena-v1 (or space3d)
//! against a tickwire server and reports what the scenario's measurement protocol asks:
//! server CPU and memory, downstream bytes against full snapshots,
//! input-to-snapshot latency, tick durations and overruns, errors.

mod report;
mod server;
mod swarm;

use anyhow::Context;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use report::{print_table, Latency, Report, ServerFigures, TickFigures};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use swarm::{Behavior, Shared};

#[derive(Parser, Debug)]
#[command(
    name = "tickwire-bots",
    version,
    about = "Load-test a tickwire server with a bot swarm (arena-v1, or space3d)"
)]
struct Args {
    /// WebSocket URL of the server (ignored with --spawn-server).
    #[arg(long, default_value = "ws://127.0.0.1:7777/ws")]
    url: String,
    /// Number of bots.
    #[arg(long, default_value_t = 16)]
    clients: u64,
    /// Bots connected per second while ramping up, as `500` or `500/s`.
    #[arg(long, default_value = "500/s", value_parser = parse_rate)]
    ramp: u64,
    /// Time after the ramp before measuring.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Measured time.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// What each bot does; space3d plays the space3d game (a spawned server
    /// is started with `--game space3d`), the others arena.
    #[arg(long, value_enum, default_value_t = Behavior::Arena)]
    behavior: Behavior,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    json: bool,
    /// Start `tickwire serve` on a free loopback port, measure it, stop it.
    #[arg(long)]
    spawn_server: bool,
    /// The server binary for --spawn-server [default: `tickwire` beside this binary].
    #[arg(long)]
    server_bin: Option<std::path::PathBuf>,
    /// The pid of an already running server, to sample its CPU and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The server's admin token, for the stats window (`POST /v1/stats/window`);
    /// with --spawn-server the bots make one up and pass it on.
    #[arg(long, env = "TICKWIRE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Send inputs once per tick period at a random phase, as clients
    /// without input timing do (to compare); by default each bot sends its
    /// input timed by the client library to arrive just before its tick.
    #[arg(long)]
    no_input_timing: bool,
    /// Print every input-timing report of every Nth bot to stderr, one line
    /// each (`timing bot=.. lead_min_ms=.. lead_max_ms=.. late=..
    /// send_ahead_ms=.. margin_ms=..`, the clock's state after it): how
    /// early inputs reach their ticks, and how the clock answers.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    timing_log: Option<u64>,
    /// PEM CA certificate(s) to trust for wss:// and https:// (a private or
    /// test CA); without it the Web PKI roots are trusted. With
    /// --spawn-server and `-- --tls-cert ...`, the bots connect over wss.
    #[arg(long)]
    ca_cert: Option<std::path::PathBuf>,
    /// A node of a cluster, `http(s)://host:port`: each bot asks its
    /// `POST /v1/matchmake` where to play (instead of dialing --url), and
    /// follows redirects and matches moving between nodes.
    #[arg(long, conflicts_with = "spawn_server")]
    matchmake: Option<String>,
    /// Extra flags for the spawned server, after `--`.
    #[arg(last = true)]
    server_args: Vec<String>,
}

/// How long the chat behavior keeps reading after the window, for the events
/// of the last chats sent in it.
const CHAT_DRAIN: Duration = Duration::from_secs(1);

/// A rate such as `500` or `500/s`, at least 1.
fn parse_rate(text: &str) -> Result<u64, String> {
    let number = text.trim().trim_end_matches("/s");
    match number.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{text:?} is not a rate like 500/s")),
    }
}

/// Whom the API calls trust over https (`--ca-cert`); unset, the Web PKI.
static HTTP_TLS: std::sync::OnceLock<ureq::tls::TlsConfig> = std::sync::OnceLock::new();

/// The `--ca-cert` file as the bots' WebSocket trust and their API calls' trust.
fn load_ca(path: &std::path::Path) -> anyhow::Result<tickwire::client::TlsConfig> {
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let certs = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => Some(Ok(cert)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not PEM", path.display()))?;
    let _ = HTTP_TLS.set(
        ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(certs)))
            .build(),
    );
    Ok(tickwire::client::TlsConfig::with_ca_pem(&pem)?)
}

pub(crate) async fn http_get_json(url: &str) -> anyhow::Result<serde_json::Value> {
    http_json("GET", url, None).await
}

/// One request; a POST carries `bearer` as its Authorization.
pub(crate) async fn http_json(
    method: &'static str,
    url: &str,
    bearer: Option<&str>,
) -> anyhow::Result<serde_json::Value> {
    let url = url.to_string();
    let authorization = bearer.map(|t| format!("Bearer {t}"));
    tokio::task::spawn_blocking(move || -> anyhow::Result<serde_json::Value> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .tls_config(HTTP_TLS.get().cloned().unwrap_or_default())
            .build()
            .into();
        let mut response = match method {
            "POST" => {
                let mut request = agent.post(&url);
                if let Some(a) = &authorization {
                    request = request.header("authorization", a.as_str());
                }
                request.send_empty()?
            }
            _ => agent.get(&url).call()?,
        };
        let body = response.body_mut().read_to_string()?;
        Ok(serde_json::from_str(&body)?)
    })
    .await?
}

fn http_base(ws_url: &str) -> String {
    let (scheme, rest) = match ws_url.strip_prefix("wss://") {
        Some(rest) => ("https", rest),
        None => ("http", ws_url.trim_start_matches("ws://")),
    };
    let host = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{host}")
}

struct Sample {
    at: Instant,
    snapshots: u64,
    down: u64,
    inputs: u64,
    timed_inputs: u64,
    late_inputs: u64,
    timing_bytes: u64,
    full_bytes: u64,
    delta_bytes: u64,
    server_cpu: Option<f64>,
    bots_cpu: f64,
}

fn sample(shared: &Shared, server_pid: Option<&str>) -> Sample {
    let c = &shared.counters;
    Sample {
        at: Instant::now(),
        snapshots: c.snapshots.load(Ordering::Relaxed),
        down: c.down_bytes.load(Ordering::Relaxed),
        inputs: c.inputs.load(Ordering::Relaxed),
        timed_inputs: c.timed_inputs.load(Ordering::Relaxed),
        late_inputs: c.late_inputs.load(Ordering::Relaxed),
        timing_bytes: c.timing_bytes.load(Ordering::Relaxed),
        full_bytes: c.full_sample_bytes.load(Ordering::Relaxed),
        delta_bytes: c.delta_sample_bytes.load(Ordering::Relaxed),
        server_cpu: server_pid.and_then(|p| server::cpu_seconds(p).ok()),
        bots_cpu: server::cpu_seconds("self").unwrap_or(0.0),
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tickwire::net::raise_open_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let report = runtime.block_on(run(&args))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&args, &report);
    }
    let events_missing = report.events_received < report.events_expected;
    let failed = report.connect_failures > 0 || report.decode_errors > 0 || events_missing;
    runtime.shutdown_timeout(Duration::from_secs(2));
    if failed {
        eprintln!(
            "FAILED: {} connect failures, {} decode errors, {} of {} expected events received",
            report.connect_failures,
            report.decode_errors,
            report.events_received,
            report.events_expected
        );
        std::process::exit(1);
    }
    Ok(())
}

/// The built-in game a behavior plays, as `tickwire serve --game` names it.
fn game_of(behavior: Behavior) -> &'static str {
    match behavior {
        Behavior::Space3d => "space3d",
        Behavior::ArenaV2 => "arena-v2",
        Behavior::Arena | Behavior::Idle | Behavior::Churn | Behavior::Chat => "arena",
    }
}

/// Makes a spawned server run the game the bots play, unless the caller
/// chose one after `--` (a `TICKWIRE_GAME` in the environment must not).
fn add_game(server_args: &mut Vec<String>, behavior: Behavior) {
    if !server_args
        .iter()
        .any(|a| a == "--game" || a.starts_with("--game="))
    {
        server_args.push(format!("--game={}", game_of(behavior)));
    }
}

/// The admin token flag among a spawned server's flags, if the caller gave one.
fn admin_token_in(server_args: &[String]) -> Option<String> {
    server_args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--admin-token=")
            .map(str::to_string)
            .or_else(|| (a == "--admin-token").then(|| server_args.get(i + 1).cloned())?)
    })
}

async fn run(args: &Args) -> anyhow::Result<Report> {
    let tls = args.ca_cert.as_deref().map(load_ca).transpose()?;
    let server_tls = args
        .server_args
        .iter()
        .any(|a| a == "--tls-cert" || a.starts_with("--tls-cert="));
    let mut admin_token = args.admin_token.clone();
    let spawned = if args.spawn_server {
        let bin = args
            .server_bin
            .clone()
            .unwrap_or_else(server::default_server_bin);
        // Every bot connects from 127.0.0.1: lift the per-address cap (a
        // protection against one remote host) unless the caller set it.
        let mut server_args = args.server_args.clone();
        add_game(&mut server_args, args.behavior);
        let per_ip_set = server_args
            .iter()
            .any(|a| a.starts_with("--max-connections-per-ip"));
        let total_set = server_args
            .iter()
            .any(|a| a == "--max-connections" || a.starts_with("--max-connections="));
        if !per_ip_set {
            server_args.push(format!("--max-connections-per-ip={}", args.clients + 64));
        }
        if !total_set {
            server_args.push(format!(
                "--max-connections={}",
                (args.clients + 64).max(10_000)
            ));
        }
        // The stats window is an admin route: the bots hold the token.
        admin_token = admin_token_in(&server_args).or_else(|| {
            let token: String = (0..32).map(|_| fastrand::alphanumeric()).collect();
            server_args.push(format!("--admin-token={token}"));
            Some(token)
        });
        Some(server::spawn(&bin, &server_args, server_tls).await?)
    } else {
        None
    };
    let url = match &spawned {
        Some(s) if server_tls => format!("wss://127.0.0.1:{}/ws", s.port),
        Some(s) => format!("ws://127.0.0.1:{}/ws", s.port),
        None => args.url.clone(),
    };
    let pid = spawned
        .as_ref()
        .map(|s| s.pid)
        .or(args.server_pid)
        .map(|p| p.to_string());
    let base = match &args.matchmake {
        Some(node) => node.trim_end_matches('/').to_string(),
        None => http_base(&url),
    };
    let mut shared = Shared::new(url, args.behavior, tls, !args.no_input_timing);
    shared.matchmake = args.matchmake.clone();
    shared.timing_log = args.timing_log;
    let shared = Arc::new(shared);

    let bar = if args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}").expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));

    let progress = {
        let shared = shared.clone();
        let bar = bar.clone();
        tokio::spawn(async move {
            let mut last = (Instant::now(), 0u64);
            let mut every = tokio::time::interval(Duration::from_millis(500));
            loop {
                every.tick().await;
                let c = &shared.counters;
                let snaps = c.snapshots.load(Ordering::Relaxed);
                let rate = (snaps - last.1) as f64 / last.0.elapsed().as_secs_f64();
                last = (Instant::now(), snaps);
                bar.set_message(format!(
                    "bots connected {} | snapshots/s {:.0} | errors {}{}",
                    c.connected.load(Ordering::Relaxed),
                    rate,
                    c.errors(),
                    if shared.measuring.load(Ordering::Relaxed) {
                        " | measuring"
                    } else {
                        ""
                    },
                ));
            }
        })
    };

    // Ramp up.
    let mut bots = tokio::task::JoinSet::new();
    let gap = Duration::from_secs_f64(1.0 / args.ramp.max(1) as f64);
    let mut next = tokio::time::Instant::now();
    for index in 0..args.clients {
        bots.spawn(swarm::run_bot(shared.clone(), index));
        next += gap;
        tokio::time::sleep_until(next).await;
    }
    tokio::time::sleep(args.warmup).await;

    // Measure.
    // Without the window, tick figures would include the ramp-up.
    if let Err(e) = http_json(
        "POST",
        &format!("{base}/v1/stats/window"),
        admin_token.as_deref(),
    )
    .await
    {
        eprintln!(
            "tickwire-bots: could not restart the server's stats window ({e}); tick figures \
             include the ramp-up (pass --admin-token)"
        );
    }
    shared
        .latency
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .reset();
    shared.measure_started_us.store(
        (shared.epoch.elapsed().as_micros() as u64).max(1),
        Ordering::Relaxed,
    );
    shared.measuring.store(true, Ordering::Relaxed);
    let s0 = sample(&shared, pid.as_deref());
    tokio::time::sleep(args.duration).await;
    let s1 = sample(&shared, pid.as_deref());
    shared.measuring.store(false, Ordering::Relaxed);
    let connected = shared.counters.connected.load(Ordering::Relaxed);
    let stats = http_get_json(&format!("{base}/v1/stats")).await.ok();
    let memory = pid.as_deref().and_then(|p| server::memory(p).ok());

    if args.behavior == Behavior::Chat {
        // Chats sent in the last instant of the window are still on their way.
        tokio::time::sleep(CHAT_DRAIN).await;
    }
    shared.stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while bots.join_next().await.is_some() {}
    })
    .await;
    progress.abort();
    bar.finish_and_clear();
    if let Some(s) = spawned {
        s.stop().await;
    }

    let secs = s1.at.duration_since(s0.at).as_secs_f64();
    let per_client_s = |v: u64| v as f64 / secs / args.clients.max(1) as f64;
    let c = &shared.counters;
    let lat = shared.latency.lock().unwrap_or_else(|e| e.into_inner());
    let ms = |v: u64| v as f64 / 1000.0;
    let full_samples = s1.full_bytes - s0.full_bytes;
    let delta_samples = s1.delta_bytes - s0.delta_bytes;
    let ratio = if full_samples > 0 {
        delta_samples as f64 / full_samples as f64
    } else {
        0.0
    };
    let down = per_client_s(s1.down - s0.down);
    let server_cpu = match (s0.server_cpu, s1.server_cpu) {
        (Some(a), Some(b)) => Some((b - a) / secs),
        _ => None,
    };
    let tick = |key: &str| -> f64 {
        stats
            .as_ref()
            .and_then(|s| s["tick"][key].as_f64())
            .unwrap_or(0.0)
    };
    Ok(Report {
        behavior: Some(args.behavior),
        clients: args.clients,
        connected,
        errors: c.errors(),
        connect_failures: c.connect_failures.load(Ordering::Relaxed),
        disconnects: c.disconnects.load(Ordering::Relaxed),
        redirects: c.redirects.load(Ordering::Relaxed),
        migrations: c.migrations.load(Ordering::Relaxed),
        decode_errors: c.decode_errors.load(Ordering::Relaxed),
        joins: c.joins.load(Ordering::Relaxed),
        measured_s: secs,
        snapshots: s1.snapshots - s0.snapshots,
        snapshots_per_client_s: per_client_s(s1.snapshots - s0.snapshots),
        down_bytes_per_client_s: down,
        full_bytes_per_client_s: if ratio > 0.0 { down / ratio } else { 0.0 },
        delta_to_full_ratio: ratio,
        inputs_per_client_s: per_client_s(s1.inputs - s0.inputs),
        input_timing: !args.no_input_timing,
        timed_inputs: s1.timed_inputs - s0.timed_inputs,
        late_inputs: s1.late_inputs - s0.late_inputs,
        timing_bytes_per_client_s: per_client_s(s1.timing_bytes - s0.timing_bytes),
        latency_ms: Latency {
            p50: ms(lat.value_at_quantile(0.5)),
            p99: ms(lat.value_at_quantile(0.99)),
            p999: ms(lat.value_at_quantile(0.999)),
            max: ms(lat.max()),
            samples: lat.len(),
        },
        bots_cpu_cores: (s1.bots_cpu - s0.bots_cpu) / secs,
        worst_client_window_bytes_s: Some(c.worst_window_bytes.load(Ordering::Relaxed))
            .filter(|&w| w > 0),
        full_world_bytes_per_client_s: stats
            .as_ref()
            .and_then(|s| s["full_world_frame_bytes"].as_f64())
            .map(|frame| frame * per_client_s(s1.snapshots - s0.snapshots)),
        near16_coverage: stats
            .as_ref()
            .and_then(|s| s["interest"]["near16_coverage"].as_f64()),
        deferred_per_client_s: stats
            .as_ref()
            .and_then(|s| s["interest"]["deferred"].as_u64())
            .map(per_client_s),
        messages_sent: c.messages_sent.load(Ordering::Relaxed),
        events_received: c.events_received.load(Ordering::Relaxed),
        events_expected: c.events_expected.load(Ordering::Relaxed),
        event_latency_ms: {
            let h = shared
                .event_latency
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            Latency {
                p50: ms(h.value_at_quantile(0.5)),
                p99: ms(h.value_at_quantile(0.99)),
                p999: ms(h.value_at_quantile(0.999)),
                max: ms(h.max()),
                samples: h.len(),
            }
        },
        error_samples: shared
            .error_samples
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default(),
        server: ServerFigures {
            cpu_cores: server_cpu,
            cpu_cores_per_1000_clients: server_cpu.map(|c| c * 1000.0 / args.clients.max(1) as f64),
            rss_bytes: memory.map(|m| m.1),
            rss_per_client_bytes: memory.map(|m| m.1 / args.clients.max(1)),
            tick_ms: TickFigures {
                p50: tick("p50_ms"),
                p99: tick("p99_ms"),
                max: tick("max_ms"),
            },
            tick_overruns: stats
                .as_ref()
                .and_then(|s| s["tick"]["overruns"].as_u64())
                .unwrap_or(0),
            matches: stats
                .as_ref()
                .and_then(|s| s["matches"].as_u64())
                .unwrap_or(0),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn a_spawned_server_runs_the_game_the_bots_play_unless_told_otherwise() {
        let mut args = strings(&["--tick-rate", "60"]);
        add_game(&mut args, Behavior::Space3d);
        assert_eq!(args, strings(&["--tick-rate", "60", "--game=space3d"]));
        let mut args = Vec::new();
        add_game(&mut args, Behavior::Churn);
        assert_eq!(args, strings(&["--game=arena"]));
        for given in [strings(&["--game", "arena"]), strings(&["--game=arena"])] {
            let mut args = given.clone();
            add_game(&mut args, Behavior::Space3d);
            assert_eq!(args, given, "the caller's choice stands");
        }
    }
}
