//! Telemetry for operators: the log on stderr (`init_logging`), and metrics in Prometheus format
//! at `GET /metrics` — calls and their latency per service and status, cards per rule and
//! indicator, feedback outcomes per rule, FHIR fetches. Neither carries patient data.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const REQUESTS: &str = "atcds_requests_total";
pub const REQUEST_SECONDS: &str = "atcds_request_duration_seconds";
pub const CARDS: &str = "atcds_cards_total";
pub const FEEDBACK: &str = "atcds_feedback_total";
pub const FHIR_FETCHES: &str = "atcds_fhir_fetches_total";
pub const FHIR_FETCH_SECONDS: &str = "atcds_fhir_fetch_duration_seconds";
pub const AUTH_REFUSED: &str = "atcds_auth_refused_total";

/// Latency buckets from sub-millisecond engine answers to the FHIR time budget.
const BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide recorder (installed on first use; several apps in one test process share it).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .expect("valid buckets");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder installed first (an embedding program) keeps its own: ours then only
        // renders what it was given.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// The scrape body.
pub fn render() -> String {
    let h = handle();
    h.run_upkeep();
    h.render()
}

pub fn request(service: &str, status: u16, seconds: f64) {
    let labels = [("service", service.to_string()), ("status", status.to_string())];
    metrics::counter!(REQUESTS, &labels).increment(1);
    metrics::histogram!(REQUEST_SECONDS, &labels).record(seconds);
}

pub fn card(rule: &str, indicator: &str) {
    metrics::counter!(CARDS, "rule" => rule.to_string(), "indicator" => indicator.to_string()).increment(1);
}

pub fn feedback(rule: &str, outcome: &str) {
    metrics::counter!(FEEDBACK, "rule" => rule.to_string(), "outcome" => outcome.to_string()).increment(1);
}

/// One read or search page from the EHR's FHIR server: `outcome` is `ok`, an HTTP status, or
/// `timeout`/`error`.
pub fn fhir_fetch(key: &str, outcome: &str, seconds: f64) {
    metrics::counter!(FHIR_FETCHES, "key" => key.to_string(), "outcome" => outcome.to_string()).increment(1);
    metrics::histogram!(FHIR_FETCH_SECONDS, "key" => key.to_string()).record(seconds);
}

pub fn auth_refused() {
    metrics::counter!(AUTH_REFUSED).increment(1);
}

/// How the log is written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Install the process's log subscriber: `RUST_LOG` if it is a valid filter, else `default`.
pub fn init_logging(format: LogFormat, default: &str) {
    // fhir-sdk and reqwest log request URLs, which name the patient: keep them quiet unless
    // RUST_LOG asks for them explicitly — also when RUST_LOG cannot be read.
    let quiet = |base: &str| {
        let mut directives = base.to_string();
        for crate_name in ["fhir_sdk", "reqwest", "hyper", "hyper_util"] {
            if !directives.contains(crate_name) {
                directives.push_str(&format!(",{crate_name}=warn"));
            }
        }
        directives
    };
    let default_filter = || tracing_subscriber::EnvFilter::new(quiet(default));
    let (filter, invalid) = match std::env::var("RUST_LOG") {
        Ok(requested) => match tracing_subscriber::EnvFilter::try_new(quiet(&requested)) {
            Ok(filter) => (filter, None),
            Err(e) => (default_filter(), Some(e.to_string())),
        },
        Err(_) => (default_filter(), None),
    };
    // Colours on a terminal only: a log file or journal would get the escape codes as text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    if let Some(error) = invalid {
        tracing::warn!(%error, "RUST_LOG is not a valid filter: logging at the default level");
    }
}
