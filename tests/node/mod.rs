//! Running the web client's node tests from cargo (tests/web.rs,
//! tests/browser.rs): node must be on PATH, web/node_modules must hold the
//! npm packages they need (`npm ci` from web/package-lock.json installs them
//! when one is missing), and a run is bounded and its output kept whole.
//! A missing tool fails the test with what to install; nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// web/, where package.json and the tests are.
pub fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

/// node's version, or a failure saying to install Node.js.
pub fn node_version() -> String {
    match Command::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => panic!(
            "node is not installed: the web client's tests (web/test/) need Node.js 20 or later on PATH"
        ),
    }
}

/// Runs `npm ci` in web/ unless every one of `packages` is in
/// web/node_modules (`npm ci` installs them all, from the lock file).
pub fn ensure_packages(packages: &[&str]) {
    let web = web_dir();
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !web.join("node_modules")
                .join(p)
                .join("package.json")
                .exists()
        })
        .collect();
    if missing.is_empty() {
        return;
    }
    let npm = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&web)
        .output()
        .unwrap_or_else(|e| {
            panic!("npm is not installed ({e}): web/ needs {missing:?} (install Node.js 20 or later with npm)")
        });
    assert!(
        npm.status.success(),
        "`npm ci` in web/ failed (it installs {missing:?}):\n{}",
        String::from_utf8_lossy(&npm.stderr)
    );
}

/// The test files of `dir` (relative to web/) named `*.test.js`, not those
/// of its subfolders, as paths relative to web/.
pub fn test_files(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(web_dir().join(dir))
        .unwrap_or_else(|e| panic!("web/{dir}: {e}"))
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".test.js"))
        .map(|name| format!("{dir}/{name}"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no web/{dir}/*.test.js");
    files
}

/// How a run ended: its status (None: killed at the deadline) and output.
pub struct Run {
    pub status: Option<std::process::ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `node --experimental-websocket --test` on `files` in web/ with
/// `env`, killed after `deadline`. The pipes are drained while it runs, so a
/// chatty run cannot block on a full pipe.
pub fn run_tests(
    files: &[String],
    extra_args: &[&str],
    env: &[(&str, &Path)],
    deadline: Duration,
) -> Run {
    // Node 20 has a global WebSocket only behind this flag (later versions accept it too).
    let mut command = Command::new("node");
    command
        .args(["--experimental-websocket", "--test"])
        .args(extra_args)
        .args(files)
        .current_dir(web_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    // Its own process group: at the deadline the test files' node processes,
    // their servers and browsers go with it, and none holds the pipes open.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().expect("node starts");
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).ok();
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for node") {
            break Some(status);
        }
        if started.elapsed() > deadline {
            kill_group(&mut child);
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Run {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// Kills `child` and, on Unix, the process group it leads.
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    let _ = Command::new("kill")
        .args(["-KILL", &format!("-{}", child.id())])
        .status();
    let _ = child.kill();
    let _ = child.wait();
}
