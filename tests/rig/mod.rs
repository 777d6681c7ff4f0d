//! Real processes for the cluster tests: a `redis-server` on a free
//! loopback port, and `tickwire serve` nodes pointed at it. Each is killed
//! when its handle drops, so a failing test leaves nothing running.
#![allow(dead_code)]

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The admin token every node of the tests runs with (the same as `common`'s).
pub const ADMIN: &str = super::common::ADMIN_TOKEN;
/// The cluster secret every node of the tests shares.
pub const SECRET: &str = "a-cluster-secret-for-the-tests";

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited at start: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port} within 10s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A real `redis-server`, with no persistence, on its own port.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Redis {
        let port = free_port();
        let mut redis = Redis { port, child: None };
        redis.launch();
        redis
    }

    fn launch(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        // No silent skip: the cluster tests need a real Redis.
        let mut child = child.unwrap_or_else(|e| {
            panic!(
                "cannot run redis-server ({e}): the cluster tests need it; \
                 `apt-get install redis-server` (bash .ci/run does)"
            )
        });
        wait_for_port(self.port, "redis-server", &mut child);
        self.child = Some(child);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (SIGKILL): every key is lost, as after a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

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
