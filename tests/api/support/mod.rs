//! Test plumbing: the service in-process (`app`), as a child process (`process`), the request
//! bodies the tests send (`bodies`), and the fixtures they read.

mod app;
mod bodies;
mod process;

use std::path::PathBuf;

use advanced_therapy_cds::config::parse_date;
use serde_json::Value;

pub use app::{Deployments, TestApp, http_client, post_json_to, settings};
pub use bodies::{FHIR_TOKEN, feedback, without_prefetch};
pub use process::{BIN, ServedProcess, binary};

pub const SELECT: &str = "advanced-therapy-order-select";
pub const SIGN: &str = "advanced-therapy-order-sign";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> Vec<u8> {
    let path = root().join("fixtures").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub fn fixture_json(rel: &str) -> Value {
    serde_json::from_slice(&fixture(rel)).expect("fixture is JSON")
}

/// The day the fixtures are written for (fixtures/cases.json `as_of`).
pub fn as_of() -> time::Date {
    parse_date(&as_of_arg()).expect("as_of date")
}

/// The same day as written in `cases.json`, for `--as-of`.
pub fn as_of_arg() -> String {
    fixture_json("cases.json")["as_of"].as_str().expect("as_of").to_string()
}

/// The service a request is for, by its hook.
pub fn service_for(body: &Value) -> &'static str {
    match body["hook"].as_str() {
        Some("order-sign") => SIGN,
        _ => SELECT,
    }
}

/// (rule id, indicator) of each card.
pub fn rules_of(response: &Value) -> Vec<(String, String)> {
    response["cards"]
        .as_array()
        .expect("cards array")
        .iter()
        .map(|c| {
            (
                c["source"]["topic"]["code"].as_str().unwrap_or("").to_string(),
                c["indicator"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Say something the test runner must not swallow (a skipped or degraded test): written to the
/// process's stderr directly, past libtest's output capture.
pub fn loud(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "\n*** {message}\n");
}
