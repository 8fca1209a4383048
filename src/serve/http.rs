//! The HTTP side (axum): `/metrics`, `/snapshot`, `/healthz`. Every handler reads the
//! sources' last state under a lock held for the encoding only; none reaches the database,
//! so a thousand scrapers cost what one does.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Registry;

use super::metrics;
use super::state::SourceState;
use crate::app::alerts::{self, Mode};
use crate::app::redact;
use crate::cli::oneshot_doc::{OneShot, document};

pub type Shared = Arc<RwLock<SourceState>>;

pub struct Served {
    pub sources: Vec<Shared>,
    registry: Registry,
}

/// The sources as one `prometheus-client` collector: encoded from their state on each scrape.
#[derive(Debug)]
struct Sources(Vec<Shared>);

impl Collector for Sources {
    fn encode(&self, encoder: DescriptorEncoder) -> std::fmt::Result {
        let guards: Vec<_> = self.0.iter().map(|s| read(s)).collect();
        let states: Vec<&SourceState> = guards.iter().map(|g| &**g).collect();
        metrics::encode(&metrics::families(&states, Utc::now()), encoder)
    }
}

fn read(s: &Shared) -> std::sync::RwLockReadGuard<'_, SourceState> {
    s.read().unwrap_or_else(|e| e.into_inner())
}

pub fn router(sources: Vec<Shared>) -> Router {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Sources(sources.clone())));
    let served = Arc::new(Served { sources, registry });
    Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics_page))
        .route("/snapshot", get(snapshot))
        .route("/healthz", get(healthz))
        .with_state(served)
}

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// OpenMetrics for clients that ask for it (Prometheus does), the classic text format for
/// the rest (curl, `promtool check metrics`).
async fn metrics_page(State(served): State<Arc<Served>>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let mut body = String::new();
    let encoded = if openmetrics {
        prometheus_client::encoding::text::encode(&mut body, &served.registry)
    } else {
        prometheus_client::encoding::prometheus_text::encode(&mut body, &served.registry)
    };
    match encoded {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                if openmetrics {
                    OPENMETRICS
                } else {
                    PROMETHEUS_TEXT
                },
            )],
            body,
        )
            .into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n").into_response(),
    }
}

/// The document of `snapshot --json` for one source (`?source=` names it when there are
/// several), from the last poll; 503 before the first one succeeded.
async fn snapshot(
    State(served): State<Arc<Served>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let chosen = match query.get("source") {
        Some(label) => served.sources.iter().find(|s| read(s).label == *label),
        None if served.sources.len() == 1 => served.sources.first(),
        None => None,
    };
    let Some(source) = chosen else {
        let labels: Vec<String> = served
            .sources
            .iter()
            .map(|s| read(s).label.clone())
            .collect();
        let error = serde_json::json!({
            "error": "name a source: /snapshot?source=LABEL",
            "sources": labels,
        });
        return (StatusCode::NOT_FOUND, axum::Json(error)).into_response();
    };
    let s = read(source);
    let Some(mut snapshot) = s.last.clone() else {
        let error = serde_json::json!({
            "error": "no snapshot yet",
            "last_error": s.last_error,
        });
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(error)).into_response();
    };
    redact::snapshot(&s.redact, &mut snapshot);
    let not_evaluated = alerts::unavailable(&s.rules, &snapshot, &s.capabilities, Mode::Continuous);
    let shot = OneShot {
        target: s.target.clone(),
        backend: s.backend.to_string(),
        capabilities: s.capabilities,
        rules: s.rules.clone(),
        stale_after: s.stale_after,
        snapshot,
        book: s.book.clone(),
        not_evaluated,
    };
    drop(s);
    axum::Json(document(&shot)).into_response()
}

/// Liveness: the process answers. It stays 200 while a database is away (restarting the
/// exporter would not bring it back); `jobtop_up` and the body say how each source is.
async fn healthz(State(served): State<Arc<Served>>) -> String {
    let now = Utc::now();
    let mut out = String::from("ok\n");
    for s in &served.sources {
        let s = read(s);
        let age = s
            .data_age(now)
            .map_or("no data yet".to_string(), |a| format!("data {a:.1}s old"));
        let status = match &s.last_error {
            Some(e) => format!("failing: {}", crate::ui::text::sanitize(e, 200)),
            None => "polling".into(),
        };
        out.push_str(&format!(
            "{}: {age}, {status}\n",
            crate::ui::text::sanitize(&s.label, 200)
        ));
    }
    out
}

async fn index() -> &'static str {
    "jobtop serve\n/metrics   OpenMetrics (Prometheus text without Accept)\n/snapshot  the JSON of `jobtop snapshot --json` (?source=LABEL when several)\n/healthz   liveness\n"
}
