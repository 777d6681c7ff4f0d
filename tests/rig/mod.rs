//! Real processes for the cluster tests: a `redis-server` on a free
//! loopback port, and `tickwire serve` nodes pointed at it. Each is killed
//! when its handle drops, so a failing test leaves nothing running.
#![allow(dead_code)]

use redis_server::wait_for_port;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod redis_server;

pub use redis_server::{free_port, Redis};

/// The admin token every node of the tests runs with.
pub const ADMIN: &str = "an-admin-token-for-the-cluster-tests";
/// The cluster secret every node of the tests shares.
pub const SECRET: &str = "a-cluster-secret-for-the-tests";

/// A `tickwire serve` process in the cluster.
pub struct Node {
    pub id: String,
    pub port: u16,
    child: Option<Child>,
    log: std::path::PathBuf,
}

impl Node {
    /// Starts node `id` against `redis` with `extra` flags.
    pub fn start(redis: &Redis, id: &str, extra: &[&str]) -> Node {
        let port = free_port();
        let log = std::env::temp_dir().join(format!(
            "tickwire-cluster-{}-{id}-{port}.log",
            std::process::id()
        ));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tickwire"));
        for (k, _) in std::env::vars() {
            if k.starts_with("TICKWIRE_") || k == "RUST_LOG" {
                cmd.env_remove(k);
            }
        }
        cmd.arg("serve")
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .args(["--redis", &redis.url()])
            .args(["--node-id", id])
            .args(["--cluster-secret", SECRET])
            .args(["--admin-token", ADMIN])
            .args(["--tick-threads", "1"])
            .args(["--api-requests-per-second", "1000"])
            .args(["--log-filter", "info"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let mut child = cmd.spawn().expect("tickwire starts");
        wait_for_port(port, &format!("node {id}"), &mut child);
        Node {
            id: id.to_string(),
            port,
            child: Some(child),
            log,
        }
    }

    pub fn http(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn ws(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    /// `kill -9`: no goodbye to the directory.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM: a clean stop (in a cluster, a drain first).
    pub fn terminate(&self) {
        if let Some(child) = &self.child {
            let status = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .expect("kill runs");
            assert!(status.success());
        }
    }

    /// Waits (bounded) for the process to exit by itself; its exit status.
    pub fn wait_exit(&mut self, secs: u64) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the node logged, for a failing assertion's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}
