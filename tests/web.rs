//! The browser/JS client (web/): its node tests, run against the server this
//! build makes. `node --test` runs web/test/*.test.js with `TICKWIRE_BIN`
//! naming cargo's tickwire binary, so the codec is held to the shared
//! vectors and the client to this very server. Node.js (20 or later) and npm
//! must be installed: without them this test fails, it does not skip. The
//! type check in web/test/types.test.js needs typescript in web/node_modules:
//! this test runs `npm ci` there first when it is missing (the npm registry,
//! web/package-lock.json).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The node tests bound every wait themselves; this only catches a hang.
const NODE_DEADLINE: Duration = Duration::from_secs(180);

#[test]
fn the_web_client_passes_its_node_tests_against_this_server() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let node = Command::new("node").arg("--version").output();
    let Ok(version) = node
        .as_ref()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    else {
        panic!("node is not installed: the web client's tests (web/test/) need Node.js 20 or later on PATH");
    };
    if !web.join("node_modules/.bin/tsc").exists() {
        let npm = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&web)
            .output()
            .unwrap_or_else(|e| {
                panic!("npm is not installed ({e}): the web client's type check needs it (install Node.js 20 or later with npm)")
            });
        assert!(
            npm.status.success(),
            "`npm ci` in web/ failed (it installs typescript for the type check):\n{}",
            String::from_utf8_lossy(&npm.stderr)
        );
    }
    let mut files: Vec<String> = std::fs::read_dir(web.join("test"))
        .expect("web/test exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".test.js"))
        .map(|name| format!("test/{name}"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no web/test/*.test.js");

    // Node 20 has a global WebSocket only behind this flag (later versions accept it too).
    let mut child = Command::new("node")
        .args(["--experimental-websocket", "--test"])
        .args(&files)
        .current_dir(&web)
        .env("TICKWIRE_BIN", env!("CARGO_BIN_EXE_tickwire"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    // Drain the pipes while waiting, so a chatty run cannot block on a full pipe.
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
        if started.elapsed() > NODE_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (out, err) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    match status {
        Some(s) if s.success() => {}
        Some(s) => panic!("node {version}: the web client's tests failed ({s}):\n{out}\n{err}"),
        None => panic!(
            "node {version}: the web client's tests ran past {NODE_DEADLINE:?}:\n{out}\n{err}"
        ),
    }
}
