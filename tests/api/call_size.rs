//! The size of a call (issue 16): an order repeated with the same content counts once,
//! conflicting copies are refused, a call may carry at most `limits.max_draft_orders`, and a
//! large body (evaluated off the worker thread) gets the same cards as a small one.

use serde_json::{Value, json};

use crate::support::{SELECT, SIGN, TestApp, fixture_json, rules_of};

/// The 71-year-old's baricitinib order as an order-sign call, with `orders` extra distinct
/// orders (paracetamol, out of scope) after it.
fn sign_call(extra: usize) -> Value {
    let mut v = fixture_json("requests/baricitinib-age-71-ex-smoker.json");
    v["hook"] = json!("order-sign");
    v["context"].as_object_mut().unwrap().remove("selections");
    let entries = v["context"]["draftOrders"]["entry"].as_array_mut().unwrap();
    for n in 0..extra {
        entries.push(json!({"resource": {
            "resourceType": "MedicationRequest", "id": format!("mr-para-{n}"), "status": "draft", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "N02BE01", "display": "paracetamol"}]},
            "subject": {"reference": "Patient/pat-001"}
        }}));
    }
    v
}

fn first_order(v: &Value) -> Value {
    v["context"]["draftOrders"]["entry"][0].clone()
}

async fn post(app: &TestApp, v: &Value) -> (u16, Value) {
    let resp = app.post_json(&format!("/cds-services/{SIGN}"), &serde_json::to_vec(v).unwrap(), None).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn an_order_repeated_with_the_same_content_gets_its_cards_once() {
    let app = TestApp::start().await;
    let once = sign_call(0);
    let (status, single) = post(&app, &once).await;
    assert_eq!(status, 200, "{single}");
    assert!(!rules_of(&single).is_empty(), "the fixture's order gets cards: {single}");

    let mut twice = once.clone();
    let copy = first_order(&once);
    for _ in 0..3 {
        twice["context"]["draftOrders"]["entry"].as_array_mut().unwrap().push(copy.clone());
    }
    let (status, repeated) = post(&app, &twice).await;
    assert_eq!(status, 200, "{repeated}");
    assert_eq!(rules_of(&repeated), rules_of(&single), "four copies of one order are one order");
}

#[tokio::test]
async fn copies_of_one_order_with_different_content_are_refused() {
    let app = TestApp::start().await;
    let mut v = sign_call(0);
    let mut other = first_order(&v);
    other["resource"]["dosageInstruction"] = json!([{"text": "4 mg 1x daags"}]);
    v["context"]["draftOrders"]["entry"].as_array_mut().unwrap().push(other);
    let (status, body) = post(&app, &v).await;
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("MedicationRequest/mr-bari-001") && message.contains("different content"), "{message}");
}

#[tokio::test]
async fn more_draft_orders_than_the_limit_are_refused_with_413() {
    let app = TestApp::start_changed(|mut s| {
        s.limits.max_draft_orders = 4;
        s
    })
    .await;
    // The baricitinib order and three others: at the limit, reviewed.
    let (status, body) = post(&app, &sign_call(3)).await;
    assert_eq!(status, 200, "{body}");
    assert!(!rules_of(&body).is_empty());
    // A repeated order does not count twice.
    let mut repeated = sign_call(3);
    let copy = first_order(&repeated);
    repeated["context"]["draftOrders"]["entry"].as_array_mut().unwrap().push(copy);
    assert_eq!(post(&app, &repeated).await.0, 200);
    // One more distinct order: refused, saying which limit.
    let (status, body) = post(&app, &sign_call(4)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"], "too-many-draft-orders");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("at most 4") && message.contains("limits.max_draft_orders"), "{message}");
}

/// The 71-year-old's order-select call with `n` observations no rule uses added to its
/// prefetch (a body height each).
fn padded(n: usize) -> Value {
    let mut v = fixture_json("requests/baricitinib-age-71-ex-smoker.json");
    let entries = v["prefetch"]["observations"]["entry"].as_array_mut().expect("an observations Bundle");
    for i in 0..n {
        entries.push(json!({"resource": {
            "resourceType": "Observation", "id": format!("obs-height-{i}"), "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2", "display": "Body height"}]},
            "subject": {"reference": "Patient/pat-001"}, "effectiveDateTime": "2026-01-15",
            "valueQuantity": {"value": 172, "unit": "cm", "system": "http://unitsofmeasure.org", "code": "cm"}
        }}));
    }
    v
}

#[tokio::test]
async fn a_large_body_gets_the_same_cards_as_the_small_one() {
    let app = TestApp::start().await;
    let small = serde_json::to_vec(&padded(0)).unwrap();
    let large = serde_json::to_vec(&padded(2_500)).unwrap();
    assert!(large.len() > 512 * 1024 && large.len() < 1024 * 1024, "{} bytes", large.len());
    let answer = |body: Vec<u8>| {
        let app = &app;
        async move {
            let resp = app.post_json(&format!("/cds-services/{SELECT}"), &body, None).await;
            assert_eq!(resp.status(), 200);
            rules_of(&resp.json::<Value>().await.unwrap())
        }
    };
    let expected = answer(small).await;
    assert!(!expected.is_empty());
    assert_eq!(answer(large.clone()).await, expected);
    // Without Content-Length (chunked): evaluated as a large call once it has all come.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = large.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let resp = app
        .client
        .post(app.url(&format!("/cds-services/{SELECT}")))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(rules_of(&resp.json::<Value>().await.unwrap()), expected);
    // Five large calls at once (more than the evaluator threads, one per core, on a machine of up to
    // four cores): they queue for a slot, and each is answered.
    let together = futures_util::future::join_all((0..5).map(|_| answer(large.clone()))).await;
    assert!(together.iter().all(|rules| *rules == expected), "{together:?}");
}

#[tokio::test]
async fn a_call_that_will_be_refused_does_not_wait_for_the_large_calls_in_progress() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::start().await;
    let address = app.base.trim_start_matches("http://").to_string();
    // Large calls whose bodies never finish arriving hold every slot (one per core).
    let mut senders = Vec::new();
    for _ in 0..std::thread::available_parallelism().map_or(1, |n| n.get()) {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        let head = format!(
            "POST /cds-services/{SELECT} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: 600000\r\n\r\n{{\"hook\":"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        senders.push(stream);
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // Over the limit, or for no service of ours: refused at once, not after the slots come back.
    let started = std::time::Instant::now();
    let oversized = vec![b' '; 2 * 1024 * 1024];
    let resp = app.post_json(&format!("/cds-services/{SELECT}"), &oversized, None).await;
    assert_eq!(resp.status(), 413);
    let resp = app.post_json("/cds-services/no-such-service", &serde_json::to_vec(&padded(2_500)).unwrap(), None).await;
    assert_eq!(resp.status(), 404);
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "answered after {:?}", started.elapsed());
    drop(senders);
}
