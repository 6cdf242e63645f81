//! Fetching from the EHR's FHIR server when prefetch lacks data: the faults a real EHR server
//! shows (down, slow, 401, 404, 5xx, paging, bounds), played by a wiremock server that serves a
//! fixture patient's resources. The same-cards-as-prefetch test against a real FHIR server is in
//! fhir_server.rs.

use std::time::Duration;

use advanced_therapy_cds::config::Settings;
use advanced_therapy_cds::fhir::FhirServerSettings;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{FHIR_TOKEN, SELECT, TestApp, fixture_json, rules_of, without_prefetch};

fn fhir_json(body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/fhir+json; fhirVersion=4.0")
        .set_body_json(body)
}

/// A mock EHR serving one fixture's prefetch as FHIR reads and searches.
async fn mock_ehr(request: &Value) -> MockServer {
    mock_ehr_answering_after(request, Duration::ZERO).await
}

/// The same, each read and search of the patient's data answered after `delay`.
async fn mock_ehr_answering_after(request: &Value, delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    let patient_id = request["context"]["patientId"].as_str().unwrap();
    let prefetch = &request["prefetch"];
    Mock::given(method("GET"))
        .and(path(format!("/fhir/Patient/{patient_id}")))
        .and(header("authorization", format!("Bearer {FHIR_TOKEN}").as_str()))
        .respond_with(fhir_json(&prefetch["patient"]).set_delay(delay))
        .mount(&server)
        .await;
    for (resource, key) in [
        ("Condition", "conditions"),
        ("MedicationRequest", "medications"),
        ("Observation", "observations"),
        ("Immunization", "immunizations"),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/fhir/{resource}")))
            .and(query_param("patient", patient_id))
            .and(header("authorization", format!("Bearer {FHIR_TOKEN}").as_str()))
            .respond_with(fhir_json(&prefetch[key]).set_delay(delay))
            .mount(&server)
            .await;
    }
    for resource in ["MedicationStatement", "ImmunizationRecommendation"] {
        Mock::given(method("GET"))
            .and(path(format!("/fhir/{resource}")))
            .respond_with(fhir_json(&json!({"resourceType": "Bundle", "type": "searchset", "entry": []})))
            .mount(&server)
            .await;
    }
    server
}

/// The mock EHR of `request`, with the resource at `at` answered by `response` instead.
async fn mock_ehr_with(request: &Value, at: impl Into<String>, response: ResponseTemplate) -> MockServer {
    let ehr = mock_ehr(request).await;
    Mock::given(method("GET")).and(path(at.into())).respond_with(response).with_priority(1).mount(&ehr).await;
    ehr
}

async fn app_with(budget_ms: u64, max_pages: usize) -> TestApp {
    app_with_bounds(budget_ms, max_pages, 5000).await
}

async fn app_with_bounds(budget_ms: u64, max_pages: usize, max_resources: usize) -> TestApp {
    TestApp::start_changed(|s| Settings {
        fhir: FhirServerSettings::new(Duration::from_millis(budget_ms), max_pages, max_resources, false),
        ..s
    })
    .await
}

const CASE: &str = "requests/baricitinib-pregnant.json";

/// The case's call without prefetch, pointed at the mock EHR `ehr`.
async fn call_without_prefetch(app: &TestApp, request: &Value, ehr: &MockServer) -> (u16, Value) {
    app.call(SELECT, &without_prefetch(request, &format!("{}/fhir", ehr.uri()))).await
}

/// The one card the case gives when its whole record was read.
fn pregnancy_card() -> Vec<(String, String)> {
    vec![("jak.pregnancy".to_string(), "critical".to_string())]
}

/// A 412 whose message says `needle`.
fn assert_412(status: u16, answer: &Value, needle: &str) {
    assert_eq!(status, 412, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains(needle), "{answer}");
}

/// The answer's `data.unchecked` card (the test fails without one).
fn unchecked_card(answer: &Value) -> &Value {
    answer["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"]["topic"]["code"] == "data.unchecked")
        .expect("a data.unchecked card")
}

#[tokio::test]
async fn no_prefetch_fetches_everything_with_the_bearer_token_and_gives_the_same_cards() {
    let app = app_with(2000, 20).await;
    let request = fixture_json(CASE);
    let ehr = mock_ehr(&request).await;
    let (_, with_prefetch) = app.call(SELECT, &serde_json::to_vec(&request).unwrap()).await;
    let (status, fetched) = call_without_prefetch(&app, &request, &ehr).await;
    assert_eq!(status, 200, "{fetched}");
    assert_eq!(rules_of(&fetched), rules_of(&with_prefetch));
    assert_eq!(rules_of(&fetched), pregnancy_card());
    // Every key was asked for once, each with the token (the mocks match only with it).
    let received = ehr.received_requests().await.unwrap();
    let paths: Vec<String> = received.iter().map(|r| r.url.path().to_string()).collect();
    for p in [
        "/fhir/Patient/pat-008",
        "/fhir/Condition",
        "/fhir/MedicationRequest",
        "/fhir/Observation",
        "/fhir/Immunization",
        "/fhir/MedicationStatement",
        "/fhir/ImmunizationRecommendation",
    ] {
        assert_eq!(paths.iter().filter(|x| *x == p).count(), 1, "{p} in {paths:?}");
    }
    assert!(received.iter().all(|r| r.headers.get("authorization").unwrap() == &format!("Bearer {FHIR_TOKEN}")));
    assert!(received.iter().all(|r| r.headers.get("accept").unwrap() == "application/fhir+json"));
}

#[tokio::test]
async fn only_missing_keys_are_fetched_and_nothing_without_an_in_scope_order() {
    let app = app_with(2000, 20).await;
    let mut request = fixture_json(CASE);
    let ehr = mock_ehr(&request).await;
    let server = format!("{}/fhir", ehr.uri());
    // Only `observations` is missing.
    let mut partial = request.clone();
    partial["prefetch"].as_object_mut().unwrap().remove("observations");
    partial["fhirServer"] = json!(server);
    partial["fhirAuthorization"] = json!({"access_token": FHIR_TOKEN, "token_type": "Bearer", "expires_in": 300, "scope": "user/*.read", "subject": "atcds"});
    let (status, answer) = app.call(SELECT, &serde_json::to_vec(&partial).unwrap()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(rules_of(&answer), pregnancy_card());
    let paths: Vec<String> = ehr.received_requests().await.unwrap().iter().map(|r| r.url.path().to_string()).collect();
    assert_eq!(paths, vec!["/fhir/Observation"]);

    // A paracetamol order: nothing is fetched at all.
    ehr.reset().await;
    let entry = &mut request["context"]["draftOrders"]["entry"][0]["resource"];
    entry["medicationCodeableConcept"] =
        json!({"coding": [{"system": "http://www.whocc.no/atc", "code": "N02BE01"}], "text": "Paracetamol"});
    let (status, answer) = app.call(SELECT, &without_prefetch(&request, &server)).await;
    assert_eq!((status, answer), (200, json!({"cards": []})));
    assert!(ehr.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_server_that_is_down_gives_412() {
    let app = app_with(2000, 20).await;
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (status, answer) =
        app.call(SELECT, &without_prefetch(&fixture_json(CASE), &format!("http://127.0.0.1:{port}/fhir"))).await;
    assert_412(status, &answer, "could not be reached");
}

#[tokio::test]
async fn a_401_gives_412_with_the_servers_own_message() {
    let app = app_with(2000, 20).await;
    let ehr = MockServer::start().await;
    let outcome = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "security", "diagnostics": "token expired"}]});
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(401).set_body_json(&outcome)).mount(&ehr).await;
    let (status, answer) =
        app.call(SELECT, &without_prefetch(&fixture_json(CASE), &format!("{}/fhir", ehr.uri()))).await;
    assert_eq!(status, 412, "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("refused access") && message.contains("401") && message.contains("token expired"),
        "{message}"
    );
    assert!(!message.contains(FHIR_TOKEN), "the token is never echoed");
}

#[tokio::test]
async fn a_403_or_a_failing_patient_read_gives_412() {
    let app = app_with(2000, 20).await;
    let request = fixture_json(CASE);
    let ehr = mock_ehr_with(&request, "/fhir/Condition", ResponseTemplate::new(403).set_body_json(json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "forbidden", "diagnostics": "scope does not cover Condition"}]}))).await;
    let (status, answer) = call_without_prefetch(&app, &request, &ehr).await;
    assert_eq!(status, 412, "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("`conditions`") && message.contains("403") && message.contains("scope does not cover"),
        "{message}"
    );

    // The Patient read fails with 500: without the Patient nothing can be checked.
    let ehr = mock_ehr_with(&request, "/fhir/Patient/pat-008", ResponseTemplate::new(500)).await;
    let (status, answer) = call_without_prefetch(&app, &request, &ehr).await;
    assert_412(status, &answer, "Patient could not be fetched");
}

#[tokio::test]
async fn the_keys_are_fetched_in_parallel_within_one_budget() {
    // Every search takes 600 ms and the budget is 1000 ms: one after the other they could not
    // all arrive, side by side they do.
    let app = app_with(1000, 20).await;
    let request = fixture_json(CASE);
    let ehr = mock_ehr_answering_after(&request, Duration::from_millis(600)).await;
    let started = std::time::Instant::now();
    let (status, answer) = call_without_prefetch(&app, &request, &ehr).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(rules_of(&answer), pregnancy_card(), "nothing was cut");
    assert!(started.elapsed() < Duration::from_millis(1500), "answered after {:?}", started.elapsed());
}

#[tokio::test]
async fn the_medication_an_order_refers_to_is_fetched_within_the_same_budget() {
    // The searches take 700 ms of the 1000 ms budget; the order names its drug only as
    // Medication/med-x, whose read takes 700 ms more. With one budget for the whole call the
    // read is cut at 1000 ms (and the order cannot be judged: 412); it must not get a fresh
    // budget of its own (which would answer after 1400 ms).
    let app = app_with(1000, 20).await;
    let mut request = fixture_json(CASE);
    let order = &mut request["context"]["draftOrders"]["entry"][0]["resource"];
    order.as_object_mut().unwrap().remove("medicationCodeableConcept");
    order["medicationReference"] = json!({"reference": "Medication/med-x"});
    let ehr = mock_ehr_answering_after(&request, Duration::from_millis(700)).await;
    let medication = json!({"resourceType": "Medication", "id": "med-x",
        "code": {"coding": [{"system": "http://www.whocc.no/atc", "code": "L04AF02", "display": "baricitinib"}], "text": "Olumiant 4 mg"}});
    Mock::given(method("GET"))
        .and(path("/fhir/Medication/med-x"))
        .respond_with(fhir_json(&medication).set_delay(Duration::from_millis(700)))
        .mount(&ehr)
        .await;
    let started = std::time::Instant::now();
    let (status, answer) = call_without_prefetch(&app, &request, &ehr).await;
    let elapsed = started.elapsed();
    assert_412(status, &answer, "could not be read from fhirServer");
    assert!(elapsed < Duration::from_millis(1300), "answered after {elapsed:?}: the read had a budget of its own");
    // With budget enough, the same request is judged: the Medication is baricitinib.
    let app = app_with(3000, 20).await;
    let (status, answer) = call_without_prefetch(&app, &request, &ehr).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(rules_of(&answer), pregnancy_card());
}

#[tokio::test]
async fn a_search_over_the_resource_bound_is_cut_and_says_so() {
    let request = fixture_json(CASE);
    let observations = request["prefetch"]["observations"]["entry"].as_array().unwrap().len();
    assert!(observations > 2, "the case has {observations} observations");
    let app = app_with_bounds(2000, 20, 2).await;
    let ehr = mock_ehr(&request).await;
    let (status, answer) = call_without_prefetch(&app, &request, &ehr).await;
    assert_eq!(status, 200, "{answer}");
    let unchecked = unchecked_card(&answer);
    let detail = unchecked["detail"].as_str().unwrap();
    assert!(
        detail.contains("'observations' is incomplete: more than 2 resources: only the first 2 were read"),
        "{detail}"
    );
    app.stop().await;

    // A bound that every search just fills is no cut.
    let largest = ["conditions", "medications", "observations", "immunizations"]
        .iter()
        .map(|k| request["prefetch"][k]["entry"].as_array().unwrap().len())
        .max()
        .unwrap();
    let app = app_with_bounds(2000, 20, largest).await;
    let (status, answer) = call_without_prefetch(&app, &request, &ehr).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(rules_of(&answer), pregnancy_card(), "nothing cut at {largest}");
}

#[tokio::test]
async fn a_missing_patient_is_412_and_a_failing_search_is_a_partial_answer_that_says_so() {
    let app = app_with(2000, 20).await;
    let request = fixture_json(CASE);
    let ehr = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/fhir/Patient/pat-008"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found", "diagnostics": "Patient/pat-008 not found"}]})))
        .mount(&ehr)
        .await;
    let (status, answer) = call_without_prefetch(&app, &request, &ehr).await;
    assert_412(status, &answer, "no such Patient");

    // Conditions fail with 503; everything else is there.
    let ehr = mock_ehr_with(&request, "/fhir/Condition", ResponseTemplate::new(503)).await;
    let (status, answer) = call_without_prefetch(&app, &request, &ehr).await;
    assert_eq!(status, 200, "{answer}");
    let rules = rules_of(&answer);
    assert!(rules.contains(&("jak.pregnancy".to_string(), "critical".to_string())), "{rules:?}");
    let unchecked = unchecked_card(&answer);
    assert!(
        unchecked["detail"].as_str().unwrap().contains("'conditions' is incomplete: the FHIR server answered 503"),
        "{unchecked}"
    );
}

#[tokio::test]
async fn a_slow_server_is_cut_at_the_time_budget() {
    let app = app_with(500, 20).await;
    let request = fixture_json(CASE);
    // Observations take 3 s: the answer comes within the budget, listing what it lacks.
    let ehr = mock_ehr_with(
        &request,
        "/fhir/Observation",
        fhir_json(&request["prefetch"]["observations"]).set_delay(Duration::from_secs(3)),
    )
    .await;
    let started = std::time::Instant::now();
    let (status, answer) = call_without_prefetch(&app, &request, &ehr).await;
    let elapsed = started.elapsed();
    assert_eq!(status, 200, "{answer}");
    assert!(elapsed < Duration::from_millis(2500), "answered after {elapsed:?}");
    let unchecked = unchecked_card(&answer);
    let detail = unchecked["detail"].as_str().unwrap();
    assert!(detail.contains("'observations' is incomplete") && detail.contains("500 ms budget"), "{detail}");
    // Without the observations the pregnancy is not known: no jak.pregnancy, and the gap is named.
    assert!(detail.contains("no pregnancy status in the last 9 months"), "{detail}");

    // A slow Patient: 412.
    let ehr = mock_ehr_with(
        &request,
        "/fhir/Patient/pat-008",
        fhir_json(&request["prefetch"]["patient"]).set_delay(Duration::from_secs(3)),
    )
    .await;
    let (status, answer) = call_without_prefetch(&app, &request, &ehr).await;
    assert_412(status, &answer, "budget");
}

/// Observations in three pages; the pregnancy status is on the last one.
async fn paged_ehr(request: &Value) -> MockServer {
    let ehr = mock_ehr(request).await;
    let entries = request["prefetch"]["observations"]["entry"].as_array().unwrap().clone();
    let pregnancy = entries.iter().position(|e| e["resource"]["code"]["coding"][0]["code"] == "82810-3").unwrap();
    let mut rest: Vec<Value> =
        entries.iter().enumerate().filter(|(i, _)| *i != pregnancy).map(|(_, e)| e.clone()).collect();
    let third = vec![entries[pregnancy].clone()];
    let second = rest.split_off(rest.len() / 2);
    let base = format!("{}/fhir", ehr.uri());
    let page = |entries: Vec<Value>, next: Option<&str>| {
        let mut b = json!({"resourceType": "Bundle", "type": "searchset", "entry": entries});
        if let Some(n) = next {
            b["link"] = json!([{"relation": "next", "url": format!("{base}/Observation?patient=pat-008&_page={n}")}]);
        }
        b
    };
    Mock::given(method("GET"))
        .and(path("/fhir/Observation"))
        .and(query_param("_page", "2"))
        .respond_with(fhir_json(&page(second, Some("3"))))
        .with_priority(1)
        .mount(&ehr)
        .await;
    Mock::given(method("GET"))
        .and(path("/fhir/Observation"))
        .and(query_param("_page", "3"))
        .respond_with(fhir_json(&page(third, None)))
        .with_priority(1)
        .mount(&ehr)
        .await;
    Mock::given(method("GET"))
        .and(path("/fhir/Observation"))
        .and(query_param("code", request_codes()))
        .respond_with(fhir_json(&page(rest, Some("2"))))
        .with_priority(2)
        .mount(&ehr)
        .await;
    ehr
}

/// The observation codes the discovery template asks for (whatever they are, the first page
/// answers that query).
fn request_codes() -> String {
    let k = advanced_therapy_cds::knowledge::Knowledge::load(&crate::support::root().join("cds-services")).unwrap();
    let template = &k.prefetch["observations"];
    template.split("code=").nth(1).unwrap().to_string()
}

#[tokio::test]
async fn every_page_of_a_search_is_read_within_its_bounds() {
    let request = fixture_json(CASE);
    let app = app_with(2000, 20).await;
    let ehr = paged_ehr(&request).await;
    let (status, answer) = call_without_prefetch(&app, &request, &ehr).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(rules_of(&answer), pregnancy_card(), "the status on page 3 was read");
    let pages = ehr.received_requests().await.unwrap().iter().filter(|r| r.url.path() == "/fhir/Observation").count();
    assert_eq!(pages, 3);
    app.stop().await;

    // With at most 2 pages the third is not read, and the answer says so.
    let app = app_with(2000, 2).await;
    let ehr = paged_ehr(&request).await;
    let (status, answer) = call_without_prefetch(&app, &request, &ehr).await;
    assert_eq!(status, 200, "{answer}");
    let unchecked = unchecked_card(&answer);
    assert!(unchecked["detail"].as_str().unwrap().contains("more than 2 pages"), "{unchecked}");
    assert!(!rules_of(&answer).contains(&("jak.pregnancy".to_string(), "critical".to_string())));
}

#[tokio::test]
async fn a_next_page_on_another_server_is_not_followed_and_http_elsewhere_is_refused() {
    let request = fixture_json(CASE);
    let app = app_with(2000, 20).await;
    let ehr = mock_ehr(&request).await;
    let elsewhere = MockServer::start().await;
    let mut first = request["prefetch"]["observations"].clone();
    first["link"] = json!([{"relation": "next", "url": format!("{}/steal?page=2", elsewhere.uri().replace("127.0.0.1", "localhost"))}]);
    Mock::given(method("GET"))
        .and(path("/fhir/Observation"))
        .respond_with(fhir_json(&first))
        .with_priority(1)
        .mount(&ehr)
        .await;
    let (status, answer) = call_without_prefetch(&app, &request, &ehr).await;
    assert_eq!(status, 200, "{answer}");
    assert!(elsewhere.received_requests().await.unwrap().is_empty(), "the token never goes to another server");
    let unchecked = unchecked_card(&answer);
    assert!(unchecked["detail"].as_str().unwrap().contains("another server"), "{unchecked}");

    let (status, answer) = app.call(SELECT, &without_prefetch(&request, "http://fhir.example.org/r4")).await;
    assert_412(status, &answer, "https");
}

/// The case's call with `observations` left for the FHIR server and its prefetch padded with
/// conditions no rule uses, past the size at which a call is evaluated on an evaluator thread.
fn large_call_missing_observations(request: &Value, ehr: &MockServer) -> Vec<u8> {
    let mut call = request.clone();
    let patient = request["context"]["patientId"].as_str().unwrap();
    call["prefetch"].as_object_mut().unwrap().remove("observations");
    let entries = call["prefetch"]["conditions"]["entry"].as_array_mut().unwrap();
    for i in 0..1_500 {
        entries.push(json!({"resource": {
            "resourceType": "Condition", "id": format!("myopia-{i}"),
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "H52.1", "display": "Myopie"}]},
            "subject": {"reference": format!("Patient/{patient}")}, "recordedDate": "2019-05-01"
        }}));
    }
    call["fhirServer"] = json!(format!("{}/fhir", ehr.uri()));
    call["fhirAuthorization"] = json!({"access_token": FHIR_TOKEN, "token_type": "Bearer", "expires_in": 300, "scope": "user/*.read", "subject": "atcds"});
    let body = serde_json::to_vec(&call).unwrap();
    assert!(body.len() > 300 * 1024 && body.len() < 1024 * 1024, "{} bytes", body.len());
    body
}

#[tokio::test]
async fn a_large_call_fetches_what_prefetch_lacks_and_keeps_to_its_budget() {
    // Evaluated on an evaluator thread, the call's fetches and their timers run on the worker's
    // runtime: a slow answer within the budget is read, one past it is not waited for (and the
    // answer names what it lacks).
    let app = app_with(1000, 20).await;
    let request = fixture_json(CASE);
    let ehr = mock_ehr_answering_after(&request, Duration::from_millis(300)).await;
    let (status, answer) = app.call(SELECT, &large_call_missing_observations(&request, &ehr)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(rules_of(&answer), pregnancy_card());
    let paths: Vec<String> = ehr.received_requests().await.unwrap().iter().map(|r| r.url.path().to_string()).collect();
    assert_eq!(paths, vec!["/fhir/Observation"]);

    let ehr = mock_ehr_answering_after(&request, Duration::from_millis(3000)).await;
    let started = std::time::Instant::now();
    let (status, answer) = app.call(SELECT, &large_call_missing_observations(&request, &ehr)).await;
    assert!(started.elapsed() < Duration::from_millis(2500), "answered after {:?}", started.elapsed());
    assert_eq!(status, 200, "{answer}");
    let detail = unchecked_card(&answer)["detail"].as_str().unwrap();
    assert!(detail.contains("'observations' is incomplete") && detail.contains("1000 ms budget"), "{detail}");
}
