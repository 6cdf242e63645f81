//! The golden test (issue 15): every fixture's whole response — cards, texts, suggestions —
//! compared with the one recorded in `fixtures/golden/`, generated uuids replaced by `<uuid>`.
//! It pins behaviour across restructurings: a change that alters any card shows here as a diff.
//! A response that should change is re-recorded with `ATCDS_GOLDEN=record cargo test --test api
//! golden`, and the diff of `fixtures/golden/` is reviewed with the change.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::{Deployments, fixture, fixture_json, root, service_for};

fn golden_path(case: &str) -> PathBuf {
    root().join("fixtures/golden").join(format!("{case}.json"))
}

/// Replace every UUID (card, suggestion, and the resources suggestions create) by `<uuid>`, the
/// test server's own address (it listens on a random port) by `<service>`, and the random token
/// of a decision-matrix link by `<token>`.
fn normalise(value: &mut Value, base: &str) {
    match value {
        Value::String(s) => {
            if s.starts_with(base) {
                *s = s.replacen(base, "<service>", 1);
                if let Some((page, _token)) = s.split_once("/matrix/") {
                    *s = format!("{page}/matrix/<token>");
                }
            } else if uuid::Uuid::parse_str(s).is_ok() {
                *s = "<uuid>".into();
            } else if let Some((prefix, id)) = s.rsplit_once('/')
                && uuid::Uuid::parse_str(id).is_ok()
            {
                *s = format!("{prefix}/<uuid>");
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|v| normalise(v, base)),
        Value::Object(o) => o.values_mut().for_each(|v| normalise(v, base)),
        _ => {}
    }
}

#[tokio::test]
async fn every_fixture_gives_the_recorded_response() {
    let record = std::env::var("ATCDS_GOLDEN").is_ok_and(|v| v == "record");
    let apps = Deployments::start().await;
    let cases = fixture_json("cases.json");
    let cases = cases["cases"].as_array().unwrap();
    let mut differ = Vec::new();
    let mut missing = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let body = fixture(case["file"].as_str().unwrap());
        let request: Value = serde_json::from_slice(&body).unwrap();
        let lang = if case["lang"] == "nl" { "nl-NL,nl;q=0.9" } else { "en-GB,en;q=0.8" };
        let app = apps.for_case(case);
        let resp = app.post_json(&format!("/cds-services/{}", service_for(&request)), &body, Some(lang)).await;
        assert_eq!(resp.status(), 200, "{name}");
        let mut got: Value = resp.json().await.unwrap();
        normalise(&mut got, &app.base);
        let path = golden_path(name);
        let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
        match std::fs::read_to_string(&path) {
            Ok(want) if want == text => {}
            Ok(_) if !record => differ.push(name.to_string()),
            Err(_) if !record => missing.push(name.to_string()),
            _ => {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, text).unwrap();
            }
        }
    }
    // A recording no case makes any more is removed when recording, else reported.
    let names: std::collections::BTreeSet<PathBuf> =
        cases.iter().map(|c| golden_path(c["name"].as_str().unwrap())).collect();
    let stale: Vec<PathBuf> =
        walk(&root().join("fixtures/golden")).into_iter().filter(|p| !names.contains(p)).collect();
    if record {
        stale.iter().for_each(|p| std::fs::remove_file(p).unwrap());
    } else {
        assert!(stale.is_empty(), "recordings without a case: {stale:?}");
    }
    assert!(missing.is_empty(), "no recorded response for {missing:?}: record with ATCDS_GOLDEN=record");
    assert!(
        differ.is_empty(),
        "{} response(s) differ from fixtures/golden/ (diff them with ATCDS_GOLDEN=record and git diff): {differ:?}",
        differ.len()
    );
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
