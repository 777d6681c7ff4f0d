//! HTTPS and wss on one port (`--tls-cert`, `--tls-key`), with a CA and a
//! server certificate for 127.0.0.1 made at run time by rcgen: the Rust
//! client and the bot swarm over wss, the API and the demo over https, and
//! what an untrusting or a plain client gets.

mod common;

use common::pki::TestPki;
use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tickwire::client::{ClientError, ClientOptions};
use tickwire::net::ServerHandle;
use tickwire::{Arena, Config};

async fn start_tls(pki: &TestPki) -> ServerHandle<Arena> {
    start(Config {
        tls_cert: Some(pki.cert()),
        tls_key: Some(pki.key()),
        ..test_config()
    })
    .await
}

/// A blocking https GET that trusts only the test CA: (status, body).
fn https_get(ca: &Path, url: &str) -> Result<(u16, String), ureq::Error> {
    let pem = std::fs::read(ca).unwrap();
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(certs)))
                .build(),
        )
        .build()
        .into();
    let mut response = agent.get(url).call()?;
    let status = response.status().as_u16();
    Ok((status, response.body_mut().read_to_string()?))
}

#[tokio::test]
async fn a_client_that_trusts_the_ca_plays_over_wss() {
    let pki = TestPki::new("play");
    let server = start_tls(&pki).await;
    assert!(server.ws_url().starts_with("wss://"), "{}", server.ws_url());
    let options = ClientOptions {
        tls: Some(pki.trust()),
        ..ClientOptions::default()
    };
    let mut client = connect(&server, None, options).await;
    let first = next_snapshot(&mut client).await;
    let mut last = first;
    for _ in 0..5 {
        last = next_snapshot(&mut client).await;
    }
    assert!(
        last > first,
        "snapshots advance over wss: {first:?} then {last:?}"
    );
    let own = client.welcome().entity_id;
    assert!(
        client.world().is_some_and(|w| w.get(own).is_some()),
        "the player's own entity {own:?} is in the world it decoded over wss"
    );
}

#[tokio::test]
async fn a_client_without_the_ca_is_refused_by_its_own_tls_check_and_does_not_retry() {
    let pki = TestPki::new("untrusted");
    let server = start_tls(&pki).await;
    // No CA given: the Web PKI roots, which do not include the test CA.
    let err = within(
        "connect",
        10,
        tickwire::client::Client::<Arena>::connect(&server.ws_url(), ClientOptions::default()),
    )
    .await
    .err()
    .expect("an untrusted certificate is refused");
    assert!(
        matches!(
            err,
            ClientError::Tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            ))
        ),
        "an unknown-issuer TLS error, not {err:?}"
    );
    assert!(
        !err.is_connection_loss(),
        "an untrusted certificate is not worth reconnecting for"
    );
}

#[tokio::test]
async fn the_api_and_the_demo_are_served_over_https_and_plain_http_on_the_tls_port_gets_nothing() {
    let pki = TestPki::new("https");
    let server = start_tls(&pki).await;
    let base = server.http_url();
    assert!(base.starts_with("https://"), "{base}");
    let ca = pki.ca();
    let (status, schema) = tokio::task::spawn_blocking({
        let (ca, base) = (ca.clone(), base.clone());
        move || https_get(&ca, &format!("{base}/v1/schema"))
    })
    .await
    .unwrap()
    .expect("https GET /v1/schema");
    assert_eq!(status, 200, "{schema}");
    assert!(schema.contains("\"ArenaEntity\""), "{schema}");
    let (status, page) = tokio::task::spawn_blocking({
        let (ca, base) = (ca.clone(), base.clone());
        move || https_get(&ca, &format!("{base}/"))
    })
    .await
    .unwrap()
    .expect("https GET /");
    assert_eq!(status, 200);
    assert!(page.contains("<canvas"), "the demo page over https");

    // Plain HTTP on the TLS port: the handshake fails, nothing is served,
    // and it is counted.
    let answer = within("plain HTTP on the TLS port", 10, async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut plain = tokio::net::TcpStream::connect(server.local_addr())
            .await
            .unwrap();
        plain
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = plain.read_to_end(&mut answer).await;
        answer
    })
    .await;
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP gets no HTTP answer on the TLS port: {:?}",
        String::from_utf8_lossy(&answer)
    );
    let (_, metrics) =
        tokio::task::spawn_blocking(move || https_get(&ca, &format!("{base}/metrics")))
            .await
            .unwrap()
            .expect("https GET /metrics");
    let failed = metrics
        .lines()
        .find(|l| {
            l.starts_with("tickwire_handshake_refusals_total")
                && l.contains("reason=\"tls_handshake_failed\"")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(
        failed >= 1.0,
        "the failed TLS handshake is counted:\n{metrics}"
    );
}

#[test]
fn the_command_line_refuses_unusable_tls_files_with_a_config_error() {
    let pki = TestPki::new("cli");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tickwire"))
            .arg("serve")
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let cert = pki.cert().display().to_string();
    let key = pki.key().display().to_string();
    // A key alone, a missing file, and a certificate given as its own key.
    let (code, err) = run(&["--tls-key", &key]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("tls_cert"), "{err}");
    let missing = pki.dir.join("nowhere.pem").display().to_string();
    let (code, err) = run(&["--tls-cert", &missing, "--tls-key", &key]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("nowhere.pem"),
        "the message names the file: {err}"
    );
    let (code, err) = run(&["--tls-cert", &cert, "--tls-key", &cert]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("private key"), "{err}");
}
