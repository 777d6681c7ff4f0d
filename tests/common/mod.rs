//! Shared setup for integration tests: a real server on 127.0.0.1 port 0.
#![allow(dead_code)]

pub mod pki;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tickwire::client::{Client, ClientEvent, ClientOptions};
use tickwire::game::arena::ArenaEntity;
use tickwire::net::ServerHandle;
use tickwire::protocol::{MatchId, Tick};
use tickwire::snapshot::Snapshot;
use tickwire::{Arena, Config};

/// The admin token of every test server (`test_config`).
pub const ADMIN_TOKEN: &str = "an-admin-token-for-the-tests";

pub fn test_config() -> Config {
    Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        tick_threads: 1,
        admin_token: Some(ADMIN_TOKEN.into()),
        // Tests call the API in quick bursts from one address.
        api_requests_per_second: 1000,
        ..Config::default()
    }
}

pub async fn start(config: Config) -> ServerHandle<Arena> {
    tickwire::net::start::<Arena>(config)
        .await
        .expect("server starts")
}

/// Every bounded wait in the tests.
pub async fn within<T>(what: &str, secs: u64, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs}s: {what}"))
}

pub async fn connect(
    server: &ServerHandle<Arena>,
    match_id: Option<MatchId>,
    options: ClientOptions,
) -> Client<Arena> {
    let url = match match_id {
        Some(id) => format!("{}?match={}", server.ws_url(), id.0),
        None => server.ws_url(),
    };
    within("connect", 10, Client::<Arena>::connect(&url, options))
        .await
        .expect("client connects")
}

/// Receives until the next snapshot; returns its tick.
pub async fn next_snapshot(client: &mut Client<Arena>) -> Tick {
    loop {
        match within("next snapshot", 5, client.recv())
            .await
            .expect("recv")
        {
            ClientEvent::Snapshot { tick, .. } => return tick,
            _ => continue,
        }
    }
}

/// Records every snapshot a match publishes, by tick: the server's own state.
#[derive(Clone)]
pub struct ServerRecord<E = ArenaEntity> {
    pub snapshots: Arc<Mutex<HashMap<Tick, Arc<tickwire::tick::Published<E>>>>>,
}

impl<E: tickwire::NetEntity> ServerRecord<E> {
    pub fn start<G: tickwire::Game<Entity = E>>(server: &ServerHandle<G>, id: MatchId) -> Self {
        let handle = server.lobby().get(id).expect("match exists");
        let slot = handle.observe(1024);
        let snapshots = Arc::new(Mutex::new(HashMap::new()));
        let record = snapshots.clone();
        tokio::spawn(async move {
            loop {
                while let Some(p) = slot.pop() {
                    record.lock().unwrap().insert(p.snapshot.tick, p);
                }
                if slot.closed().is_some() {
                    break;
                }
                slot.wait().await;
            }
        });
        ServerRecord { snapshots }
    }

    /// The server's snapshot at `tick`, waiting briefly for the observer to catch up.
    pub async fn at(&self, tick: Tick) -> Snapshot<E> {
        for _ in 0..200 {
            if let Some(p) = self.snapshots.lock().unwrap().get(&tick) {
                return p.snapshot.clone();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("server never recorded tick {tick:?}");
    }

    pub fn published(&self, tick: Tick) -> Option<Arc<tickwire::tick::Published<E>>> {
        self.snapshots.lock().unwrap().get(&tick).cloned()
    }
}

/// One HTTP request to the server under test; returns the status and the
/// body. POSTs carry the admin token.
pub async fn http(method: &str, url: String, body: Option<String>) -> (u16, String) {
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let headers: Vec<(&str, &str)> = if method == "POST" {
        vec![("authorization", admin.as_str())]
    } else {
        Vec::new()
    };
    let (status, _, body) = request(method, url, body, &headers).await;
    (status, body)
}

/// One HTTP request with exactly these extra headers (a body is sent as
/// JSON unless a content-type is given); returns the status, the response
/// headers and the body.
pub async fn request(
    method: &str,
    url: String,
    body: Option<String>,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    let method = method.to_string();
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let call = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        let has_type = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        let response = match method.as_str() {
            "GET" => {
                let mut r = agent.get(&url);
                for (k, v) in &headers {
                    r = r.header(k.as_str(), v.as_str());
                }
                r.call()
            }
            "POST" => {
                let mut r = agent.post(&url);
                for (k, v) in &headers {
                    r = r.header(k.as_str(), v.as_str());
                }
                match body {
                    Some(b) if has_type => r.send(b),
                    Some(b) => r.header("content-type", "application/json").send(b),
                    None => r.send_empty(),
                }
            }
            m => panic!("unsupported method {m}"),
        };
        let mut response = response.expect("HTTP request completes");
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        (status, headers, body)
    });
    within("HTTP request", 10, call).await.expect("HTTP task")
}

/// `http` with a JSON body parsed (Null when the body is not JSON).
pub async fn http_json(
    method: &str,
    url: String,
    body: Option<String>,
) -> (u16, serde_json::Value) {
    let (status, body) = http(method, url, body).await;
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// Polls `cond` until it holds, failing the test after `secs` seconds.
pub async fn wait_until(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {secs}s waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The bytes of a `Join` with this protocol version and no resume token.
pub fn join_bytes(version: u16) -> Vec<u8> {
    let mut out = Vec::new();
    tickwire::protocol::encode_client::<
        tickwire::game::arena::ArenaInput,
        tickwire::game::arena::ArenaMessage,
    >(
        &tickwire::protocol::ClientMsg::Join {
            version,
            resume: None,
            last_event: 0,
        },
        &mut out,
    );
    out
}

/// The auth secret of the tests that turn authentication on.
pub const SECRET: &str = "a-test-secret-of-enough-length";

/// An HS256 join token for `sub`, valid from now for `exp_from_now` seconds
/// (negative: already expired), pinned to `match_id` if given.
pub fn jwt(sub: &str, match_id: Option<u64>, exp_from_now: i64) -> String {
    jwt_with(sub, match_id, exp_from_now, None)
}

/// As [`jwt`], with a `role` claim when given.
pub fn jwt_with(sub: &str, match_id: Option<u64>, exp_from_now: i64, role: Option<&str>) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut claims = serde_json::json!({ "sub": sub, "iat": now, "exp": now + exp_from_now });
    if let Some(m) = match_id {
        claims["match"] = serde_json::json!(m);
    }
    if let Some(role) = role {
        claims["role"] = serde_json::json!(role);
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}
