//! The browser/JS client (web/): its node tests, run against the server this
//! build makes. `node --test` runs web/test/*.test.js (not the browser tests
//! of web/test/browser/: tests/browser.rs runs those) with `TICKWIRE_BIN`
//! naming cargo's tickwire binary, so the codec is held to the shared
//! vectors and the client to this very server. Node.js (20 or later) and npm
//! must be installed: without them this test fails, it does not skip. The
//! type check in web/test/types.test.js needs typescript in web/node_modules:
//! this test runs `npm ci` there first when it is missing (the npm registry,
//! web/package-lock.json).

mod node;

use std::path::Path;
use std::time::Duration;

/// The node tests bound every wait themselves; this only catches a hang.
const NODE_DEADLINE: Duration = Duration::from_secs(400);

#[test]
fn the_web_client_passes_its_node_tests_against_this_server() {
    let version = node::node_version();
    node::ensure_packages(&["typescript"]);
    let files = node::test_files("test");
    let bin = Path::new(env!("CARGO_BIN_EXE_tickwire"));
    let run = node::run_tests(&files, &[], &[("TICKWIRE_BIN", bin)], NODE_DEADLINE);
    let (out, err) = (run.stdout, run.stderr);
    match run.status {
        Some(s) if s.success() => {}
        Some(s) => panic!("node {version}: the web client's tests failed ({s}):\n{out}\n{err}"),
        None => panic!(
            "node {version}: the web client's tests ran past {NODE_DEADLINE:?}:\n{out}\n{err}"
        ),
    }
}
