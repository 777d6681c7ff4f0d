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
async fn a_single_node_has_no_cluster_routes() {
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
}
