//! Authentication at the WebSocket handshake, over real sockets on 127.0.0.1:
//! which tokens join, as which player, and why the others are refused (with a
//! 401 whose JSON message says what is wrong and never repeats the token).

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tickwire::net::ServerHandle;
use tickwire::protocol::{PlayerId, ServerMsg, Welcome};
use tickwire::{Arena, Config};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;
const YEAR: i64 = 365 * DAY;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs() as i64
}

async fn auth_server(config: Config) -> ServerHandle<Arena> {
    start(Config {
        auth_secret: Some(SECRET.into()),
        ..config
    })
    .await
}

/// An HS256 token from jsonwebtoken itself, as an identity provider makes it.
fn token(claims: serde_json::Value) -> String {
    token_with_header(&jsonwebtoken::Header::default(), claims, SECRET)
}

fn token_with_header(
    header: &jsonwebtoken::Header,
    claims: serde_json::Value,
    secret: &str,
) -> String {
    jsonwebtoken::encode(
        header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("jsonwebtoken encodes")
}

/// A token for `sub`, issued now, valid for an hour.
fn token_for(sub: &str) -> String {
    token(serde_json::json!({ "sub": sub, "iat": now(), "exp": now() + HOUR }))
}

/// base64url without padding (RFC 7515 section 2), for headers jsonwebtoken
/// will not write: `alg: none`, oversized or nonsensical ones.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// A token with this exact header segment, signed with HS256 and `secret`
/// over `header.claims` whatever the header says.
fn hand_signed(header_segment: &str, claims: &serde_json::Value, secret: &str) -> String {
    let message = format!(
        "{header_segment}.{}",
        base64url(claims.to_string().as_bytes())
    );
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        jsonwebtoken::Algorithm::HS256,
    )
    .expect("HS256 signs");
    format!("{message}.{signature}")
}

fn valid_claims() -> serde_json::Value {
    serde_json::json!({ "sub": "player-1", "iat": now(), "exp": now() + HOUR })
}

/// How a client presents its token.
#[derive(Clone, Copy)]
enum Presented<'a> {
    /// `?token=...`, as browsers do.
    Query(&'a str),
    /// The whole `Authorization` header value.
    Authorization(&'a str),
}

#[derive(Debug)]
struct Refused {
    status: u16,
    code: String,
    message: String,
}

/// Opens a WebSocket and joins: the `Welcome`, or the handshake's refusal.
async fn join(
    server: &ServerHandle<Arena>,
    presented: Presented<'_>,
) -> Result<(Ws, Welcome), Refused> {
    let mut request = match presented {
        Presented::Query(token) => format!("{}?token={token}", server.ws_url()),
        Presented::Authorization(_) => server.ws_url(),
    }
    .into_client_request()
    .expect("a valid request");
    if let Presented::Authorization(value) = presented {
        request.headers_mut().insert(
            "Authorization",
            value.parse().expect("a valid header value"),
        );
    }
    let mut ws = match within("handshake", 10, tokio_tungstenite::connect_async(request)).await {
        Ok((ws, _)) => ws,
        Err(WsError::Http(response)) => {
            let body: serde_json::Value = response
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(serde_json::Value::Null);
            return Err(Refused {
                status: response.status().as_u16(),
                code: body["error"]["code"].as_str().unwrap_or_default().into(),
                message: body["error"]["message"].as_str().unwrap_or_default().into(),
            });
        }
        Err(e) => panic!("the handshake failed without an HTTP answer: {e}"),
    };
    ws.send(Message::Binary(join_bytes(1).into()))
        .await
        .expect("Join is sent");
    let Some(Ok(Message::Binary(bytes))) = within("welcome", 5, ws.next()).await else {
        panic!("no Welcome")
    };
    match tickwire::protocol::decode_server(&bytes, 4096).expect("a server message") {
        ServerMsg::Welcome(w) => Ok((ws, w)),
        other => panic!("expected a Welcome, got {other:?}"),
    }
}

async fn joins_as(server: &ServerHandle<Arena>, presented: Presented<'_>) -> (Ws, PlayerId) {
    match join(server, presented).await {
        Ok((ws, welcome)) => (ws, welcome.player_id),
        Err(refused) => panic!("expected to join, was refused: {refused:?}"),
    }
}

/// The refusal's message, after checking that it is a JSON 401 that does not
/// repeat the token.
async fn refusal(server: &ServerHandle<Arena>, presented: Presented<'_>) -> String {
    let refused = match join(server, presented).await {
        Ok((_, welcome)) => panic!("expected a refusal, joined as {:?}", welcome.player_id),
        Err(refused) => refused,
    };
    assert_eq!(refused.status, 401, "{refused:?}");
    assert_eq!(refused.code, "unauthorized", "{refused:?}");
    assert!(!refused.message.is_empty(), "{refused:?}");
    let token = match presented {
        Presented::Query(token) => token,
        Presented::Authorization(value) => value.rsplit(' ').next().unwrap_or(value),
    };
    if token.len() >= 8 {
        assert!(
            !refused.message.contains(token),
            "the refusal repeats the token: {}",
            refused.message
        );
    }
    refused.message
}

/// The documented mapping of a `sub` to a player id: SHA-256's first 8 bytes,
/// little-endian, with the top bit set.
fn expected_player(sub: &str) -> PlayerId {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(sub.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    PlayerId(u64::from_le_bytes(first) | 1 << 63)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subjects_from_identity_providers_join_as_distinct_players() {
    let server = auth_server(test_config()).await;
    let subs = [
        "auth0|5f7c1e2a9b3d4e0012345678",
        "0b5c4c1e-6f0a-4d5e-9a43-3c8f2f1e7d21",
        "ada@example.com",
        "42",
    ];
    let mut players = Vec::new();
    let mut sockets = Vec::new();
    for sub in subs {
        let (ws, player) = joins_as(&server, Presented::Query(&token_for(sub))).await;
        assert_eq!(player, expected_player(sub), "sub {sub:?}");
        assert_ne!(player.0 >> 63, 0, "ids from tokens have the top bit set");
        players.push(player);
        sockets.push(ws);
    }
    // A numeric sub is a string like any other, not a raw player id.
    assert_ne!(players[3], PlayerId(42));
    let mut distinct = players.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), subs.len(), "{players:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_sub_is_the_same_player_after_a_reconnect_and_on_another_server() {
    let config = Config {
        reconnect_grace: Duration::ZERO,
        ..test_config()
    };
    let server = auth_server(config.clone()).await;
    let sub = "auth0|65a1f0c2e4b0d1a2b3c4d5e6";
    let (mut ws, first) = joins_as(&server, Presented::Query(&token_for(sub))).await;
    ws.close(None).await.expect("close is sent");
    drop(ws);
    // The closed connection's seat is released by its task, asynchronously;
    // a join meanwhile takes it over, or (if the handover does not come in
    // time) is answered 409 and retried.
    let again = within("the same player rejoins", 10, async {
        loop {
            match join(&server, Presented::Query(&token_for(sub))).await {
                Ok((_, welcome)) => return welcome.player_id,
                Err(refused) if refused.status == 409 => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(refused) => panic!("the rejoin was refused: {refused:?}"),
            }
        }
    })
    .await;
    assert_eq!(again, first);

    let other_node = auth_server(config).await;
    let (_ws, elsewhere) = joins_as(&other_node, Presented::Query(&token_for(sub))).await;
    assert_eq!(elsewhere, first, "the id depends on the sub alone");
    other_node.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_over_256_bytes_is_refused_and_one_of_256_joins() {
    let server = auth_server(test_config()).await;
    let message = refusal(&server, Presented::Query(&token_for(&"a".repeat(257)))).await;
    assert!(
        message.contains("`sub`") && message.contains("256"),
        "{message}"
    );
    let message = refusal(&server, Presented::Query(&token_for(""))).await;
    assert!(message.contains("`sub`"), "{message}");
    joins_as(&server, Presented::Query(&token_for(&"a".repeat(256)))).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_token_is_refused_for_its_size() {
    let server = auth_server(test_config()).await;
    // Deeply nested JSON in a 365 KB header segment: work for a parser. It
    // never reaches one: the header section is over what the server reads.
    let depth = 137_000;
    let header = format!(
        r#"{{"alg":"HS256","x":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let header_segment = base64url(header.as_bytes());
    assert!(header_segment.len() > 365_000);
    let huge = format!("{header_segment}.e30.c2lnbmF0dXJl");
    match join(&server, Presented::Authorization(&format!("Bearer {huge}"))).await {
        Err(refused) => assert_eq!(refused.status, 431, "{refused:?}"),
        Ok(_) => panic!("a 365 KB token joined"),
    }
    // Just over the token limit, within what the server reads: refused by
    // its size before any decoding.
    let nested = format!(
        r#"{{"alg":"HS256","x":{}{}}}"#,
        "[".repeat(1600),
        "]".repeat(1600)
    );
    let over = format!("{}.e30.c2lnbmF0dXJl", base64url(nested.as_bytes()));
    assert!(over.len() > 4096 && over.len() < 6000);
    let message = refusal(&server, Presented::Authorization(&format!("Bearer {over}"))).await;
    assert!(message.contains("4096"), "{message}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_segment_over_1024_bytes_is_refused_even_when_correctly_signed() {
    let server = auth_server(test_config()).await;
    let header = format!(r#"{{"alg":"HS256","typ":"JWT","x":"{}"}}"#, "p".repeat(791));
    let header_segment = base64url(header.as_bytes());
    assert_eq!(header_segment.len(), 1100);
    let long_header = hand_signed(&header_segment, &valid_claims(), SECRET);
    assert!(long_header.len() < 4096);
    let message = refusal(&server, Presented::Query(&long_header)).await;
    assert!(
        message.contains("header") && message.contains("1024"),
        "{message}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signature_is_checked_before_the_header_is_read() {
    let server = auth_server(test_config()).await;
    let forged = token_with_header(
        &jsonwebtoken::Header::default(),
        valid_claims(),
        "some-other-secret-entirely",
    );
    let message = refusal(&server, Presented::Query(&forged)).await;
    assert!(message.contains("signature"), "{message}");

    // A header no parser would accept, under a wrong signature: the refusal
    // is about the signature, so the header was never parsed.
    let nested = base64url(format!(r#"{{"alg":"HS256","x":{}}}"#, "[".repeat(300)).as_bytes());
    for header_segment in [nested.as_str(), "bm90IGpzb24"] {
        let forged = hand_signed(
            header_segment,
            &valid_claims(),
            "some-other-secret-entirely",
        );
        let message = refusal(&server, Presented::Query(&forged)).await;
        assert!(message.contains("signature"), "{header_segment}: {message}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_claims_are_enforced_and_lifetimes_are_bounded() {
    let server = auth_server(Config {
        token_max_lifetime: Duration::from_secs(2 * HOUR as u64),
        ..test_config()
    })
    .await;
    let t = now();
    let refused = [
        (
            serde_json::json!({ "sub": "p", "nbf": t + 100 * YEAR, "exp": t + HOUR }),
            "not valid yet",
        ),
        (
            serde_json::json!({ "sub": "p", "iat": t + 60, "exp": t + HOUR }),
            "`iat` (issued at) is in the future",
        ),
        (
            serde_json::json!({ "sub": "p", "exp": t + 1000 * YEAR }),
            "expires too far ahead: this server accepts tokens valid for at most 2h",
        ),
        // Within the bound from now, but issued long ago with a long life.
        (
            serde_json::json!({ "sub": "p", "iat": t - 30 * DAY, "exp": t + HOUR }),
            "lifetime from `iat` to `exp` is longer than this server accepts (2h)",
        ),
        (
            serde_json::json!({ "sub": "p", "exp": t - HOUR }),
            "expired",
        ),
        (serde_json::json!({ "sub": "p" }), "no `exp`"),
    ];
    for (claims, reason) in refused {
        let message = refusal(&server, Presented::Query(&token(claims.clone()))).await;
        assert!(message.contains(reason), "{claims}: {message}");
    }
    // Within every bound (and within the 5 s leeway of a skewed clock).
    joins_as(
        &server,
        Presented::Query(&token(serde_json::json!({
            "sub": "p", "iat": t + 2, "nbf": t + 2, "exp": t + 2 * HOUR,
        }))),
    )
    .await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_plain_hs256_headers_are_accepted() {
    let server = auth_server(test_config()).await;
    let critical = jsonwebtoken::Header {
        crit: Some(vec!["exp".into()]),
        ..jsonwebtoken::Header::default()
    };
    let message = refusal(
        &server,
        Presented::Query(&token_with_header(&critical, valid_claims(), SECRET)),
    )
    .await;
    assert!(message.contains("`crit`"), "{message}");

    // Another algorithm, correctly signed with it: not an HS256 signature.
    let hs512 = token_with_header(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        valid_claims(),
        SECRET,
    );
    let message = refusal(&server, Presented::Query(&hs512)).await;
    assert!(message.contains("HS256"), "{message}");

    // `alg: none` without a signature ...
    let none_header = base64url(br#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!(
        "{none_header}.{}.",
        base64url(valid_claims().to_string().as_bytes())
    );
    let message = refusal(&server, Presented::Query(&unsigned)).await;
    assert!(message.contains("HS256"), "{message}");
    // ... or with an HS256 signature over a header that names another
    // algorithm: the header must say HS256 too.
    for header in [
        r#"{"alg":"none"}"#,
        r#"{"alg":"HS384"}"#,
        r#"{"typ":"JWT"}"#,
    ] {
        let mislabelled = hand_signed(&base64url(header.as_bytes()), &valid_claims(), SECRET);
        let message = refusal(&server, Presented::Query(&mislabelled)).await;
        assert!(
            message.contains("`alg`") && message.contains("HS256"),
            "{header}: {message}"
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive_and_required() {
    let server = auth_server(test_config()).await;
    for (scheme, sub) in [("Bearer", "b1"), ("bearer", "b2"), ("BEARER", "b3")] {
        let (_ws, player) = joins_as(
            &server,
            Presented::Authorization(&format!("{scheme} {}", token_for(sub))),
        )
        .await;
        assert_eq!(player, expected_player(sub), "{scheme}");
    }
    let good = token_for("b4");
    for value in [
        format!("Basic {good}"),
        format!("Token {good}"),
        good.clone(),
        "Bearer".to_string(),
        format!("Bearer {good} extra"),
    ] {
        let message = refusal(&server, Presented::Authorization(&value)).await;
        assert!(
            message.contains("Authorization header must be `Bearer <token>`"),
            "{message}"
        );
    }
    let message = refusal(
        &server,
        Presented::Authorization("Basic dXNlcjpwYXNzd29yZA=="),
    )
    .await;
    assert!(message.contains("`Bearer <token>`"), "{message}");
    server.shutdown().await;
}
