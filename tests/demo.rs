//! The browser demo's files as a real server serves them: the page at `/`,
//! every module it imports (the client from web/src/, the demo's scripts
//! from web/demo/) byte for byte, and nothing outside that fixed table.

mod common;

use common::{request, start, test_config, within};
use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const MODULE_SCRIPT: &str = r#"<script type="module" src="/demo/main.js"></script>"#;

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The file on disk a served path stands for.
fn on_disk(path: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(name) = path.strip_prefix("/client/") {
        root.join("web/src").join(name)
    } else if let Some(name) = path.strip_prefix("/demo/") {
        root.join("web/demo").join(name)
    } else {
        panic!("{path} is neither under /client/ nor /demo/")
    }
}

/// The module specifiers a script imports (`import ... from '...'` and
/// `export ... from '...'`), as absolute paths on the server.
fn imports(from: &str, source: &str) -> Vec<String> {
    let dir = &from[..=from.rfind('/').expect("an absolute path")];
    source
        .split("from '")
        .skip(1)
        .map(|rest| &rest[..rest.find('\'').expect("a closing quote")])
        .map(|spec| match spec.strip_prefix("./") {
            Some(relative) => format!("{dir}{relative}"),
            None if spec.starts_with('/') => spec.to_string(),
            None => panic!("{from} imports {spec}: not a path the server serves"),
        })
        .collect()
}

/// The `.js` files of a directory of the repository.
fn scripts_in(dir: &str) -> BTreeSet<String> {
    std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .expect("the directory exists")
        .map(|entry| entry.expect("a directory entry").file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".js"))
        .collect()
}

/// One raw HTTP/1.1 GET, the target sent exactly as given (an HTTP client
/// library would normalize `..` away); returns the status and the body.
async fn raw_get(addr: std::net::SocketAddr, target: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let req = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.expect("writes");
    let mut response = Vec::new();
    within("raw response", 5, stream.read_to_end(&mut response))
        .await
        .expect("reads");
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_at_the_root_is_html_with_the_module_script() {
    let server = start(test_config()).await;
    let (status, headers, body) =
        request("GET", format!("http://{}/", server.local_addr()), None, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(body.contains(MODULE_SCRIPT), "{body}");
    let on_disk =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("web/demo/index.html"))
            .unwrap();
    assert_eq!(body, on_disk);
    assert_eq!(header(&headers, "cache-control"), Some("no-cache"));
    assert!(header(&headers, "etag").is_some());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_module_the_page_imports_is_served_as_on_disk() {
    let server = start(test_config()).await;
    let base = format!("http://{}", server.local_addr());
    let mut queue = VecDeque::from(["/demo/main.js".to_string()]);
    let mut seen = BTreeSet::new();
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) {
            continue;
        }
        assert!(seen.len() <= 64, "the import graph is larger than expected");
        let (status, headers, body) = request("GET", format!("{base}{path}"), None, &[]).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(header(&headers, "content-type"), Some(JAVASCRIPT), "{path}");
        assert_eq!(
            header(&headers, "cache-control"),
            Some("no-cache"),
            "{path}"
        );
        let disk = std::fs::read_to_string(on_disk(&path)).unwrap();
        assert!(
            body == disk,
            "{path} differs from {}",
            on_disk(&path).display()
        );
        queue.extend(imports(&path, &body));
    }
    // The page reaches the client through /client/index.js, and that reaches
    // every module of web/src/; the demo uses each of its own scripts.
    let reached = |prefix: &str| -> BTreeSet<String> {
        seen.iter()
            .filter_map(|p| p.strip_prefix(prefix).map(str::to_string))
            .collect()
    };
    assert_eq!(reached("/client/"), scripts_in("web/src"));
    assert_eq!(reached("/demo/"), scripts_in("web/demo"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matching_etag_is_answered_not_modified() {
    let server = start(test_config()).await;
    let url = format!("http://{}/client/index.js", server.local_addr());
    let (_, headers, _) = request("GET", url.clone(), None, &[]).await;
    let etag = header(&headers, "etag").expect("an ETag").to_string();
    let (status, _, body) = request("GET", url.clone(), None, &[("if-none-match", &etag)]).await;
    assert_eq!(status, 304);
    assert!(body.is_empty());
    let (status, _, _) = request("GET", url, None, &[("if-none-match", "\"0000\"")]).await;
    assert_eq!(status, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_files_under_the_prefixes_are_json_404s() {
    let server = start(test_config()).await;
    let base = format!("http://{}", server.local_addr());
    for path in [
        "/client/x.js",
        "/demo/x.js",
        "/client/sub/index.js",
        "/demo/index.html",
        "/client/",
    ] {
        let (status, headers, body) = request("GET", format!("{base}{path}"), None, &[]).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(
            header(&headers, "content-type"),
            Some("application/json"),
            "{path}"
        );
        let body: serde_json::Value = serde_json::from_str(&body).expect("a JSON body");
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    // The routes around them are as before.
    let (status, _, _) = request("GET", format!("{base}/ws"), None, &[]).await;
    assert_eq!(status, 426);
    let (status, _, _) = request("GET", format!("{base}/healthz"), None, &[]).await;
    assert_eq!(status, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_out_of_the_table_are_never_served() {
    let server = start(test_config()).await;
    let addr = server.local_addr();
    for target in [
        "/client/../Cargo.toml",
        "/demo/../../Cargo.toml",
        "/client/..%2fCargo.toml",
        "/client/%2e%2e/%2e%2e/Cargo.toml",
        "/client/..%5c..%5cCargo.toml",
        "/client/../src/lib.rs",
        "/client//etc/passwd",
        "/demo/./main.js/../../Cargo.toml",
    ] {
        let (status, body) = raw_get(addr, target).await;
        assert_ne!(status, 200, "{target}: {body}");
        assert!(
            !body.contains("[package]") && !body.contains("root:"),
            "{target}: {body}"
        );
    }
    server.shutdown().await;
}
