//! The server under test: spawning `tickwire serve`, and sampling its CPU time
//! and memory from /proc.

use anyhow::{bail, Context};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// A `tickwire serve` child process on a free loopback port.
pub struct SpawnedServer {
    pub child: Child,
    pub pid: u32,
    pub port: u16,
}

/// The `tickwire` binary beside this one (both are built by `cargo build --workspace`).
pub fn default_server_bin() -> PathBuf {
    let me = std::env::current_exe().unwrap_or_default();
    me.with_file_name("tickwire")
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Starts the server; `tls` says `extra` makes it serve https (`--tls-cert`).
pub async fn spawn(bin: &PathBuf, extra: &[String], tls: bool) -> anyhow::Result<SpawnedServer> {
    let port = free_port()?;
    let child = Command::new(bin)
        .arg("serve")
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| {
            format!(
                "starting {} (build it with `cargo build --release --workspace`)",
                bin.display()
            )
        })?;
    let pid = child.id().context("the server exited at once")?;
    let server = SpawnedServer { child, pid, port };
    let scheme = if tls { "https" } else { "http" };
    let ready = format!("{scheme}://127.0.0.1:{port}/readyz");
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if crate::http_get_json(&ready).await.is_ok() {
            return Ok(server);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the server did not become ready within 15 s")
}

impl SpawnedServer {
    /// Asks the server to stop (SIGTERM) and waits up to 5 s.
    pub async fn stop(mut self) {
        // SAFETY: kill(2) with a pid we own and a valid signal has no memory effects.
        unsafe {
            libc::kill(self.pid as libc::pid_t, libc::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// CPU seconds (user + system) a process has used.
pub fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; fields count from after its ')'.
    let rest = stat.rsplit_once(')').context("malformed /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11).context("no utime")?.parse()?;
    let stime: f64 = fields.get(12).context("no stime")?.parse()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok((utime + stime) / hz.max(1.0))
}

/// A process's current and peak resident memory, in bytes.
pub fn memory(pid: &str) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok((kib("VmRSS:") * 1024, kib("VmHWM:") * 1024))
}
