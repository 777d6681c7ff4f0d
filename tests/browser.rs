//! The demo page in a real headless Chromium against the server this build
//! makes: `node --test` runs web/test/browser/*.test.js, which drive the
//! browser with playwright-core (web/package.json; `npm ci` when it is
//! missing) and start their own servers from `TICKWIRE_BIN`. They save a
//! screenshot of each state of the demo under `TICKWIRE_TEST_OUT`
//! (target/tmp/browser/).
//!
//! Node.js 20 or later with npm, and Chromium (`CHROMIUM`, else
//! /usr/bin/chromium or `chromium` on PATH; Debian: `apt-get install
//! chromium`) must be installed: without them this test fails, it does not
//! skip. No browser is downloaded.
//!
//! The wss:// test needs a certificate the server can serve: one for
//! `localhost` and `127.0.0.1`, made here at run time (`TICKWIRE_TEST_CERT`,
//! `TICKWIRE_TEST_KEY`), so none is kept in the repository.

mod node;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every wait in the browser tests is bounded; this only catches a hang.
const NODE_DEADLINE: Duration = Duration::from_secs(300);

/// The Chromium to drive: `CHROMIUM`, else Debian's, else the one on PATH.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "CHROMIUM={} is not a file: point it at a Chromium binary, or unset it to use /usr/bin/chromium",
            path.display()
        );
        return path;
    }
    let debian = PathBuf::from("/usr/bin/chromium");
    if debian.is_file() {
        return debian;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "Chromium is not installed: the browser tests (web/test/browser/) drive a real one \
                 (Debian: `apt-get install chromium`, or set CHROMIUM to its path)"
            )
        })
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, as PEM files in `dir`.
fn write_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("a self-signed certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("cert.pem is written");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("key.pem is written");
    (cert, key)
}

#[test]
fn the_demo_page_plays_in_headless_chromium_against_this_server() {
    let version = node::node_version();
    let chromium = chromium();
    node::ensure_packages(&["playwright-core", "typescript"]);
    let files = node::test_files("test/browser");

    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    if out.exists() {
        std::fs::remove_dir_all(&out).expect("the last run's output is removed");
    }
    std::fs::create_dir_all(&out).expect("the output folder is made");
    let (cert, key) = write_certificate(&out);

    let bin = Path::new(env!("CARGO_BIN_EXE_tickwire"));
    // One file at a time: each runs a Chromium and servers, on a 2-core machine too.
    let run = node::run_tests(
        &files,
        &["--test-concurrency=1"],
        &[
            ("TICKWIRE_BIN", bin),
            ("CHROMIUM", &chromium),
            ("TICKWIRE_TEST_OUT", &out),
            ("TICKWIRE_TEST_CERT", &cert),
            ("TICKWIRE_TEST_KEY", &key),
        ],
        NODE_DEADLINE,
    );
    let (stdout, stderr) = (run.stdout, run.stderr);
    match run.status {
        Some(s) if s.success() => {}
        Some(s) => panic!(
            "node {version}: the browser tests failed ({s}); screenshots in {}:\n{stdout}\n{stderr}",
            out.display()
        ),
        None => panic!(
            "node {version}: the browser tests ran past {NODE_DEADLINE:?}; screenshots in {}:\n{stdout}\n{stderr}",
            out.display()
        ),
    }
}
