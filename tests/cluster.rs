//! Cluster mode with real processes: a `redis-server` on a free loopback
//! port and two or three `tickwire serve` nodes, all started here. Covers
//! the directory, matchmaking and tickets, redirects, broadcasts and kicks,
//! a node killed with SIGKILL, Redis killed and restarted, and drains.

mod common;
mod rig;

use common::{request, within};
use rig::{Node, Redis};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tickwire::client::{Client, ClientError, ClientEvent, ClientOptions};
use tickwire::Arena;

/// A GET or POST (no admin token) answered with JSON.
async fn call(
    method: &str,
    url: String,
    body: Option<Value>,
) -> (u16, Vec<(String, String)>, Value) {
    let (status, headers, body) = request(method, url, body.map(|b| b.to_string()), &[]).await;
    (
        status,
        headers,
        serde_json::from_str(&body).unwrap_or(Value::Null),
    )
}

/// A POST with the admin token.
async fn admin(node: &Node, path: &str, body: Value) -> (u16, Value) {
    let auth = format!("Bearer {}", rig::ADMIN);
    let (status, _, body) = request(
        "POST",
        format!("{}{path}", node.http()),
        Some(body.to_string()),
        &[("authorization", auth.as_str())],
    )
    .await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// The ids of the live nodes, as `at` sees the directory.
async fn node_ids(at: &Node) -> Option<Vec<String>> {
    let (status, _, body) = call("GET", format!("{}/v1/nodes", at.http()), None).await;
    (status == 200).then(|| {
        body["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_string())
            .collect()
    })
}

/// Polls the directory (bounded) until it lists exactly `ids`.
async fn wait_for_nodes(at: &Node, ids: &[&str], secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let seen = node_ids(at).await;
        if seen.as_deref().is_some_and(|s| s == ids) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the directory shows {seen:?}, not {ids:?}, after {secs}s\n{}",
            at.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The cluster's matches as `at` lists them (`?scope=cluster`).
async fn cluster_matches(at: &Node) -> Vec<Value> {
    let (status, _, body) = call(
        "GET",
        format!("{}/v1/matches?scope=cluster", at.http()),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["matches"].as_array().unwrap().clone()
}

async fn matchmake(at: &Node, body: Value) -> (u16, Vec<(String, String)>, Value) {
    call("POST", format!("{}/v1/matchmake", at.http()), Some(body)).await
}

fn options() -> ClientOptions {
    ClientOptions::default()
}

async fn connect(url: &str) -> Client<Arena> {
    within("connect", 15, Client::<Arena>::connect(url, options()))
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"))
}

/// Connects through a matchmaking answer.
async fn connect_offer(offer: &Value) -> Client<Arena> {
    let url = format!(
        "{}?ticket={}",
        offer["url"].as_str().unwrap(),
        offer["ticket"].as_str().unwrap()
    );
    connect(&url).await
}

/// Receives until the next snapshot (bounded).
async fn snapshot(client: &mut Client<Arena>) {
    within("a snapshot", 10, async {
        loop {
            match client.recv().await.expect("the connection stays up") {
                ClientEvent::Snapshot { .. } => return,
                _ => continue,
            }
        }
    })
    .await
}

/// The node a match id belongs to, from the cluster list.
async fn node_of_match(at: &Node, id: u64) -> Option<String> {
    cluster_matches(at)
        .await
        .iter()
        .find(|m| m["id"] == id)
        .map(|m| m["node"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_register_and_every_node_lists_the_whole_cluster() {
    let redis = Redis::start();
    let a = Node::start(&redis, "a", &["--node-ttl", "3s"]);
    let b = Node::start(&redis, "b", &["--node-ttl", "3s"]);
    wait_for_nodes(&a, &["a", "b"], 10).await;
    wait_for_nodes(&b, &["a", "b"], 10).await;

    let (_, _, listed) = call("GET", format!("{}/v1/nodes", a.http()), None).await;
    let node_b = listed["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "b")
        .unwrap()
        .clone();
    assert_eq!(node_b["url"], format!("ws://127.0.0.1:{}", b.port));
    assert_eq!(node_b["game"], "arena-v1");
    assert_eq!(node_b["draining"], false);
    assert_eq!(listed["self"], "a");

    // A player on b shows up in a's cluster-wide list with b's figures.
    let mut player = connect(&b.ws()).await;
    snapshot(&mut player).await;
    let match_id = player.welcome().match_id.0;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let matches = cluster_matches(&a).await;
        let seen = matches.iter().find(|m| m["id"] == match_id).cloned();
        if let Some(m) = seen {
            if m["players"] == 1 {
                assert_eq!(m["node"], "b");
                assert_eq!(m["capacity"], 16);
                assert_eq!(m["open_seats"], 15);
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "match {match_id} not listed: {matches:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The local list stays local.
    let (_, _, local) = call("GET", format!("{}/v1/matches", a.http()), None).await;
    assert_eq!(local["matches"], json!([]));
    let (status, _, bad) = call("GET", format!("{}/v1/matches?scope=galaxy", a.http()), None).await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (400, Some("bad_scope"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_has_no_cluster_routes_but_broadcasts_to_its_players() {
    let server = common::start(common::test_config()).await;
    let (status, _, body) = call("GET", format!("{}/v1/nodes", server.http_url()), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("cluster_off"))
    );
    let (status, _, body) = call("POST", format!("{}/v1/matchmake", server.http_url()), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("cluster_off"))
    );
    // A ticket means nothing to a single node.
    let refused =
        Client::<Arena>::connect(&format!("{}?ticket=x.y", server.ws_url()), options()).await;
    assert!(
        matches!(&refused, Err(ClientError::Refused { status: 400, body }) if body.contains("bad_ticket")),
        "{:?}",
        refused.err()
    );
    // Broadcast and kick need no cluster: they reach this node's players.
    let mut player = connect(&server.ws_url()).await;
    snapshot(&mut player).await;
    let (status, body) = common::http_json(
        "POST",
        format!("{}/v1/admin/broadcast", server.http_url()),
        Some(json!({ "text": "maintenance at noon" }).to_string()),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(notice(&mut player).await, "maintenance at noon");

    // Without an admin token, the admin routes are off.
    let open = common::start(tickwire::Config {
        admin_token: None,
        ..common::test_config()
    })
    .await;
    let (status, body) = common::http_json(
        "POST",
        format!("{}/v1/admin/broadcast", open.http_url()),
        Some(json!({ "text": "hi" }).to_string()),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("admin_routes_off"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matchmaking_fills_the_fullest_match_then_the_least_loaded_node() {
    let redis = Redis::start();
    let flags = ["--node-ttl", "3s", "--players-per-match", "2"];
    let a = Node::start(&redis, "a", &flags);
    let b = Node::start(&redis, "b", &flags);
    wait_for_nodes(&a, &["a", "b"], 10).await;

    // Two players on a: a's match is full, a carries the load.
    let mut on_a = Vec::new();
    for _ in 0..2 {
        let mut c = connect(&a.ws()).await;
        snapshot(&mut c).await;
        on_a.push(c);
    }
    let full = on_a[0].welcome().match_id.0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cluster_matches(&b)
        .await
        .iter()
        .any(|m| m["id"] == full && m["open_seats"] == 0)
    {
        assert!(Instant::now() < deadline, "a's full match never listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // No open match: a new one on the least-loaded node, b.
    let (status, _, offer) = matchmake(&b, json!({})).await;
    assert_eq!(status, 200, "{offer}");
    assert_eq!(offer["node"], "b");
    assert_eq!(offer["url"], b.ws());
    assert_eq!(offer["match_id"], Value::Null);
    let mut first = connect_offer(&offer).await;
    snapshot(&mut first).await;
    let opened = first.welcome().match_id.0;
    assert_eq!(node_of_match_soon(&a, opened).await, "b");

    // A match asked for by id is found where it lives.
    let (status, _, named) = matchmake(&a, json!({ "match_id": opened })).await;
    assert_eq!(status, 200, "{named}");
    assert_eq!(
        (named["node"].as_str(), named["match_id"].as_u64()),
        (Some("b"), Some(opened))
    );

    // Asked on a, the fullest open match is b's half-full one.
    let deadline = Instant::now() + Duration::from_secs(10);
    let offer = loop {
        let (status, _, offer) = matchmake(&a, json!({})).await;
        assert_eq!(status, 200, "{offer}");
        if offer["match_id"] == opened {
            break offer;
        }
        assert!(
            Instant::now() < deadline,
            "never offered match {opened}: {offer}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(offer["node"], "b");
    let ticket = offer["ticket"].as_str().unwrap();
    // Shown at the wrong node, forged, or garbage: refused, and not used up.
    let wrong = Client::<Arena>::connect(&format!("{}?ticket={ticket}", a.ws()), options()).await;
    assert!(
        matches!(&wrong, Err(ClientError::Refused { status: 421, body }) if body.contains("ticket_wrong_node")),
        "{:?}",
        wrong.err()
    );
    let (body, _) = ticket.split_once('.').unwrap();
    let forged =
        Client::<Arena>::connect(&format!("{}?ticket={body}.AAAA", b.ws()), options()).await;
    assert!(
        matches!(&forged, Err(ClientError::Refused { status: 401, body }) if body.contains("bad_ticket")),
        "{:?}",
        forged.err()
    );
    let garbage = Client::<Arena>::connect(&format!("{}?ticket=%00%01", b.ws()), options()).await;
    assert!(
        matches!(&garbage, Err(ClientError::Refused { status: 401, .. })),
        "{:?}",
        garbage.err()
    );
    let url = format!("{}?ticket={ticket}", offer["url"].as_str().unwrap());
    let mut second = connect(&url).await;
    assert_eq!(
        second.welcome().match_id.0,
        opened,
        "seated in the offered match"
    );
    snapshot(&mut second).await;
    // The same ticket again: refused, single use, and counted.
    let reused = Client::<Arena>::connect(&url, options()).await;
    assert!(
        matches!(&reused, Err(ClientError::Refused { status: 409, body }) if body.contains("ticket_reused")),
        "{:?}",
        reused.err()
    );
    let (_, _, metrics) = request("GET", format!("{}/metrics", b.http()), None, &[]).await;
    for counted in [
        r#"tickwire_handshake_refusals_total{reason="ticket_reused"} 1"#,
        r#"tickwire_handshake_refusals_total{reason="bad_ticket"} 2"#,
    ] {
        assert!(metrics.contains(counted), "{counted} not in\n{metrics}");
    }
    // Bad requests to matchmaking itself.
    let (status, _, body) = matchmake(&a, json!({ "match_id": 999_999_999u64 })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("match_not_found"))
    );
    let (status, _, body) = matchmake(&a, json!({ "match_id": full })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("match_full"))
    );
    let (status, _, body) = matchmake(&a, json!({ "game": "chess" })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("no_room"))
    );
    let (status, _, body) = matchmake(&a, json!({ "seat": 1 })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    let (status, _, body) = request(
        "POST",
        format!("{}/v1/matchmake", a.http()),
        Some("{not json".into()),
        &[],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    drop((on_a, first, second));
}

/// The node of match `id`, waiting (bounded) for the directory to list it.
async fn node_of_match_soon(at: &Node, id: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(node) = node_of_match(at, id).await {
            return node;
        }
        assert!(Instant::now() < deadline, "match {id} never listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_node_redirects_quick_join_and_the_client_follows() {
    let redis = Redis::start();
    let small = [
        "--node-ttl",
        "3s",
        "--players-per-match",
        "2",
        "--max-matches",
        "1",
    ];
    let a = Node::start(&redis, "a", &small);
    let b = Node::start(&redis, "b", &["--node-ttl", "3s"]);
    wait_for_nodes(&a, &["a", "b"], 10).await;
    let mut on_a = Vec::new();
    for _ in 0..2 {
        let c = connect(&a.ws()).await;
        assert_eq!(c.redirects(), 0);
        on_a.push(c);
    }
    // a is full (one match of two): the third quick-join goes to b.
    let mut moved = connect(&a.ws()).await;
    assert_eq!(moved.redirects(), 1);
    assert!(moved.url().starts_with(&b.ws()), "{}", moved.url());
    assert!(!moved.url().contains("ticket="), "{}", moved.url());
    snapshot(&mut moved).await;
    assert_eq!(
        node_of_match_soon(&a, moved.welcome().match_id.0).await,
        "b"
    );
    // A client that does not follow redirects reads the same in JSON.
    let refused = tokio_tungstenite::connect_async(a.ws()).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
        panic!("a full node upgraded a quick-join");
    };
    assert_eq!(response.status().as_u16(), 307);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "redirect");
    assert_eq!(body["error"]["node"], "b");
    assert_eq!(
        location,
        format!(
            "{}?ticket={}",
            body["error"]["url"].as_str().unwrap(),
            body["error"]["ticket"].as_str().unwrap()
        )
    );
    drop(on_a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_for_the_last_seats_seats_exactly_that_many_and_places_the_rest_elsewhere() {
    let redis = Redis::start();
    let flags = ["--node-ttl", "3s", "--players-per-match", "4"];
    let a = Node::start(&redis, "a", &flags);
    let b = Node::start(&redis, "b", &flags);
    wait_for_nodes(&a, &["a", "b"], 10).await;
    // A match on b with 2 of 4 seats taken: k = 2 seats left.
    let mut seated = Vec::new();
    for _ in 0..2 {
        let mut c = connect(&b.ws()).await;
        snapshot(&mut c).await;
        seated.push(c);
    }
    let contested = seated[0].welcome().match_id.0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cluster_matches(&a)
        .await
        .iter()
        .any(|m| m["id"] == contested && m["players"] == 2)
    {
        assert!(Instant::now() < deadline, "contested match never listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // N = 6 players ask at once; the directory offers them all the
    // fullest open match, which has 2 seats.
    let offers: Vec<Value> = futures_util::future::join_all((0..6).map(|_| async {
        let (status, _, offer) = matchmake(&a, json!({})).await;
        assert_eq!(status, 200, "{offer}");
        offer
    }))
    .await;
    assert!(
        offers.iter().filter(|o| o["match_id"] == contested).count() > 2,
        "the race needs more offers than seats: {offers:?}"
    );
    let clients: Vec<Client<Arena>> =
        futures_util::future::join_all(offers.iter().map(connect_offer)).await;
    let in_contested = clients
        .iter()
        .filter(|c| c.welcome().match_id.0 == contested)
        .count();
    assert_eq!(in_contested, 2, "exactly the 2 free seats were taken");
    assert_eq!(clients.len(), 6, "everyone else was seated elsewhere");
    // The contested match holds exactly its capacity.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = cluster_matches(&a).await;
        let c = m.iter().find(|m| m["id"] == contested).unwrap().clone();
        if c["players"] == 4 {
            assert_eq!(c["open_seats"], 0);
            break;
        }
        assert!(Instant::now() < deadline, "{c}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Receives (bounded) until an operator's notice; returns its text.
async fn notice(client: &mut Client<Arena>) -> String {
    within("a notice", 10, async {
        loop {
            if let ClientEvent::Notice { text } = client.recv().await.expect("connection up") {
                return text;
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_reaches_every_node_and_a_kick_finds_the_player_anywhere() {
    let redis = Redis::start();
    let a = Node::start(&redis, "a", &["--node-ttl", "3s"]);
    let b = Node::start(&redis, "b", &["--node-ttl", "3s"]);
    wait_for_nodes(&a, &["a", "b"], 10).await;
    let mut on_a = connect(&a.ws()).await;
    let mut on_b = connect(&b.ws()).await;
    snapshot(&mut on_a).await;
    snapshot(&mut on_b).await;

    let (status, body) = admin(
        &a,
        "/v1/admin/broadcast",
        json!({ "text": "restart in 5 minutes" }),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(notice(&mut on_a).await, "restart in 5 minutes");
    assert_eq!(notice(&mut on_b).await, "restart in 5 minutes");

    // Admin routes need the token.
    let (status, _, _) = call(
        "POST",
        format!("{}/v1/admin/broadcast", a.http()),
        Some(json!({ "text": "hi" })),
    )
    .await;
    assert_eq!(status, 401);
    let (status, body) = admin(&a, "/v1/admin/broadcast", json!({ "text": "" })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    let (status, body) = admin(&a, "/v1/admin/kick", json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );

    // Kicked through a, played on b: closed 1008, and the session is gone.
    let player = on_b.welcome().player_id.0;
    let token = on_b.welcome().session_token;
    let (status, body) = admin(
        &a,
        "/v1/admin/kick",
        json!({ "player": player, "reason": "cheating" }),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let closed = within("the kick", 10, async {
        loop {
            match on_b.recv().await {
                Ok(_) => continue,
                Err(e) => return e,
            }
        }
    })
    .await;
    assert!(
        matches!(&closed, ClientError::Closed { code: 1008, reason } if reason.contains("cheating")),
        "{closed:?}"
    );
    let resumed = Client::<Arena>::resume(&b.ws(), token, options()).await;
    assert!(
        resumed
            .as_ref()
            .err()
            .is_some_and(ClientError::is_session_gone),
        "a kicked player cannot resume: {:?}",
        resumed.err()
    );
    // The player on a was not touched.
    snapshot(&mut on_a).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_leaves_the_directory_within_its_ttl_and_others_play_on() {
    let redis = Redis::start();
    let a = Node::start(&redis, "a", &["--node-ttl", "2s"]);
    let mut b = Node::start(&redis, "b", &["--node-ttl", "2s"]);
    wait_for_nodes(&a, &["a", "b"], 10).await;
    let mut on_a = connect(&a.ws()).await;
    snapshot(&mut on_a).await;
    let on_b = connect(&b.ws()).await;
    let b_match = on_b.welcome().match_id.0;
    node_of_match_soon(&a, b_match).await;

    b.kill9();
    let killed = Instant::now();
    // Within the TTL (2 s), plus slack for the test's own polling.
    wait_for_nodes(&a, &["a"], 5).await;
    assert!(
        killed.elapsed() < Duration::from_millis(3500),
        "{:?}",
        killed.elapsed()
    );
    assert_eq!(
        node_of_match(&a, b_match).await,
        None,
        "b's match left with b"
    );
    // No new player is routed to b.
    for _ in 0..5 {
        let (status, _, offer) = matchmake(&a, json!({})).await;
        assert_eq!(status, 200, "{offer}");
        assert_eq!(offer["node"], "a");
    }
    let (status, _, body) = matchmake(&a, json!({ "match_id": b_match })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("match_not_found"))
    );
    // The player on a never noticed.
    for _ in 0..10 {
        snapshot(&mut on_a).await;
    }
    drop(on_b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_serve_through_a_redis_restart_then_register_and_subscribe_again() {
    let mut redis = Redis::start();
    let a = Node::start(&redis, "a", &["--node-ttl", "2s"]);
    let b = Node::start(&redis, "b", &["--node-ttl", "2s"]);
    wait_for_nodes(&a, &["a", "b"], 10).await;
    let mut on_a = connect(&a.ws()).await;
    let mut on_b = connect(&b.ws()).await;
    snapshot(&mut on_a).await;
    snapshot(&mut on_b).await;

    redis.kill();
    // Matchmaking says so, with a retry hint; matches play on.
    let (status, headers, body) = matchmake(&a, json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("cluster_unavailable")),
        "{body}"
    );
    assert!(
        headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("retry-after") && v == "1"),
        "{headers:?}"
    );
    let (status, _, _) = call("GET", format!("{}/v1/nodes", a.http()), None).await;
    assert_eq!(status, 503);
    let down = Instant::now();
    while down.elapsed() < Duration::from_secs(2) {
        snapshot(&mut on_a).await;
        snapshot(&mut on_b).await;
    }

    // Redis is back, empty: the nodes register again without a restart.
    redis.restart();
    wait_for_nodes(&a, &["a", "b"], 10).await;
    let (status, _, offer) = matchmake(&b, json!({})).await;
    assert_eq!(status, 200, "{offer}");
    // And they subscribed again: a broadcast reaches both.
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let (status, _) = admin(&a, "/v1/admin/broadcast", json!({ "text": "back" })).await;
        if status == 202 {
            let got = tokio::time::timeout(Duration::from_secs(1), notice(&mut on_b)).await;
            if let Ok(text) = got {
                break text;
            }
        }
        assert!(
            Instant::now() < deadline,
            "b never heard a broadcast again\n{}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(text, "back");
    assert_eq!(notice(&mut on_a).await, "back");
    assert!(b.log().contains("subscribed again"), "{}", b.log());
}

/// What one player saw of its own entity around a move.
#[derive(Debug, Default)]
struct Trace {
    entity_before: u32,
    entity_after: u32,
    /// (tick, position) of the own entity, in order.
    before: Vec<(u32, glam::IVec2)>,
    after: Vec<(u32, glam::IVec2)>,
    url_after: String,
    migrations: u32,
    error: Option<String>,
}

/// Plays (an input per snapshot) until `after` snapshots past a move, or
/// the deadline.
async fn play_through_a_move(mut client: Client<Arena>, lane: i8, after: usize) -> Trace {
    use tickwire::game::arena::ArenaInput;
    let mut trace = Trace {
        entity_before: client.welcome().entity_id.0,
        ..Trace::default()
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut moved = false;
    while Instant::now() < deadline && trace.after.len() < after {
        let event = match tokio::time::timeout(Duration::from_secs(10), client.recv()).await {
            Ok(Ok(e)) => e,
            Ok(Err(e)) => {
                trace.error = Some(e.to_string());
                break;
            }
            Err(_) => {
                trace.error = Some("no message for 10s".into());
                break;
            }
        };
        match event {
            ClientEvent::Moved { url, .. } => {
                moved = true;
                trace.url_after = url;
                trace.entity_after = client.welcome().entity_id.0;
            }
            ClientEvent::Snapshot { tick, .. } => {
                let me = client.welcome().entity_id;
                if let Some(e) = client.world().and_then(|w| w.get(me)) {
                    let at = (tick.0, e.pos);
                    if moved {
                        trace.after.push(at)
                    } else {
                        trace.before.push(at)
                    }
                }
                let input = ArenaInput {
                    move_x: lane,
                    move_y: 60,
                    aim: 0.0,
                    buttons: 0,
                };
                if let Err(e) = client.send_input(input).await {
                    // A send racing the move's close: the next recv follows it.
                    if !matches!(e, ClientError::WebSocket(_)) {
                        trace.error = Some(e.to_string());
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    trace.migrations = client.migrations();
    trace
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_moves_a_live_match_and_every_player_continues_with_its_entity() {
    let redis = Redis::start();
    let flags = [
        "--node-ttl",
        "3s",
        "--players-per-match",
        "32",
        "--tick-rate",
        "20",
    ];
    let a = Node::start(&redis, "a", &flags);
    let mut b = Node::start(&redis, "b", &flags);
    wait_for_nodes(&a, &["a", "b"], 10).await;

    // 32 players in one match on b.
    let mut first = connect(&b.ws()).await;
    snapshot(&mut first).await;
    let match_id = first.welcome().match_id.0;
    let mut clients = vec![first];
    for _ in 1..32 {
        clients.push(connect(&format!("{}?match={match_id}", b.ws())).await);
    }
    let players: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, c)| tokio::spawn(play_through_a_move(c, (i as i8 % 9 - 4) * 25, 40)))
        .collect();
    // Playing for a second, then b is drained.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (status, body) = admin(&b, "/v1/admin/drain", json!({})).await;
    assert_eq!(status, 202, "{body}");

    let mut traces = Vec::new();
    for p in players {
        traces.push(within("a player through the move", 60, p).await.unwrap());
    }
    for (i, t) in traces.iter().enumerate() {
        assert_eq!(t.error, None, "player {i}: {t:?}\n{}\n{}", b.log(), a.log());
        assert_eq!(t.migrations, 1, "player {i}");
        assert!(
            t.url_after.starts_with(&a.ws()),
            "player {i} went to {}",
            t.url_after
        );
        assert_eq!(
            t.entity_after, t.entity_before,
            "player {i} kept its entity"
        );
        assert!(
            t.before.len() >= 5 && t.after.len() >= 40,
            "player {i}: {t:?}"
        );
        // Continuous: the match went on from the tick it stopped at, and
        // the entity moved across the gap no faster than it ever moves.
        let (t0, p0) = *t.before.last().unwrap();
        let (t1, p1) = t.after[0];
        assert!(t1 > t0, "player {i}: tick {t1} after {t0}");
        let step = |w: &[(u32, glam::IVec2)]| {
            w.windows(2)
                .map(|p| {
                    let d = (p[1].1 - p[0].1).abs();
                    d.x.max(d.y) as f64 / f64::from((p[1].0 - p[0].0).max(1))
                })
                .fold(0.0, f64::max)
        };
        let fastest = step(&t.before).max(step(&t.after));
        let jump = (p1 - p0).abs();
        assert!(
            f64::from(jump.x.max(jump.y)) <= fastest * f64::from(t1 - t0) + 2.0,
            "player {i} jumped {jump} in {} ticks (at most {fastest}/tick)",
            t1 - t0
        );
    }
    // The match lives on a now, with all 32; b, drained, stopped by itself.
    assert_eq!(node_of_match_soon(&a, match_id).await, "a");
    let status = tokio::task::spawn_blocking(move || {
        let status = b.wait_exit(20);
        (status, b.log())
    })
    .await
    .unwrap();
    assert!(
        status.0.is_some_and(|s| s.success()),
        "b did not exit cleanly: {:?}\n{}",
        status.0,
        status.1
    );
    wait_for_nodes(&a, &["a"], 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_a_node_before_it_stops_and_unmovable_requests_are_refused() {
    let redis = Redis::start();
    let a = Node::start(&redis, "a", &["--node-ttl", "3s"]);
    let mut b = Node::start(&redis, "b", &["--node-ttl", "3s", "--drain-timeout", "10s"]);
    wait_for_nodes(&a, &["a", "b"], 10).await;
    let mut player = connect(&b.ws()).await;
    snapshot(&mut player).await;
    let entity = player.welcome().entity_id;
    let match_id = player.welcome().match_id.0;
    // Draining an unknown node is refused.
    let (status, body) = admin(&a, "/v1/admin/drain", json!({ "node": "nowhere" })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("node_not_found"))
    );

    b.terminate();
    let moved = within("the move", 20, async {
        loop {
            match player.recv().await.expect("no error through the move") {
                ClientEvent::Moved { url, .. } => return url,
                _ => continue,
            }
        }
    })
    .await;
    assert!(moved.starts_with(&a.ws()), "{moved}");
    assert_eq!(player.welcome().entity_id, entity);
    assert_eq!(player.welcome().match_id.0, match_id);
    snapshot(&mut player).await;
    let exited = tokio::task::spawn_blocking(move || b.wait_exit(20))
        .await
        .unwrap();
    assert!(exited.is_some_and(|s| s.success()), "{exited:?}");
    wait_for_nodes(&a, &["a"], 10).await;
}

/// `$name`: arena, delegated to, with `$extra` methods of `Game` besides
/// (or none): a game that differs from arena only in how it moves.
macro_rules! arena_as {
    ($(#[$doc:meta])* $name:ident { $($extra:tt)* }) => {
        $(#[$doc])*
        struct $name(Arena);

        impl tickwire::Game for $name {
            type Entity = <Arena as tickwire::Game>::Entity;
            type Input = <Arena as tickwire::Game>::Input;
            type Message = <Arena as tickwire::Game>::Message;
            type Event = <Arena as tickwire::Game>::Event;

            fn new(settings: &tickwire::game::MatchSettings) -> Self {
                $name(Arena::new(settings))
            }
            fn join(&mut self, player: tickwire::protocol::PlayerId) -> tickwire::protocol::EntityId {
                self.0.join(player)
            }
            fn leave(&mut self, player: tickwire::protocol::PlayerId) {
                self.0.leave(player)
            }
            fn apply_input(&mut self, player: tickwire::protocol::PlayerId, seq: u32, input: &Self::Input) {
                self.0.apply_input(player, seq, input)
            }
            fn step(&mut self, tick: tickwire::protocol::Tick) {
                self.0.step(tick)
            }
            fn freeze(&self, out: &mut Vec<Self::Entity>) {
                self.0.freeze(out)
            }
            $($extra)*
        }
    };
}

arena_as! {
    /// arena without the opt-in to moving (`Game::save`): its matches stay.
    Stay {}
}

/// A node of game `G` in this process, in the cluster of `redis`.
async fn node_in_process<G: tickwire::Game>(
    redis: &Redis,
    id: &str,
    drain_timeout: Duration,
) -> tickwire::net::ServerHandle<G> {
    let port = rig::free_port();
    let config = tickwire::Config {
        bind: format!("127.0.0.1:{port}").parse().unwrap(),
        tick_threads: 1,
        api_requests_per_second: 1000,
        empty_match_grace: Duration::from_millis(300),
        cluster: Some(tickwire::config::ClusterConfig {
            redis: redis.url(),
            public_url: format!("ws://127.0.0.1:{port}"),
            node_id: id.into(),
            node_ttl: Duration::from_secs(3),
            secret: rig::SECRET.into(),
            ticket_ttl: Duration::from_secs(30),
            drain_timeout,
        }),
        ..tickwire::Config::default()
    };
    tickwire::net::start_as::<G>(config, "stay").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_game_that_does_not_move_finishes_its_matches_before_the_node_stops() {
    let redis = Redis::start();
    let a = node_in_process::<Stay>(&redis, "a", Duration::from_secs(30)).await;
    let b = node_in_process::<Stay>(&redis, "b", Duration::from_secs(30)).await;
    let mut player = within(
        "connect",
        10,
        Client::<Stay>::connect(&b.ws_url(), options()),
    )
    .await
    .unwrap();
    let welcome = player.welcome().clone();
    let b_url = b.ws_url();
    // b drains: its match cannot move, so it plays on, and b waits for it.
    let drained = tokio::spawn(async move {
        b.drain().await;
        b
    });
    for _ in 0..30 {
        match within("a snapshot", 10, player.recv()).await {
            Ok(_) => {}
            Err(e) => panic!("the match stopped during the drain: {e}"),
        }
    }
    assert!(!drained.is_finished(), "the drain waits for the match");
    assert_eq!(player.welcome(), &welcome, "no move");
    assert_eq!(player.migrations(), 0);
    // A quick-join at the draining node goes to a instead.
    let newcomer = within("connect", 10, Client::<Stay>::connect(&b_url, options()))
        .await
        .unwrap();
    assert_eq!(newcomer.redirects(), 1);
    assert!(
        newcomer.url().starts_with(&a.ws_url()),
        "{}",
        newcomer.url()
    );
    drop(newcomer);
    // The player leaves; the match ends; the drain is done.
    player.close().await.unwrap();
    let b = within("the drain", 10, drained).await.unwrap();
    assert!(b.lobby().matches().is_empty());

    // With a drain timeout, a match that does not end is left behind.
    let c = node_in_process::<Stay>(&redis, "c", Duration::from_millis(800)).await;
    let mut stayer = within(
        "connect",
        10,
        Client::<Stay>::connect(&c.ws_url(), options()),
    )
    .await
    .unwrap();
    within("a snapshot", 10, stayer.recv()).await.unwrap();
    let started = Instant::now();
    within("the drain timeout", 10, c.drain()).await;
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert_eq!(
        c.lobby().matches().len(),
        1,
        "still running when the timeout ran out"
    );
    drop((a, stayer));
}

arena_as! {
    /// arena whose matches leave (`save`) but never arrive (`restore` fails).
    Lost {
        fn save(&self) -> Option<Vec<u8>> {
            self.0.save()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_the_new_node_cannot_take_leaves_the_match_playing_where_it_was() {
    let redis = Redis::start();
    let _a = node_in_process::<Lost>(&redis, "a", Duration::from_secs(30)).await;
    let b = node_in_process::<Lost>(&redis, "b", Duration::from_millis(6500)).await;
    let mut player = within(
        "connect",
        10,
        Client::<Lost>::connect(&b.ws_url(), options()),
    )
    .await
    .unwrap();
    let welcome = player.welcome().clone();
    let drained = tokio::spawn(async move {
        b.drain().await;
        b
    });
    // The move is tried, a cannot restore it, and the match thaws on b:
    // snapshots keep coming, ticks keep rising, the player never moves.
    let mut last = 0;
    let deadline = Instant::now() + Duration::from_secs(6);
    while Instant::now() < deadline {
        match within("a snapshot", 10, player.recv()).await {
            Ok(ClientEvent::Snapshot { tick, .. }) => {
                assert!(tick.0 > last || last == 0, "tick {} after {last}", tick.0);
                last = tick.0;
            }
            Ok(ClientEvent::Moved { url, .. }) => panic!("moved to {url}"),
            Ok(_) => {}
            Err(e) => panic!("the match stopped: {e}"),
        }
    }
    assert_eq!(player.welcome(), &welcome);
    let b = within("the drain timeout", 10, drained).await.unwrap();
    assert_eq!(b.lobby().matches().len(), 1, "the match stayed on b");
    let metrics = tickwire::metrics::prometheus().render();
    assert!(
        metrics.contains("tickwire_cluster_migrations_failed_total"),
        "the failure is counted"
    );
}
