//! The bot swarm against a two-node cluster (`--matchmake`), with the node
//! holding the bots drained in the middle of the run: every bot follows its
//! match to the other node, and the report shows the moves and no error.

use std::process::Command;
use std::time::Duration;
use tickwire::config::ClusterConfig;
use tickwire::net::ServerHandle;
use tickwire::{Arena, Config};

#[path = "../../tests/rig/redis_server.rs"]
mod redis_server;

use redis_server::{free_port, Redis};

fn node(redis: &Redis, id: &str) -> (u16, ServerHandle<Arena>) {
    let port = free_port();
    let config = Config {
        bind: format!("127.0.0.1:{port}").parse().unwrap(),
        tick_threads: 1,
        api_requests_per_second: 1000,
        cluster: Some(ClusterConfig {
            redis: redis.url(),
            public_url: format!("ws://127.0.0.1:{port}"),
            node_id: id.into(),
            node_ttl: Duration::from_secs(3),
            secret: "a-cluster-secret-for-the-bots".into(),
            ticket_ttl: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(10),
        }),
        ..Config::default()
    };
    let server = tokio::runtime::Handle::current()
        .block_on(tickwire::net::start_as::<Arena>(config, "arena-v1"))
        .unwrap();
    (port, server)
}

#[test]
fn bots_matchmake_across_a_cluster_and_follow_a_drain_without_an_error() {
    let redis = Redis::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let (port_a, a) = node(&redis, "a");
    let (_, b) = node(&redis, "b");
    // Both nodes in the directory before the bots ask.
    std::thread::sleep(Duration::from_millis(500));
    let bots = Command::new(env!("CARGO_BIN_EXE_tickwire-bots"))
        .args(["--matchmake", &format!("http://127.0.0.1:{port_a}")])
        .args(["--clients", "8", "--ramp", "100/s", "--warmup", "1s"])
        .args(["--duration", "5s", "--json"])
        .spawn_output();
    // Mid-run: whichever node holds the bots is drained.
    std::thread::sleep(Duration::from_secs(3));
    let holder = if a.lobby().matches().is_empty() {
        &b
    } else {
        &a
    };
    assert_eq!(
        holder.lobby().matches().len(),
        1,
        "the bots share one match"
    );
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(15), holder.drain())
            .await
            .expect("the drain completes")
    });
    assert!(
        holder.lobby().matches().is_empty(),
        "the match left the drained node"
    );
    let out = bots.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(
        report["migrations"], 8,
        "every bot followed its match: {report}"
    );
    assert_eq!(report["redirects"], 0, "{report}");
    assert_eq!(report["connected"], 8, "{report}");
}

/// Runs a command to completion on a thread of its own.
trait SpawnOutput {
    fn spawn_output(&mut self) -> std::thread::JoinHandle<std::process::Output>;
}

impl SpawnOutput for Command {
    fn spawn_output(&mut self) -> std::thread::JoinHandle<std::process::Output> {
        let child = self
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("tickwire-bots starts");
        std::thread::spawn(move || child.wait_with_output().unwrap())
    }
}
