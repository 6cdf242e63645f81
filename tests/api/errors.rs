//! Bad input gets a clear 4xx JSON answer, never a crash or a 500 (issue 3, item 4).

use serde_json::{Value, json};

use crate::support::{SELECT, SIGN, TestApp, fixture_json, settings};

/// A valid order-select request to break in one place.
fn valid() -> Value {
    fixture_json("requests/baricitinib-age-71-ex-smoker.json")
}

async fn expect_error(app: &TestApp, service: &str, body: &[u8], status: u16, needle: &str) {
    let resp = app.post_json(&format!("/cds-services/{service}"), body, None).await;
    assert_eq!(resp.status().as_u16(), status, "expected {status} for {needle:?}");
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.expect("error body is JSON");
    let message = body["message"].as_str().expect("message");
    assert!(body["error"].is_string());
    assert!(message.contains(needle), "message {message:?} should mention {needle:?}");
}

fn without(mut v: Value, path: &[&str]) -> Vec<u8> {
    let (last, parents) = path.split_last().unwrap();
    let mut target = &mut v;
    for p in parents {
        target = &mut target[*p];
    }
    target.as_object_mut().unwrap().remove(*last);
    serde_json::to_vec(&v).unwrap()
}

#[tokio::test]
async fn malformed_and_incomplete_requests_are_refused_with_the_reason() {
    let app = TestApp::start().await;
    expect_error(&app, SELECT, b"{\"hook\": \"order-select\", ", 400, "not valid JSON").await;
    expect_error(&app, SELECT, b"[1, 2, 3]", 400, "not a CDS Hooks request").await;
    expect_error(&app, SELECT, b"", 400, "empty").await;
    expect_error(&app, SELECT, &without(valid(), &["hook"]), 400, "`hook` is required").await;
    expect_error(&app, SELECT, &without(valid(), &["hookInstance"]), 400, "`hookInstance` is required").await;
    expect_error(&app, SELECT, &without(valid(), &["context"]), 400, "`context` is required").await;
    expect_error(&app, SELECT, &without(valid(), &["context", "patientId"]), 400, "`context.patientId` is required")
        .await;
    expect_error(
        &app,
        SELECT,
        &without(valid(), &["context", "draftOrders"]),
        400,
        "`context.draftOrders` is required",
    )
    .await;
    expect_error(&app, SELECT, &without(valid(), &["context", "selections"]), 400, "`context.selections` is required")
        .await;

    let mut v = valid();
    v["hook"] = json!(42);
    expect_error(&app, SELECT, &serde_json::to_vec(&v).unwrap(), 400, "invalid type").await;

    // The hook of the request must be the service's hook.
    expect_error(
        &app,
        SIGN,
        &serde_json::to_vec(&valid()).unwrap(),
        400,
        "answers the `order-sign` hook, not `order-select`",
    )
    .await;

    let mut v = valid();
    v["context"]["selections"] = json!(["MedicationRequest/not-there"]);
    expect_error(&app, SELECT, &serde_json::to_vec(&v).unwrap(), 400, "MedicationRequest/not-there").await;

    let mut v = valid();
    v["context"]["draftOrders"] = json!({"resourceType": "Patient", "id": "x"});
    expect_error(&app, SELECT, &serde_json::to_vec(&v).unwrap(), 422, "must be a FHIR Bundle").await;

    let mut v = valid();
    v["fhirAuthorization"] = json!({"access_token": "secret", "token_type": "Bearer", "expires_in": 300, "scope": "patient/*.read", "subject": "x"});
    expect_error(&app, SELECT, &serde_json::to_vec(&v).unwrap(), 400, "without `fhirServer`").await;
}

#[tokio::test]
async fn unknown_service_content_type_method_and_path() {
    let app = TestApp::start().await;
    let body = serde_json::to_vec(&valid()).unwrap();
    expect_error(&app, "no-such-service", &body, 404, "no CDS service `no-such-service`").await;

    let resp = app
        .client
        .post(app.url(&format!("/cds-services/{SELECT}")))
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert!(resp.json::<Value>().await.unwrap()["message"].as_str().unwrap().contains("text/plain"));

    let resp = app.client.post(app.url(&format!("/cds-services/{SELECT}"))).body(body.clone()).send().await.unwrap();
    assert_eq!(resp.status(), 415, "no content type at all");

    let resp = app.client.get(app.url(&format!("/cds-services/{SELECT}"))).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "method-not-allowed");

    let resp = app.client.get(app.url("/nothing/here")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "not-found");
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_and_the_limit_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.limits.max_body_bytes = 4096;
    let app = TestApp::start_with(s).await;
    let body = serde_json::to_vec(&valid()).unwrap();
    assert!(body.len() > 4096);
    expect_error(&app, SELECT, &body, 413, "limit of 4096 bytes").await;
    // Without Content-Length (chunked), the limit still holds.
    let stream = futures_util_stream(body);
    let resp = app
        .client
        .post(app.url(&format!("/cds-services/{SELECT}")))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    app.stop().await;

    // The default limit (1 MiB) takes a 2 MiB body no more.
    let app = TestApp::start().await;
    let mut huge = valid();
    huge["extension"] = json!({"org.example.padding": "x".repeat(2 * 1024 * 1024)});
    expect_error(&app, SELECT, &serde_json::to_vec(&huge).unwrap(), 413, "1048576").await;
}

fn futures_util_stream(body: Vec<u8>) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    struct Chunks(Vec<Vec<u8>>);
    impl futures_core::Stream for Chunks {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(if self.0.is_empty() { None } else { Some(Ok(self.0.remove(0))) })
        }
    }
    Chunks(body.chunks(1000).map(<[u8]>::to_vec).collect())
}

#[tokio::test]
async fn wrong_fhir_under_a_prefetch_key_is_refused() {
    let app = TestApp::start().await;
    // An Observation where Conditions belong.
    let mut v = valid();
    let obs = v["prefetch"]["observations"]["entry"][0].clone();
    v["prefetch"]["conditions"]["entry"].as_array_mut().unwrap().push(obs);
    expect_error(&app, SELECT, &serde_json::to_vec(&v).unwrap(), 422, "prefetch `conditions` holds Observation/").await;

    // A Condition as the patient.
    let mut v = valid();
    v["prefetch"]["patient"] = v["prefetch"]["conditions"]["entry"][0]["resource"].clone();
    expect_error(&app, SELECT, &serde_json::to_vec(&v).unwrap(), 422, "prefetch `patient` holds Condition/").await;

    // Not a resource at all.
    let mut v = valid();
    v["prefetch"]["immunizations"] = json!("lots of vaccines");
    expect_error(
        &app,
        SELECT,
        &serde_json::to_vec(&v).unwrap(),
        422,
        "prefetch `immunizations` is not a FHIR resource",
    )
    .await;

    // Data about another patient must never be used.
    let mut v = valid();
    v["prefetch"]["conditions"]["entry"][0]["resource"]["subject"]["reference"] = json!("Patient/someone-else");
    expect_error(&app, SELECT, &serde_json::to_vec(&v).unwrap(), 422, "about another patient").await;
    let mut v = valid();
    v["context"]["patientId"] = json!("someone-else");
    expect_error(&app, SELECT, &serde_json::to_vec(&v).unwrap(), 422, "context.patientId is another patient").await;
}

#[tokio::test]
async fn missing_prefetch_without_fhir_server_is_412_naming_the_keys() {
    let app = TestApp::start().await;
    let mut v = valid();
    let prefetch = v["prefetch"].as_object_mut().unwrap();
    prefetch.remove("observations");
    prefetch.remove("immunizations");
    let resp = app.post_json(&format!("/cds-services/{SELECT}"), &serde_json::to_vec(&v).unwrap(), None).await;
    assert_eq!(resp.status(), 412);
    let body: Value = resp.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("`observations`") && message.contains("`immunizations`"), "{message}");
    assert!(message.contains("no fhirServer"), "{message}");
    assert!(!message.contains("`conditions`"), "only the missing keys: {message}");

    // A null patient: the EHR has no Patient; an OperationOutcome: the EHR's search failed.
    let mut v = valid();
    v["prefetch"]["patient"] = Value::Null;
    let resp = app.post_json(&format!("/cds-services/{SELECT}"), &serde_json::to_vec(&v).unwrap(), None).await;
    assert_eq!(resp.status(), 412);
    let mut v = valid();
    v["prefetch"]["conditions"] = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout", "diagnostics": "Condition search timed out"}]});
    let resp = app.post_json(&format!("/cds-services/{SELECT}"), &serde_json::to_vec(&v).unwrap(), None).await;
    assert_eq!(resp.status(), 412);
    assert!(resp.json::<Value>().await.unwrap()["message"].as_str().unwrap().contains("Condition search timed out"));

    // The same request without prefetch but with no in-scope order is fine: nothing is needed.
    let mut v = fixture_json("requests/select-paracetamol-only-no-prefetch.json");
    v.as_object_mut().unwrap().remove("prefetch");
    let (status, answer) = app.call(SELECT, &serde_json::to_vec(&v).unwrap()).await;
    assert_eq!((status, answer), (200, json!({"cards": []})));
}

#[tokio::test]
async fn null_prefetch_for_a_list_means_no_data_not_an_error() {
    let app = TestApp::start().await;
    // Dupilumab for a man with only null lists: no cards, no 412 (null is the EHR's "no data").
    let mut v = fixture_json("requests/dupilumab-mmr-3-weeks-ago.json");
    for key in ["conditions", "medications", "observations", "immunizations"] {
        v["prefetch"][key] = Value::Null;
    }
    let (status, answer) = app.call(SELECT, &serde_json::to_vec(&v).unwrap()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["cards"], json!([]), "the live vaccine was in the list now null");
}

#[tokio::test]
async fn an_order_whose_medication_cannot_be_resolved_is_412_not_silence() {
    let app = TestApp::start().await;
    let mut v = valid();
    let order = &mut v["context"]["draftOrders"]["entry"][0]["resource"];
    order.as_object_mut().unwrap().remove("medicationCodeableConcept");
    order["medicationReference"] = json!({"reference": "Medication/unknown-42"});
    let resp = app.post_json(&format!("/cds-services/{SELECT}"), &serde_json::to_vec(&v).unwrap(), None).await;
    assert_eq!(resp.status(), 412);
    let message = resp.json::<Value>().await.unwrap()["message"].as_str().unwrap().to_string();
    assert!(message.contains("Medication/unknown-42") && message.contains("cannot tell"), "{message}");
}

#[tokio::test]
async fn dates_at_the_edge_of_the_calendar_are_read_not_crashed_on() {
    // 9999-12-31T23:00-05:00 is in the year 10000 in UTC: valid FHIR, no valid UTC day.
    let app = TestApp::start().await;
    let mut v = valid();
    v["prefetch"]["conditions"]["entry"][0]["resource"]["onsetDateTime"] = json!("9999-12-31T23:00:00-05:00");
    let obs = &mut v["prefetch"]["observations"]["entry"][0]["resource"];
    obs.as_object_mut().unwrap().remove("effectiveDateTime");
    obs["issued"] = json!("9999-12-31T23:30:00.000-05:00");
    let resp = app.post_json(&format!("/cds-services/{SELECT}"), &serde_json::to_vec(&v).unwrap(), None).await;
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().await.unwrap();
    assert!(!answer["cards"].as_array().unwrap().is_empty(), "{answer}");
    assert!(!answer.to_string().contains("could not be read"), "the resources were read, not set aside: {answer}");
}
