//! The endpoint as a scraper and a load balancer see it: a real server on 127.0.0.1.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use prometheus_client::{metrics::gauge::Gauge, registry::Registry};
use sidechain_telemetry::{serve, Health, METRICS_CONTENT_TYPE};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// Starts the endpoint on a free port with one gauge (`test_height` = 7); `healthy` decides
/// what `/health` says.
async fn started(healthy: Arc<AtomicBool>) -> SocketAddr {
    let mut registry = Registry::with_prefix("test");
    let height: Gauge = Gauge::default();
    height.set(7);
    registry.register("height", "Last committed height", height);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, Arc::new(registry), move || {
        if healthy.load(Ordering::Relaxed) {
            Health::healthy().with("height", 7)
        } else {
            Health::unhealthy("the store is not open yet").with("height", 0)
        }
    }));
    addr
}

/// One HTTP/1.1 request, read to the end of the stream (the server closes after answering).
async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = String::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_string(&mut raw))
        .await
        .expect("the server closes the connection after its answer")
        .unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[tokio::test]
async fn metrics_are_served_in_the_openmetrics_text_format() {
    let addr = started(Arc::new(AtomicBool::new(true))).await;
    let (status, head, body) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "{head}\n{body}");
    assert!(
        head.contains(&format!("content-type: {METRICS_CONTENT_TYPE}")),
        "{head}"
    );
    assert!(
        body.contains("# HELP test_height Last committed height"),
        "{body}"
    );
    assert!(body.contains("test_height 7"), "{body}");
    assert!(body.ends_with("# EOF\n"), "{body}");
}

#[tokio::test]
async fn health_is_200_when_healthy_and_503_with_the_reasons_when_not() {
    let healthy = Arc::new(AtomicBool::new(false));
    let addr = started(healthy.clone()).await;

    let (status, head, body) = get(addr, "/health").await;
    assert_eq!(status, 503, "{head}\n{body}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "unhealthy");
    assert_eq!(v["reasons"][0], "the store is not open yet");

    healthy.store(true, Ordering::Relaxed);
    let (status, _, body) = get(addr, "/health").await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v, serde_json::json!({"status": "ok", "height": 7}));
}

#[tokio::test]
async fn other_paths_are_404() {
    let addr = started(Arc::new(AtomicBool::new(true))).await;
    for path in ["/", "/metrics/extra", "/healthz"] {
        let (status, _, body) = get(addr, path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body.contains("GET /metrics and GET /health"), "{body}");
    }
}
