//! Running the service (issue 7): configuration file and environment, CORS, limits, metrics,
//! durability of feedback across SIGKILL, graceful shutdown on SIGTERM.

use std::time::{Duration, Instant};

use advanced_therapy_cds::cli::serve::Overrides;
use advanced_therapy_cds::config::{Limits, Settings};
use advanced_therapy_cds::fhir::FhirServerSettings;
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{
    BIN, SELECT, ServedProcess, TestApp, feedback, fixture, fixture_json, post_json_to, root, settings,
    without_prefetch,
};

const CASE: &str = "requests/baricitinib-age-71-ex-smoker.json";

async fn feedback_rows(client: &reqwest::Client, url: &str) -> i64 {
    let summary: Value = client.get(url).send().await.unwrap().json().await.unwrap();
    summary["feedback"].as_array().unwrap().iter().map(|r| r["count"].as_i64().unwrap()).sum()
}

/// An EHR FHIR server whose every answer takes `delay` (the fixture patient's data, else empty).
async fn slow_fhir(delay: Duration) -> MockServer {
    let request = fixture_json(CASE);
    let server = MockServer::start().await;
    let prefetch = &request["prefetch"];
    for (re, key) in [
        (r"^/Patient/.*", "patient"),
        (r"^/Condition$", "conditions"),
        (r"^/MedicationRequest$", "medications"),
        (r"^/Observation$", "observations"),
        (r"^/Immunization$", "immunizations"),
    ] {
        Mock::given(method("GET"))
            .and(path_regex(re))
            .respond_with(ResponseTemplate::new(200).set_body_json(&prefetch[key]).set_delay(delay))
            .mount(&server)
            .await;
    }
    let empty = json!({"resourceType": "Bundle", "type": "searchset", "entry": []});
    Mock::given(method("GET"))
        .and(path_regex(r"^/(MedicationStatement|ImmunizationRecommendation)$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(empty).set_delay(delay))
        .mount(&server)
        .await;
    server
}

#[test]
fn configuration_comes_from_the_file_then_the_environment_and_bad_values_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("atcds.toml");
    std::fs::write(
        &config,
        format!(
            "bind = \"127.0.0.1:0\"\nknowledge_dir = \"{}\"\ndata_dir = \"{}\"\njurisdiction = \"NL\"\n\n[auth]\nenabled = false\n\n[fhir]\nmax_pages = 5\n",
            root().join("cds-services").display(),
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    // The environment overrides the file.
    let mut served = ServedProcess::start(&["--config", config], &[("ATCDS_JURISDICTION", "BE")]);
    let log = served.lines.join("\n");
    assert!(log.contains("jurisdiction=BE"), "ATCDS_JURISDICTION overrides the file:\n{log}");
    assert!(log.contains("EHR AUTHENTICATION IS OFF"), "auth off is said loudly:\n{log}");
    served.signal("TERM");
    assert!(served.wait(Duration::from_secs(10)).is_some_and(|s| s.success()));

    for (env, key) in [
        (("ATCDS_FHIR_MAX_PAGES", "many"), "`fhir.max_pages`"),
        (("ATCDS_LIMITS_REQUEST_TIMEOUT_MS", "0"), "`limits.request_timeout_ms`"),
        (("ATCDS_BIND", "localhost"), "`bind`"),
        (("ATCDS_CORS_ALLOWED_ORIGINS", "[\"https://ehr.example.org/path\"]"), "`cors.allowed_origins`"),
        (("ATCDS_DATABASE_URL", "mysql://db/cds"), "`database_url`"),
        (("ATCDS_AUTH_ENABLED", "true"), "`auth.issuers`"),
        (("ATCDS_FHRI_MAX_PAGES", "3"), "`fhri_max_pages`"),
        (("ATCDS_AUTH_LEEWAY_SECONDS", "3600"), "`auth.leeway_seconds`"),
    ] {
        let out =
            std::process::Command::new(BIN).args(["serve", "--config", config]).env(env.0, env.1).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{env:?} stops start-up");
        assert!(stderr.contains("invalid configuration") && stderr.contains(key), "{env:?} names {key}: {stderr}");
    }
    // A configuration file must say whether authentication is on; so must issuers without it,
    // and so must the embedded default when it listens beyond this machine.
    let silent = dir.path().join("silent.toml");
    std::fs::write(&silent, "bind = \"127.0.0.1:0\"\n").unwrap();
    let out = std::process::Command::new(BIN).args(["serve", "--config"]).arg(&silent).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("`auth.enabled`"));
    for env in [
        vec![("ATCDS_AUTH_ISSUERS", "[{iss=\"https://ehr.example.org\", jwks_url=\"https://ehr.example.org/jwks\"}]")],
        vec![("ATCDS_BIND", "0.0.0.0:0")],
    ] {
        let mut cmd = std::process::Command::new(BIN);
        cmd.arg("serve");
        for (k, v) in &env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.code() == Some(1) && stderr.contains("`auth.enabled`"), "{env:?}: {stderr}");
    }
}

#[tokio::test]
async fn documented_environment_variables_take_effect() {
    let data = tempfile::tempdir().unwrap();
    let knowledge = root().join("cds-services");
    let served = ServedProcess::start(
        &[
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            data.path().to_str().unwrap(),
            "--knowledge",
            knowledge.to_str().unwrap(),
        ],
        &[
            ("ATCDS_LIMITS_MAX_BODY_BYTES", "2048"),
            ("ATCDS_FHIR_ALLOW_HTTP", "true"),
            ("ATCDS_FHIR_TIME_BUDGET_MS", "900"),
        ],
    );
    let client = crate::support::http_client();
    let status = post_json_to(&client, &served.url(&format!("/cds-services/{SELECT}")), "x".repeat(4096)).await;
    assert_eq!(status, 413, "ATCDS_LIMITS_MAX_BODY_BYTES=2048 is the body limit");
}

#[test]
fn the_shipped_deployment_configuration_is_valid() {
    let s = Settings::load(Some(&root().join("deploy/atcds.toml")), &Overrides::default()).unwrap();
    assert_eq!(s.bind.to_string(), "0.0.0.0:8080");
    assert!(s.auth.enabled, "a copied deployment refuses calls until its EHR is configured");
    assert_eq!(s.auth.issuers.len(), 1);
    assert_eq!(s.limits.max_concurrent_requests, 256);
    // Written out in the file (every key of `[limits]` is optional): operators find it there.
    let text = std::fs::read_to_string(root().join("deploy/atcds.toml")).unwrap();
    let file: toml::Value = toml::from_str(&text).unwrap();
    assert_eq!(file["limits"]["give_back_memory_above_mib"].as_integer(), Some(48), "shipped with the default");
    assert_eq!(s.limits.give_back_memory_above_mib, 48);
}

#[tokio::test]
async fn cors_preflight_is_answered_for_allowed_origins_only() {
    let dir = tempfile::tempdir().unwrap();
    let app =
        TestApp::start_with(Settings { cors_origins: vec!["https://ehr.example.org".into()], ..settings(dir.path()) })
            .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url(&format!("/cds-services/{SELECT}")))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
    };
    let ok = preflight("https://ehr.example.org").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://ehr.example.org");
    let methods = ok.headers()["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let headers = ok.headers()["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(headers.contains("authorization") && headers.contains("content-type"), "{headers}");
    let other = preflight("https://evil.example.net").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none(), "no CORS grant for another origin");
    // A real call from the allowed origin carries the grant too.
    let call = app
        .client
        .post(app.url(&format!("/cds-services/{SELECT}")))
        .header("origin", "https://ehr.example.org")
        .header("content-type", "application/json")
        .body(fixture(CASE))
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 200);
    assert_eq!(call.headers()["access-control-allow-origin"], "https://ehr.example.org");
}

#[tokio::test]
async fn a_call_over_the_time_limit_or_over_the_concurrency_limit_gets_503() {
    let ehr = slow_fhir(Duration::from_millis(1500)).await;
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start_with(Settings {
        limits: Limits { request_timeout: Duration::from_millis(400), max_concurrent_requests: 1, ..Limits::default() },
        fhir: FhirServerSettings::new(Duration::from_secs(5), 20, 5000, false),
        ..settings(dir.path())
    })
    .await;
    let slow_call = without_prefetch(&fixture_json(CASE), &ehr.uri());
    let url = app.url(&format!("/cds-services/{SELECT}"));
    let post = |body: Vec<u8>| app.client.post(&url).header("content-type", "application/json").body(body).send();
    let (first, second) = tokio::join!(post(slow_call.clone()), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        post(fixture(CASE)).await
    });
    let second = second.unwrap();
    assert_eq!(second.status(), 503, "the only slot is taken");
    assert_eq!(second.headers()["retry-after"], "1");
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"], "busy");
    let first = first.unwrap();
    assert_eq!(first.status(), 503, "the slow call hit the time limit");
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["error"], "timeout");
    assert!(body["message"].as_str().unwrap().contains("400 ms"));
    // The slot is free again.
    assert_eq!(post(fixture(CASE)).await.unwrap().status(), 200);
}

#[tokio::test]
async fn metrics_count_calls_cards_feedback_and_fhir_fetches() {
    let ehr = slow_fhir(Duration::ZERO).await;
    let app = TestApp::start().await;
    let scrape = || async { app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap() };
    let count = |text: &str, line_start: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let calls = format!("atcds_requests_total{{service=\"{SELECT}\",status=\"200\"}}");
    let cards = "atcds_cards_total{rule=\"jak.restricted-population\",indicator=\"warning\"}";
    let feedbacks = "atcds_feedback_total{rule=\"unknown\",outcome=\"overridden\"}";
    let fetches = "atcds_fhir_fetches_total{key=\"conditions\",outcome=\"ok\"}";
    let before = scrape().await;
    for _ in 0..3 {
        let (status, _) = app.call(SELECT, &fixture(CASE)).await;
        assert_eq!(status, 200);
    }
    let (status, _) = app.call(SELECT, &without_prefetch(&fixture_json(CASE), &ehr.uri())).await;
    assert_eq!(status, 200);
    let feedback_url = app.url(&format!("/cds-services/{SELECT}/feedback"));
    assert_eq!(
        post_json_to(&app.client, &feedback_url, feedback("overridden", &uuid::Uuid::new_v4().to_string()).to_string())
            .await,
        200
    );
    let resp = app.client.post(app.url("/cds-services/no-such-service")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let after = scrape().await;
    assert!(count(&after, &calls) - count(&before, &calls) >= 4.0, "calls counted:\n{after}");
    assert!(count(&after, cards) - count(&before, cards) >= 4.0, "cards per rule and indicator:\n{after}");
    assert!(count(&after, feedbacks) - count(&before, feedbacks) >= 1.0, "feedback per rule and outcome:\n{after}");
    assert!(count(&after, fetches) - count(&before, fetches) >= 1.0, "FHIR fetches:\n{after}");
    assert!(after.contains("atcds_request_duration_seconds_bucket{service=\""), "latency histogram:\n{after}");
    assert!(after.contains("atcds_fhir_fetch_duration_seconds_bucket{key=\"patient\""), "FHIR latency:\n{after}");
    assert!(after.contains("atcds_requests_total{service=\"unknown\",status=\"404\"}"), "unknown ids are not labels");
    let long = format!("/cds-services/{SELECT}/feedback/feedback/{}", "x".repeat(2000));
    assert_eq!(app.client.post(app.url(&long)).send().await.unwrap().status(), 404);
    let last = scrape().await;
    assert!(!last.contains("no-such-service") && !last.contains("xxxxxxxx"), "invented paths are not labels");
}

#[tokio::test]
async fn feedback_answered_before_a_sigkill_is_there_after_the_restart() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_string();
    let args = ["--bind", "127.0.0.1:0", "--data-dir", &dir, "--knowledge"];
    let knowledge = root().join("cds-services");
    let knowledge = knowledge.to_str().unwrap();
    let mut served = ServedProcess::start(&[&args[..], &[knowledge]].concat(), &[]);
    let client = crate::support::http_client();
    let url = served.url(&format!("/cds-services/{SELECT}/feedback"));
    const SENT: i64 = 25;
    let mut last_answer = Instant::now();
    for _ in 0..SENT {
        assert_eq!(
            post_json_to(&client, &url, feedback("overridden", &uuid::Uuid::new_v4().to_string()).to_string()).await,
            200
        );
        last_answer = Instant::now();
    }
    // Child::kill is SIGKILL, sent without starting another process.
    served.child.kill().unwrap();
    let kill_after = last_answer.elapsed();
    drop(served);
    let served = ServedProcess::start(&[&args[..], &[knowledge]].concat(), &[]);
    let stored = feedback_rows(&client, &served.url("/feedback/summary")).await;
    eprintln!(
        "sigkill: {SENT} feedback calls answered 200, SIGKILL {} µs after the last answer, {stored} rows after restart",
        kill_after.as_micros()
    );
    assert_eq!(stored, SENT, "every answered feedback survived SIGKILL");
}

#[tokio::test]
async fn sigterm_lets_calls_in_progress_finish_and_loses_no_feedback() {
    let ehr = slow_fhir(Duration::from_millis(1200)).await;
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_string();
    let knowledge = root().join("cds-services");
    let knowledge = knowledge.to_str().unwrap().to_string();
    let as_of = fixture_json("cases.json")["as_of"].as_str().unwrap().to_string();
    let args = [
        "--bind",
        "127.0.0.1:0",
        "--data-dir",
        &dir,
        "--knowledge",
        &knowledge,
        "--as-of",
        &as_of,
        "--fhir-time-budget-ms",
        "5000",
    ];
    let mut served = ServedProcess::start(&args, &[]);
    let client = crate::support::http_client();
    let call = client
        .post(served.url(&format!("/cds-services/{SELECT}")))
        .header("content-type", "application/json")
        .body(without_prefetch(&fixture_json(CASE), &ehr.uri()))
        .send();
    let in_progress = tokio::spawn(call);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let feedback_url = served.url(&format!("/cds-services/{SELECT}/feedback"));
    assert_eq!(
        post_json_to(&client, &feedback_url, feedback("overridden", &uuid::Uuid::new_v4().to_string()).to_string())
            .await,
        200
    );
    served.signal("TERM");
    let answer = in_progress.await.unwrap().expect("the call in progress is answered");
    assert_eq!(answer.status(), 200, "the call in progress finished");
    let cards: Value = answer.json().await.unwrap();
    assert!(!cards["cards"].as_array().unwrap().is_empty());
    let status = served.wait(Duration::from_secs(15)).expect("the server stops after SIGTERM");
    assert!(status.success(), "clean exit: {status:?}\n{}", served.lines.join("\n"));
    let log = served.lines.join("\n");
    assert!(log.contains("SIGTERM received"), "{log}");
    drop(served);
    let served = ServedProcess::start(&args, &[]);
    assert_eq!(feedback_rows(&client, &served.url("/feedback/summary")).await, 1, "no feedback lost");
}
