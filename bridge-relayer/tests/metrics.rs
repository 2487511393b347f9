//! `GET /metrics` serves exactly the series the relayer README documents, with the documented
//! types, and the invariant gauges carry one sample per token once set.

use std::{collections::BTreeMap, time::Duration};

use bridge_relayer::{
    invariant::TokenBalance,
    metrics::{Metrics, RevertLabel},
};

/// The README's metrics table: series name (labels and a counter's `_total` dropped, as
/// Prometheus' `# TYPE` line names it) -> type.
fn documented() -> BTreeMap<String, String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("bridge-relayer/README.md");
    let mut out = BTreeMap::new();
    for line in readme.lines().filter(|l| l.starts_with("| `relayer_")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let series = cells[1].trim_matches('`');
        let name = series.split('{').next().unwrap_or(series);
        let kind = cells[2].to_string();
        let name = match kind.as_str() {
            "counter" => name
                .strip_suffix("_total")
                .unwrap_or_else(|| panic!("the counter {name} is documented without _total")),
            _ => name,
        };
        out.insert(name.to_string(), kind);
    }
    out
}

async fn served(metrics: &Metrics) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(metrics.clone().serve(listener));
    sidechain_telemetry::probe::http_body(addr, "/metrics", Duration::from_secs(10))
        .await
        .expect("/metrics answers 200")
}

#[tokio::test]
async fn every_documented_series_is_served_and_every_served_series_is_documented() {
    let metrics = Metrics::new();
    // The series labelled by open-ended values appear with their first sample.
    metrics
        .l1_simulation_reverts
        .get_or_create(&RevertLabel {
            kind: "submit_batch",
            reason: "IsPaused",
        })
        .inc();
    metrics.set_invariant(&[TokenBalance {
        denom: "l1/eth".into(),
        token: "0x0000000000000000000000000000000000000000".into(),
        locked: "1".into(),
        supply: "1".into(),
        in_flight: "0".into(),
        holds: true,
    }]);
    let text = served(&metrics).await;
    // Series with fixed labels are there at 0 before anything happened.
    assert!(
        text.contains("relayer_l1_txs_total{kind=\"submit_batch\",result=\"ok\"} 0"),
        "{text}"
    );
    let mut types = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let name = parts.next().unwrap().to_string();
            types.insert(name, parts.next().unwrap().to_string());
        }
    }
    let docs = documented();
    assert!(
        docs.len() >= 25,
        "the README documents only {} series",
        docs.len()
    );
    for (name, kind) in &docs {
        assert_eq!(
            types.get(name),
            Some(kind),
            "{name} ({kind}) is documented but /metrics serves {:?}",
            types.get(name)
        );
    }
    for name in types.keys() {
        assert!(
            docs.contains_key(name),
            "/metrics serves {name}, which the README does not document"
        );
    }
}

#[tokio::test]
async fn the_invariant_gauges_show_each_token_and_flag_only_the_broken_one() {
    let metrics = Metrics::new();
    metrics.set_invariant(&[
        TokenBalance {
            denom: "l1/eth".into(),
            token: "0x0000000000000000000000000000000000000000".into(),
            locked: "1000".into(),
            supply: "900".into(),
            in_flight: "100".into(),
            holds: true,
        },
        TokenBalance {
            denom: "l1/0xabc".into(),
            token: "0x0000000000000000000000000000000000000abc".into(),
            locked: "5".into(),
            supply: "6".into(),
            in_flight: "0".into(),
            holds: false,
        },
    ]);
    let text = served(&metrics).await;
    let sample = |series: &str, denom: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series) && l.contains(&format!("denom=\"{denom}\"")))
            .and_then(|l| l.split_whitespace().last()?.parse().ok())
            .unwrap_or_else(|| panic!("no {series} sample for {denom}:\n{text}"))
    };
    assert_eq!(sample("relayer_invariant_l1_locked{", "l1/eth"), 1000.0);
    assert_eq!(sample("relayer_invariant_wrapped_supply{", "l1/eth"), 900.0);
    assert_eq!(sample("relayer_invariant_in_flight{", "l1/eth"), 100.0);
    assert_eq!(sample("relayer_invariant_violated{", "l1/eth"), 0.0);
    assert_eq!(sample("relayer_invariant_violated{", "l1/0xabc"), 1.0);
}
