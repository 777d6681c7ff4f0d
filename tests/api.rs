//! Operator routes over real HTTP on 127.0.0.1.

mod common;

use common::*;
use tickwire::client::ClientOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_answer_until_shutdown() {
    let server = start(test_config()).await;
    let base = format!("http://{}", server.local_addr());
    let (status, body) = http_json("GET", format!("{base}/healthz"), None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = http_json("GET", format!("{base}/readyz"), None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_match_api_creates_lists_and_shows_matches() {
    let server = start(test_config()).await;
    let base = format!("http://{}", server.local_addr());
    let (status, created) = http_json(
        "POST",
        format!("{base}/v1/matches"),
        Some(r#"{"seed": 42, "capacity": 4}"#.into()),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["seed"], 42);
    assert_eq!(created["capacity"], 4);
    let id = created["id"].as_u64().unwrap();

    let (status, _) = http_json("POST", format!("{base}/v1/matches"), None).await;
    assert_eq!(status, 201, "an empty body creates a match with defaults");

    let mut client = connect(
        &server,
        Some(tickwire::protocol::MatchId(id)),
        ClientOptions::default(),
    )
    .await;
    next_snapshot(&mut client).await;
    next_snapshot(&mut client).await;

    let (status, list) = http_json("GET", format!("{base}/v1/matches"), None).await;
    assert_eq!(status, 200);
    let matches = list["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 2);
    let ours = matches.iter().find(|m| m["id"] == id).unwrap();
    assert_eq!(ours["players"], 1);
    assert!(ours["tick"].as_u64().unwrap() > 0);
    assert!(ours["age_s"].as_f64().unwrap() >= 0.0);

    let (status, one) = http_json("GET", format!("{base}/v1/matches/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(one["capacity"], 4);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_api_errors_are_json_with_the_right_status() {
    let server = start(test_config()).await;
    let base = format!("http://{}", server.local_addr());
    let (status, body) = http_json("GET", format!("{base}/v1/matches/12345"), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("match_not_found"))
    );
    let (status, body) = http_json("GET", format!("{base}/v1/matches/abc"), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_match_id"))
    );
    let (status, body) = http_json(
        "POST",
        format!("{base}/v1/matches"),
        Some(r#"{"capacity": 999}"#.into()),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("bad_capacity"))
    );
    let (status, body) = http_json(
        "POST",
        format!("{base}/v1/matches"),
        Some("{not json".into()),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    let (status, body) = http_json(
        "POST",
        format!("{base}/v1/matches"),
        Some(r#"{"colour": 1}"#.into()),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("colour"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_expose_the_documented_names_after_traffic() {
    let server = start(test_config()).await;
    let base = format!("http://{}", server.local_addr());
    let mut client = connect(&server, None, ClientOptions::default()).await;
    for _ in 0..5 {
        next_snapshot(&mut client).await;
    }
    client
        .send_input(tickwire::game::arena::ArenaInput::default())
        .await
        .unwrap();
    next_snapshot(&mut client).await;
    let names = [
        "tickwire_players",
        "tickwire_matches",
        "tickwire_tick_duration_seconds_bucket",
        "tickwire_inputs_received_total",
        "tickwire_snapshots_sent_total{kind=\"full\"}",
        "tickwire_snapshots_sent_total{kind=\"delta\"}",
        "tickwire_bytes_in_total",
        "tickwire_bytes_out_total",
        "tickwire_snapshot_payload_bytes_bucket",
        // Registered at start, at zero, even on a single node without interest.
        "tickwire_view_frames_shared_total",
        "tickwire_view_near_entities_total{state=\"stale\"}",
        "tickwire_cluster_migrations_total",
        "tickwire_cluster_redis_errors_total",
    ];
    // Connections fold their counts into the metrics once per second.
    let mut text = String::new();
    for _ in 0..50 {
        let (status, body) = http("GET", format!("{base}/metrics"), None).await;
        assert_eq!(status, 200);
        text = body;
        if names.iter().all(|n| text.contains(n)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    for name in names {
        assert!(text.contains(name), "metric {name} missing from:\n{text}");
    }
    let (status, stats) = http_json("GET", format!("{base}/v1/stats"), None).await;
    assert_eq!(status, 200);
    assert!(stats["ticks_total"].as_u64().unwrap() > 0);
    assert!(stats["tick"]["p99_ms"].as_f64().unwrap() >= stats["tick"]["p50_ms"].as_f64().unwrap());
    // arena has no interest management and the server no budget: no views.
    assert!(stats["interest"]["near16_coverage"].is_null(), "{stats}");
    assert!(stats["full_world_frame_bytes"].is_null(), "{stats}");
    let (_, closed) = http_json("POST", format!("{base}/v1/stats/window"), None).await;
    assert!(closed["tick"]["ticks"].as_u64().unwrap() > 0);
    let (_, fresh) = http_json("GET", format!("{base}/v1/stats"), None).await;
    assert!(
        fresh["tick"]["window_s"].as_f64().unwrap() < closed["tick"]["window_s"].as_f64().unwrap(),
        "the window restarted"
    );
    server.shutdown().await;
}
