//! The README's "Writing your own game" and "Playing from Rust" are the files
//! in examples/, shown verbatim: these tests run them (a `my_game` server, the
//! `play` client against it) and check that the README still shows exactly
//! those files, so the documented code is the tested code.

#[path = "../examples/my_game/game.rs"]
mod game;

use game::{MyGame, Steer, Thing};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};
use tickwire::game::{ClientGame, Game, MatchSettings};
use tickwire::glam::Vec2;
use tickwire::protocol::{PlayerId, Tick};
use tickwire::replicate::schema::hash_hex;
use tickwire::snapshot::{encode_delta, Snapshot};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The examples' binaries, fresh. `cargo test --workspace` builds them with
/// the tests, but `cargo test --test examples` does not, and a binary left
/// from an earlier build would test old code: so they are built here, with
/// the same workspace-wide selection `cargo test --workspace` uses (a no-op
/// after it, well under a second). Cargo holds no lock while tests run.
fn examples_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // This test runs from target/<profile>/deps; examples go beside deps.
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>/deps/<test>");
        let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        build
            .args([
                "build",
                "--workspace",
                "--examples",
                "--quiet",
                "--target-dir",
            ])
            .arg(profile_dir.parent().expect("target/<profile>"))
            .current_dir(ROOT);
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => {}
            Some("release") => {
                build.arg("--release");
            }
            Some(profile) => {
                build.args(["--profile", profile]);
            }
            None => panic!("no profile directory in {}", exe.display()),
        }
        let out = run_within(&mut build, Duration::from_secs(900));
        assert!(
            out.status.success(),
            "building the examples failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        profile_dir.join("examples")
    })
}

/// Runs `cmd` to completion with its output captured; kills it after `limit`.
fn run_within(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    // Read on threads, so that neither pipe can fill and stall the child.
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting on the child") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Reads `pipe` to its end on a thread.
fn read_all(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// `my_game serve` on a port the OS picks; killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(examples_dir().join("my_game"))
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("my_game starts");
        // Its first line names the address it listens on, once it listens.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut server = Server { child, port: 0 };
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("my_game prints its address within 10 s");
        let port = line
            .strip_prefix("tickwire listening on ws://127.0.0.1:")
            .and_then(|rest| rest.split('/').next())
            .and_then(|port| port.parse().ok());
        server.port = port.unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
        server
    }

    fn get(&self, path: &str) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let mut response = agent.get(&url).call().expect("HTTP request completes");
        let body = response.body_mut().read_to_string().unwrap_or_default();
        (response.status().as_u16(), body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn play_joins_my_game_and_collects_three_points() {
    let server = Server::start();
    let url = format!("ws://127.0.0.1:{}/ws", server.port);
    let out = run_within(
        Command::new(examples_dir().join("play")).arg(&url),
        Duration::from_secs(40),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "play failed:\n{stdout}\n{stderr}");
    let joined = stdout.lines().next().unwrap_or_default();
    assert!(
        joined.starts_with("joined match ") && joined.contains(" as entity "),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("tick ")),
        "no position report:\n{stdout}"
    );
    // The last line: "N points in T s"; N counts coins the server saw it take.
    let last = stdout.lines().last().unwrap_or_default();
    let points: u16 = last
        .split_once(" points in ")
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no score line:\n{stdout}"));
    assert!(points >= 3, "{stdout}");
}

#[test]
fn my_game_serves_its_own_schema() {
    let server = Server::start();
    let (status, body) = server.get("/v1/schema");
    assert_eq!(status, 200, "{body}");
    let served: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(served["hash"], hash_hex(MyGame::schema_hash()));
    let schema = &served["schema"];
    let kinds: Vec<&str> = schema["kinds"]
        .as_array()
        .expect("kinds")
        .iter()
        .filter_map(|k| k["name"].as_str())
        .collect();
    assert_eq!(kinds, ["Player", "Coin"]);
    assert_eq!(schema["input"]["name"], "Steer");
    let pos = &schema["kinds"][0]["fields"][0];
    assert_eq!(pos["name"], "pos");
    assert_eq!(pos["predict"]["linear"], "vel");
}

/// What the game's comments promise: a player running straight is predicted
/// exactly, so a delta that only moves it is empty (one byte: two empty lists),
/// one tick after its baseline or nine.
#[test]
fn a_straight_run_costs_nothing_in_a_delta() {
    let mut game = MyGame::new(&MatchSettings {
        seed: 7,
        tick_rate: 30,
        capacity: 4,
    });
    let me = game.join(PlayerId(1));
    // An odd direction: its velocity is nowhere near the grid before `snap`.
    let dir = Vec2::new(0.83, -0.41);
    game.apply_input(PlayerId(1), 1, &Steer { dir });
    let snapshots: Vec<Snapshot<Thing>> = (1..=10)
        .map(|t| {
            game.step(Tick(t));
            let mut out = Vec::new();
            game.freeze(&mut out);
            Snapshot::new(Tick(t), out)
        })
        .collect();
    let player = |s: &Snapshot<Thing>| match s.get(me) {
        Some(Thing::Player(p)) => *p,
        other => panic!("not my player: {other:?}"),
    };
    let (first, last) = (player(&snapshots[0]), player(&snapshots[9]));
    assert_eq!(last.score, 0, "the run must not take a coin: {last:?}");
    assert!(first.vel.x > 0.0 && first.vel.y < 0.0, "{first:?}");
    assert_eq!(
        last.pos,
        first.pos + 9.0 * first.vel,
        "the run went straight"
    );
    for pair in snapshots.windows(2) {
        assert_eq!(encode_delta(Some(&pair[0]), &pair[1]).len(), 1);
    }
    assert_eq!(encode_delta(Some(&snapshots[0]), &snapshots[9]).len(), 1);
}

#[test]
fn the_readme_shows_the_examples_verbatim() {
    let read = |path: &str| {
        std::fs::read_to_string(Path::new(ROOT).join(path))
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let readme = read("README.md");
    for path in [
        "examples/my_game/game.rs",
        "examples/my_game/main.rs",
        "examples/play.rs",
    ] {
        let block = format!("```rust\n{}```\n", read(path));
        assert!(
            readme.contains(&block),
            "README.md does not show {path} as it is; paste it in a ```rust block"
        );
    }
    // The README states the game's length; keep it true.
    let lines = read("examples/my_game/game.rs").lines().count();
    assert!(
        readme.contains(&format!("{lines} lines")),
        "README.md should say game.rs is {lines} lines"
    );
}
