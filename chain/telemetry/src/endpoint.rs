//! The HTTP endpoint: `GET /metrics` and `GET /health` on axum.

use std::sync::Arc;

use axum::{
    extract::State,
    http::{
        header::{CONNECTION, CONTENT_TYPE},
        HeaderValue, StatusCode,
    },
    middleware::map_response,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use prometheus_client::{encoding::text::encode, registry::Registry};
use serde_json::{Map, Value};
use tokio::net::TcpListener;

/// The content type of `/metrics`: `prometheus-client` writes the OpenMetrics text format
/// (with its closing `# EOF`), which Prometheus reads when it is announced as such.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

/// What `GET /health` answers: healthy (200) or the reasons it is not (503), with facts about
/// the process (the last committed height, a peer count) in both cases.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    reasons: Vec<String>,
    facts: Map<String, Value>,
}

impl Health {
    /// Nothing is wrong.
    pub fn healthy() -> Self {
        Health {
            reasons: Vec::new(),
            facts: Map::new(),
        }
    }

    /// Unhealthy for `reason`, which should tell an operator what to look at.
    pub fn unhealthy(reason: impl Into<String>) -> Self {
        Self::healthy().problem(reason)
    }

    /// Adds a reason to be unhealthy.
    pub fn problem(mut self, reason: impl Into<String>) -> Self {
        self.reasons.push(reason.into());
        self
    }

    /// Adds a fact to the body. `status` and `reasons` are the endpoint's own fields and win
    /// over facts of those names.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.facts.insert(name.to_string(), value.into());
        self
    }

    pub fn is_healthy(&self) -> bool {
        self.reasons.is_empty()
    }

    pub fn reasons(&self) -> &[String] {
        &self.reasons
    }

    /// The body: `{"status":"ok", FACTS}` or `{"status":"unhealthy","reasons":[...], FACTS}`.
    pub fn to_json(&self) -> Value {
        let mut body = self.facts.clone();
        if self.is_healthy() {
            body.insert("status".into(), "ok".into());
            body.remove("reasons");
        } else {
            body.insert("status".into(), "unhealthy".into());
            body.insert("reasons".into(), self.reasons.clone().into());
        }
        Value::Object(body)
    }
}

type HealthFn = dyn Fn() -> Health + Send + Sync;

#[derive(Clone)]
struct Endpoint {
    registry: Arc<Registry>,
    health: Arc<HealthFn>,
}

/// Serves `GET /metrics` (the series in `registry`) and `GET /health` (what `health` says at
/// the moment of each request) on `listener`, until the process ends. Any other path is 404.
///
/// Each answer closes its connection: scrapes come seconds apart, so nothing is gained by
/// holding idle connections, and a client that reads to the end of the stream sees the end.
pub async fn serve<H>(
    listener: TcpListener,
    registry: Arc<Registry>,
    health: H,
) -> std::io::Result<()>
where
    H: Fn() -> Health + Send + Sync + 'static,
{
    let endpoint = Endpoint {
        registry,
        health: Arc::new(health),
    };
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health_check))
        .fallback(not_found)
        .layer(map_response(close_connection))
        .with_state(endpoint);
    axum::serve(listener, app).await
}

async fn metrics(State(endpoint): State<Endpoint>) -> Response {
    let mut body = String::new();
    match encode(&mut body, &endpoint.registry) {
        Ok(()) => ([(CONTENT_TYPE, METRICS_CONTENT_TYPE)], body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(CONTENT_TYPE, TEXT)],
            format!("cannot encode the metrics: {e}\n"),
        )
            .into_response(),
    }
}

async fn health_check(State(endpoint): State<Endpoint>) -> Response {
    let health = (endpoint.health)();
    let status = if health.is_healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, [(CONTENT_TYPE, JSON)], health.to_json().to_string()).into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(CONTENT_TYPE, TEXT)],
        "not found: this endpoint serves GET /metrics and GET /health\n",
    )
        .into_response()
}

async fn close_connection(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_health_body_carries_status_reasons_and_facts() {
        let ok = Health::healthy().with("height", 7);
        assert!(ok.is_healthy());
        assert_eq!(
            ok.to_json(),
            serde_json::json!({"status": "ok", "height": 7})
        );

        let bad = Health::unhealthy("store closed")
            .problem("no peers")
            .with("height", 3)
            .with("status", "fine");
        assert!(!bad.is_healthy());
        assert_eq!(bad.reasons(), ["store closed", "no peers"]);
        assert_eq!(
            bad.to_json(),
            serde_json::json!({
                "status": "unhealthy",
                "reasons": ["store closed", "no peers"],
                "height": 3,
            })
        );
    }
}
