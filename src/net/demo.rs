//! The playable browser demos at `/`: the page (web/demo/index.html), the
//! JavaScript client it imports (web/src/ at `/client/*.js`) and the demo's
//! own scripts (web/demo/ at `/demo/*.js`).
//!
//! Every file is compiled into the binary, so a server on a machine without
//! the source tree (or Node) still serves them. The routes look a name up in
//! a fixed table and never touch the filesystem: a path that is not in the
//! table, `..` and percent-encodings included, is a 404.

use super::http::json_error;
use crate::replicate::schema::fnv1a;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// One embedded file.
struct Asset {
    /// Its name under its prefix (`client.js`), or `""` for the page.
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

/// Browsers may keep a copy but ask again each time (answered with 304 when
/// the ETag still matches): a new server binary is seen at once.
const CACHE_CONTROL: &str = "no-cache";

macro_rules! js {
    ($dir:literal, $name:literal) => {
        Asset {
            name: $name,
            content_type: JAVASCRIPT,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/", $name)),
        }
    };
}

/// The page at `/`.
const PAGE: Asset = Asset {
    name: "",
    content_type: HTML,
    bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/demo/index.html")),
};

/// The client's modules (every file of web/src/; tests/demo.rs checks that
/// none is missing), at `/client/NAME`.
const CLIENT: &[Asset] = &[
    js!("web/src", "baselines.js"),
    js!("web/src", "bits.js"),
    js!("web/src", "client.js"),
    js!("web/src", "clock.js"),
    js!("web/src", "codec.js"),
    js!("web/src", "errors.js"),
    js!("web/src", "events.js"),
    js!("web/src", "fields.js"),
    js!("web/src", "index.js"),
    js!("web/src", "interpolation.js"),
    js!("web/src", "messages.js"),
    js!("web/src", "schema.js"),
];

/// The demo's scripts, at `/demo/NAME`.
const DEMO: &[Asset] = &[
    js!("web/demo", "main.js"),
    js!("web/demo", "hud.js"),
    js!("web/demo", "input.js"),
    js!("web/demo", "arena.js"),
    js!("web/demo", "space3d.js"),
];

/// The demo's routes, to merge into the public router.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|headers: HeaderMap| async move { serve(&PAGE, &headers) }),
        )
        .route(
            "/client/{*name}",
            get(|Path(name): Path<String>, headers: HeaderMap| async move {
                lookup(CLIENT, &name, &headers)
            }),
        )
        .route(
            "/demo/{*name}",
            get(|Path(name): Path<String>, headers: HeaderMap| async move {
                lookup(DEMO, &name, &headers)
            }),
        )
}

fn lookup(table: &[Asset], name: &str, headers: &HeaderMap) -> Response {
    match table.iter().find(|a| a.name == name) {
        Some(asset) => serve(asset, headers),
        None => json_error(StatusCode::NOT_FOUND, "not_found", "no such file"),
    }
}

fn serve(asset: &Asset, headers: &HeaderMap) -> Response {
    // The schema's hash, reused: a few hundred KiB at most in all, hashed
    // per request rather than kept.
    let etag = format!("\"{:016x}\"", fnv1a(asset.bytes));
    let revalidated = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag
        });
    let etag = HeaderValue::from_str(&etag).expect("hex digits in quotes are a header value");
    let common = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        ),
        (header::ETAG, etag),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    if revalidated {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        )],
        asset.bytes,
    )
        .into_response()
}
