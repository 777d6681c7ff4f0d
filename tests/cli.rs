//! The `tickwire` binary itself: configuration precedence and errors, and a
//! clean stop on SIGTERM.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tickwire() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tickwire"));
    // The test's own environment must not leak settings in.
    for (k, _) in std::env::vars() {
        if k.starts_with("TICKWIRE_") || k == "RUST_LOG" {
            c.env_remove(k);
        }
    }
    c
}

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tickwire-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn value(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("{key} missing from:\n{out}"))
        .to_string()
}

#[test]
fn flag_beats_environment_beats_file_beats_default() {
    let file = temp_file(
        "p.toml",
        "tick_rate = 20\nplayers_per_match = 8\nack_timeout = \"3s\"\n",
    );
    let out = tickwire()
        .args(["config", "--config"])
        .arg(&file)
        .args(["--tick-rate", "50"])
        .env("TICKWIRE_TICK_RATE", "40")
        .env("TICKWIRE_PLAYERS_PER_MATCH", "12")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(value(&text, "tick_rate"), "50", "the flag wins");
    assert_eq!(
        value(&text, "players_per_match"),
        "12",
        "the environment beats the file"
    );
    assert_eq!(
        value(&text, "ack_timeout"),
        "\"3s\"",
        "the file beats the default"
    );
    assert_eq!(value(&text, "outbound_queue"), "4", "the default stays");
}

#[test]
fn the_example_file_is_valid_and_matches_the_defaults() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/tickwire.example.toml");
    let with_file = tickwire()
        .args(["config", "--config", example])
        .output()
        .unwrap();
    assert!(
        with_file.status.success(),
        "{}",
        String::from_utf8_lossy(&with_file.stderr)
    );
    let defaults = tickwire().arg("config").output().unwrap();
    assert_eq!(with_file.stdout, defaults.stdout);
}

#[test]
fn an_invalid_value_is_refused_at_start_with_its_key_and_exit_code_2() {
    let out = tickwire()
        .args(["serve", "--tick-rate", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`tick_rate`"));

    let file = temp_file("bad.toml", "heartbeat_interval = \"often\"\n");
    let out = tickwire()
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`heartbeat_interval`"));

    let file = temp_file("unknown.toml", "tick_rat = 30\n");
    let out = tickwire()
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tick_rat"));
}

/// A client of the server at `url`, once it is up (bounded: 5 s).
async fn connect_when_up(url: &str) -> tickwire::client::Client<tickwire::Arena> {
    for _ in 0..100 {
        match tickwire::client::Client::<tickwire::Arena>::connect(url, Default::default()).await {
            Ok(c) => return c,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("the server at {url} did not come up");
}

#[test]
fn sigterm_closes_clients_with_1001_and_exits_0_within_5_seconds() {
    let port = free_port();
    let mut child = tickwire()
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--log-format",
            "json",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = format!("ws://127.0.0.1:{port}/ws");
        let mut client = connect_when_up(&url).await;
        common::next_snapshot(&mut client).await;
        // SAFETY: kill(2) on our own child with a valid signal.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let err = loop {
            match common::within("close on SIGTERM", 5, client.recv()).await {
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        assert!(
            matches!(
                err,
                tickwire::client::ClientError::Closed { code: 1001, .. }
            ),
            "got {err}"
        );
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the server did not exit within 5 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let mut logs = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut logs).unwrap();
    let first = logs.lines().next().expect("a log line");
    let parsed: serde_json::Value = serde_json::from_str(first).expect("JSON log lines");
    assert!(parsed["fields"]["message"].is_string(), "{first}");
}

/// `tickwire serve` on a free loopback port with `extra` flags, once it answers.
fn serve(extra: &[&str]) -> (std::process::Child, u16) {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--bind", &bind];
    args.extend_from_slice(extra);
    let mut child = tickwire()
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if std::net::TcpStream::connect(&bind).is_ok() {
            return (child, port);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not come up on {bind}");
}

fn get(url: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let mut response = agent.get(url).call().expect("HTTP request completes");
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

#[test]
fn a_fresh_server_exports_every_series_the_dashboard_uses() {
    let (mut child, port) = serve(&[]);
    let (status, text) = get(&format!("http://127.0.0.1:{port}/metrics"));
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(status, 200);
    let dashboard = include_str!("../deploy/grafana/tickwire-dashboard.json");
    let mut names: Vec<&str> = dashboard
        .match_indices("tickwire_")
        .map(|(at, _)| {
            let rest = &dashboard[at..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    assert!(names.len() >= 15, "the dashboard names {names:?}");
    for name in names {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "{name} is missing from a fresh server's /metrics:\n{text}"
        );
    }
    // Labelled series for the known reasons exist at zero too.
    for series in [
        "tickwire_connection_closes_total{reason=\"send_timeout\"} 0",
        "tickwire_handshake_refusals_total{reason=\"match_full\"} 0",
        "tickwire_inputs_dropped_total{reason=\"rate_limit\"} 0",
        "tickwire_panics_total{where=\"match\"} 0",
    ] {
        assert!(text.contains(series), "{series} missing");
    }
}

#[test]
fn a_bad_value_from_the_environment_names_the_variable() {
    for (variable, value) in [
        ("TICKWIRE_TICK_RATE", "fast"),
        ("TICKWIRE_ACK_TIMEOUT", "soon"),
    ] {
        let out = tickwire()
            .arg("config")
            .env(variable, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{variable}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(variable), "{variable}: {stderr}");
    }
}

#[test]
fn a_port_in_use_exits_3_with_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = tickwire()
        .args(["serve", "--bind", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&addr) && stderr.contains("in use"),
        "{stderr}"
    );
}

#[test]
fn sigterm_drains_then_closes_with_a_retry_hint_and_logs_carry_no_colour_or_forged_lines() {
    let port = free_port();
    let mut child = tickwire()
        .args([
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--drain-period",
            "1500ms",
            "--log-filter",
            "trace",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // stderr is read to its end on a thread, so the pipe never fills.
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let base = format!("http://127.0.0.1:{port}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use futures_util::SinkExt;
        let url = format!("ws://127.0.0.1:{port}/ws");
        let mut client = connect_when_up(&url).await;
        // A peer's text with CR/LF, in a text frame and in a close reason.
        let (mut forger, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let forged = "x\r\nFORGED log line\r\n";
        let _ = forger
            .send(tokio_tungstenite::tungstenite::Message::Text(forged.into()))
            .await;
        let (mut closer, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        let _ = closer
            .send(tokio_tungstenite::tungstenite::Message::Close(Some(
                tokio_tungstenite::tungstenite::protocol::CloseFrame {
                    code:
                        tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Normal,
                    reason: forged.into(),
                },
            )))
            .await;
        common::next_snapshot(&mut client).await;

        // SAFETY: kill(2) on our own child with a valid signal.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        tokio::time::sleep(Duration::from_millis(200)).await;
        let ready = tokio::task::spawn_blocking({
            let base = base.clone();
            move || get(&format!("{base}/readyz")).0
        });
        assert_eq!(ready.await.unwrap(), 503, "not ready while draining");
        match tickwire::client::Client::<tickwire::Arena>::connect(&url, Default::default()).await {
            Err(tickwire::client::ClientError::Refused { status: 503, body }) => {
                assert!(body.contains("shutting_down"), "{body}")
            }
            other => panic!("a join while draining: {:?}", other.err()),
        }
        // Players play on through the drain period ...
        for _ in 0..15 {
            common::next_snapshot(&mut client).await;
        }
        // ... then get 1001 with a retry hint.
        let err = loop {
            match common::within("close after the drain", 5, client.recv()).await {
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        match err {
            tickwire::client::ClientError::Closed { code: 1001, reason } => {
                assert!(reason.contains("retry"), "{reason}")
            }
            e => panic!("expected 1001, got {e}"),
        }
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(8), "no exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let logs = logs.join().unwrap();
    assert!(!logs.is_empty());
    assert!(!logs.contains('\u{1b}'), "colour codes in piped logs");
    assert!(
        !logs.lines().any(|l| l.starts_with("FORGED")),
        "a peer forged a log line:\n{logs}"
    );
}

#[test]
fn serve_picks_a_built_in_game_and_refuses_an_unknown_one_listing_the_others() {
    let out = tickwire()
        .args(["serve", "--game", "chess", "--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("chess") && stderr.contains("arena"),
        "{stderr}"
    );

    let (mut child, port) = serve(&["--game", "arena"]);
    let (status, _) = get(&format!("http://127.0.0.1:{port}/healthz"));
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(status, 200);
}

#[test]
fn a_client_only_dependency_brings_no_server_stack() {
    // `cargo tree` reads metadata only; `.ci/run` also compiles this set.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "tickwire",
            "--no-default-features",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        tree.contains("tokio-tungstenite"),
        "the client's own stack: {tree}"
    );
    for server_only in [
        "axum ",
        "hyper ",
        "jsonwebtoken ",
        "metrics ",
        "governor ",
        "clap ",
    ] {
        assert!(
            !tree.lines().any(|l| l.starts_with(server_only)),
            "{server_only}in a client-only build:\n{tree}"
        );
    }
}

#[test]
fn cluster_keys_are_checked_together_and_completed() {
    let out = tickwire()
        .args(["config", "--redis", "redis://127.0.0.1:6379"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`cluster_secret`"));
    let out = tickwire()
        .args(["config", "--node-ttl", "5s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`redis`"));
    let out = tickwire()
        .args(["config", "--redis", "localhost:6379"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`redis`"));
    let out = tickwire()
        .args(["config", "--redis", "redis://127.0.0.1:6379"])
        .args([
            "--cluster-secret",
            "0123456789abcdef",
            "--public-url",
            "http://x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`public_url`"));
    let out = tickwire()
        .args(["config", "--redis", "redis://127.0.0.1:6379"])
        .args(["--cluster-secret", "0123456789abcdef", "--node-ttl", "4s"])
        .args(["--bind", "127.0.0.1:7000"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(value(&text, "public_url"), "\"ws://127.0.0.1:7000\"");
    assert_eq!(value(&text, "node_ttl"), "\"4s\"");
    assert_eq!(value(&text, "node_id").len(), 14, "12 hex digits, quoted");
    assert!(
        !text.contains("0123456789abcdef"),
        "the secret is never printed"
    );
}
