//! The bot swarm binary against a real server on 127.0.0.1.

use std::process::Command;
use tickwire::game::space3d::Space3d;
use tickwire::net::ServerHandle;
use tickwire::{Arena, Config};

#[path = "../../tests/common/pki.rs"]
mod pki;

fn bots() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tickwire-bots"))
}

/// Runs the bots to the end; a failed run fails the test, with its stderr.
fn run_ok(command: &mut Command) -> std::process::Output {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The admin token of the test servers, so the bots can restart the stats window.
const ADMIN_TOKEN: &str = "a-swarm-test-admin-token";

/// A server of game `G` on 127.0.0.1, on a runtime of its own.
fn serve<G: tickwire::game::Game>() -> (tokio::runtime::Runtime, ServerHandle<G>) {
    serve_with::<G>(Config::default())
}

fn serve_with<G: tickwire::game::Game>(
    config: Config,
) -> (tokio::runtime::Runtime, ServerHandle<G>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime
        .block_on(tickwire::net::start::<G>(Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            tick_threads: 1,
            admin_token: Some(ADMIN_TOKEN.into()),
            ..config
        }))
        .unwrap();
    (runtime, server)
}

#[test]
fn a_small_swarm_plays_arena_and_reports_the_documented_json() {
    let (runtime, server) = serve::<Arena>();
    let out = run_ok(
        bots()
            .args([
                "--admin-token",
                ADMIN_TOKEN,
                "--url",
                &server.ws_url(),
                "--clients",
                "16",
                "--warmup",
                "1s",
                "--duration",
                "2s",
                "--json",
            ])
            .args(["--server-pid", &std::process::id().to_string()]),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("stats window"),
        "the bots restart the window with the admin token: {stderr}"
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(r["clients"], 16);
    assert_eq!(r["connected"], 16);
    assert_eq!(r["errors"], 0);
    assert!(r["snapshots"].as_u64().unwrap() > 0);
    // 30 Hz is due; a wide margin for a shared machine.
    assert!(r["snapshots_per_client_s"].as_f64().unwrap() > 10.0, "{r}");
    let down = r["down_bytes_per_client_s"].as_f64().unwrap();
    let full = r["full_bytes_per_client_s"].as_f64().unwrap();
    assert!(
        down > 0.0 && full > 4.0 * down,
        "deltas {down} B/s against full {full} B/s"
    );
    let lat = &r["latency_ms"];
    assert!(
        lat["p50"].as_f64().unwrap() > 0.0
            && lat["p99"].as_f64().unwrap() >= lat["p50"].as_f64().unwrap()
    );
    assert!(lat["p999"].is_number());
    let s = &r["server"];
    assert!(s["cpu_cores"].as_f64().unwrap() > 0.0);
    assert!(s["rss_bytes"].as_u64().unwrap() > 0);
    assert!(s["rss_per_client_bytes"].is_number());
    assert!(s["tick_ms"]["p50"].is_number() && s["tick_ms"]["p99"].is_number());
    assert!(s["tick_overruns"].is_number());
    runtime.block_on(server.shutdown());
}

#[test]
fn a_small_swarm_plays_space3d_and_measures_its_inputs() {
    let (runtime, server) = serve::<Space3d>();
    let out = run_ok(bots().args([
        "--admin-token",
        ADMIN_TOKEN,
        "--url",
        &server.ws_url(),
        "--behavior",
        "space3d",
        "--clients",
        "4",
        "--warmup",
        "1s",
        "--duration",
        "2s",
        "--json",
    ]));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(r["behavior"], "space3d");
    assert_eq!(r["connected"], 4);
    assert_eq!(r["errors"], 0, "{r}");
    assert!(r["snapshots"].as_u64().unwrap() > 0);
    assert!(r["snapshots_per_client_s"].as_f64().unwrap() > 10.0, "{r}");
    assert!(r["inputs_per_client_s"].as_f64().unwrap() > 10.0, "{r}");
    // Latency samples need the bot's own ship's last_input_seq: the space3d
    // path reads it from the Ship kind.
    let lat = &r["latency_ms"];
    assert!(lat["samples"].as_u64().unwrap() > 0, "{r}");
    assert!(lat["p50"].as_f64().unwrap() > 0.0);
    let down = r["down_bytes_per_client_s"].as_f64().unwrap();
    let full = r["full_bytes_per_client_s"].as_f64().unwrap();
    assert!(
        down > 0.0 && full > 2.0 * down,
        "deltas {down} B/s against full {full} B/s"
    );
    runtime.block_on(server.shutdown());
}

#[test]
fn arena_bots_against_a_space3d_server_are_refused_and_the_swarm_fails() {
    let (runtime, server) = serve::<Space3d>();
    let out = bots()
        .args(["--url", &server.ws_url(), "--clients", "2"])
        .args(["--warmup", "0s", "--duration", "1s", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a report still");
    assert_eq!(r["connect_failures"], 2);
    runtime.block_on(server.shutdown());
}

#[test]
fn the_swarm_exits_non_zero_when_bots_cannot_connect() {
    // Nothing listens on port 1 of the loopback: every connect is refused.
    let out = bots()
        .args([
            "--url",
            "ws://127.0.0.1:1/ws",
            "--clients",
            "3",
            "--warmup",
            "0s",
            "--duration",
            "1s",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a report still");
    assert_eq!(r["connect_failures"], 3);
}

#[test]
fn a_chatting_swarm_gets_every_chat_event_and_times_it() {
    let (runtime, server) = serve::<Arena>();
    let out = run_ok(
        bots()
            .args(["--url", &server.ws_url(), "--clients", "20"])
            .args(["--behavior", "chat", "--warmup", "1s", "--duration", "3s"])
            .arg("--json"),
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(r["behavior"], "chat");
    let sent = r["messages_sent"].as_u64().unwrap();
    // One a second per bot over 3 s, give or take a phase.
    assert!((40..=80).contains(&sent), "{r}");
    // 20 bots fill two matches of 16 and 4: each chat reaches its match.
    let expected = r["events_expected"].as_u64().unwrap();
    assert!(expected > sent * 4, "{r}");
    assert_eq!(r["events_received"], r["events_expected"], "{r}");
    assert_eq!(
        r["event_latency_ms"]["samples"], r["events_received"],
        "{r}"
    );
    assert!(r["event_latency_ms"]["p50"].as_f64().unwrap() > 0.0, "{r}");
    runtime.block_on(server.shutdown());
}

#[test]
fn a_swarm_plays_over_wss_trusting_the_given_ca_and_fails_without_it() {
    let pki = pki::TestPki::new("swarm");
    let (runtime, server) = serve_with::<Arena>(Config {
        tls_cert: Some(pki.cert()),
        tls_key: Some(pki.key()),
        ..Config::default()
    });
    assert!(server.ws_url().starts_with("wss://"));
    let swarm = |ca: Option<&std::path::Path>| {
        let mut cmd = bots();
        cmd.args(["--admin-token", ADMIN_TOKEN, "--url", &server.ws_url()])
            .args([
                "--clients",
                "4",
                "--warmup",
                "1s",
                "--duration",
                "2s",
                "--json",
            ]);
        if let Some(ca) = ca {
            cmd.arg("--ca-cert").arg(ca);
        }
        cmd.output().unwrap()
    };
    let out = swarm(Some(&pki.ca()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // The stats window is an https call: it trusts the same CA.
    assert!(!stderr.contains("stats window"), "{stderr}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(r["connected"], 4, "{r}");
    assert_eq!(r["errors"], 0, "{r}");
    assert!(r["snapshots_per_client_s"].as_f64().unwrap() > 10.0, "{r}");

    let out = swarm(None);
    assert!(
        !out.status.success(),
        "without the CA the bots cannot connect: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    runtime.block_on(server.shutdown());
}

#[test]
fn timing_log_prints_every_report_of_every_nth_bot() {
    let (runtime, server) = serve::<Arena>();
    let out = run_ok(
        bots()
            .args(["--admin-token", ADMIN_TOKEN, "--url", &server.ws_url()])
            .args(["--clients", "4", "--warmup", "1s", "--duration", "2s"])
            .args(["--json", "--timing-log", "2"]),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("timing "))
        .collect();
    // Reports come twice a second to each of bots 0 and 2 for about 3 s.
    assert!(lines.len() >= 4, "{stderr}");
    for line in &lines {
        let fields: std::collections::HashMap<&str, &str> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|kv| kv.split_once('='))
            .collect();
        let bot: u64 = fields["bot"].parse().unwrap();
        assert_eq!(bot % 2, 0, "only every 2nd bot: {line}");
        for key in ["lead_min_ms", "lead_max_ms", "send_ahead_ms", "margin_ms"] {
            let v: f64 = fields[key]
                .parse()
                .unwrap_or_else(|_| panic!("{key} in {line}"));
            assert!(v.is_finite() && v.abs() < 1000.0, "{line}");
        }
        assert!(
            fields["lead_min_ms"].parse::<f64>().unwrap()
                <= fields["lead_max_ms"].parse::<f64>().unwrap()
        );
    }
    // The report itself is unchanged: one JSON object on stdout.
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(r["connected"], 4);
    // Zero is refused by the parser, with a clear message.
    let zero = bots().args(["--timing-log", "0"]).output().unwrap();
    assert!(!zero.status.success());
    assert!(String::from_utf8_lossy(&zero.stderr).contains("--timing-log"));
    runtime.block_on(server.shutdown());
}
