//! The binary: `evaluate` gives what the server gives; `serve` logs no patient data.

use serde_json::Value;

use crate::support::{
    FHIR_TOKEN, ServedProcess, TestApp, as_of_arg, binary, fixture, fixture_json, post_json_to, root, rules_of,
    service_for, without_prefetch,
};

#[tokio::test]
async fn evaluate_gives_the_same_cards_as_the_server() {
    let app = TestApp::start().await;
    for name in ["baricitinib-age-71-ex-smoker", "tofacitinib-positive-igra-untreated", "dupilumab-pregnant-nl"] {
        let rel = format!("requests/{name}.json");
        let out = binary()
            .args(["evaluate", "--as-of", &as_of_arg(), "--knowledge"])
            .arg(root().join("cds-services"))
            .arg(root().join("fixtures").join(&rel))
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let offline: Value = serde_json::from_slice(&out.stdout).unwrap();
        let request = fixture_json(&rel);
        let (_, online) = app.call(service_for(&request), &fixture(&rel)).await;
        assert_eq!(rules_of(&offline), rules_of(&online), "{name}");
        assert!(!rules_of(&offline).is_empty(), "{name} has cards");
    }
}

#[test]
fn evaluate_in_dutch_and_its_exit_codes() {
    let run = |args: &[&str], file: &str| {
        binary()
            .args(["evaluate", "--as-of", &as_of_arg(), "--knowledge"])
            .arg(root().join("cds-services"))
            .args(args)
            .arg(root().join("fixtures").join(file))
            .output()
            .unwrap()
    };
    let out = run(&["--lang", "nl"], "requests/baricitinib-pregnant.json");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(answer["cards"][0]["summary"].as_str().unwrap().contains("afgeraden"), "{answer}");

    // Without prefetch and without a FHIR server the data cannot be had: exit code 3 (HTTP 412).
    let mut request = fixture_json("requests/baricitinib-pregnant.json");
    request.as_object_mut().unwrap().remove("prefetch");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-prefetch.json");
    std::fs::write(&path, serde_json::to_vec(&request).unwrap()).unwrap();
    let out = binary().args(["evaluate", "--knowledge"]).arg(root().join("cds-services")).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no fhirServer"));
}

#[tokio::test]
async fn served_requests_are_logged_without_patient_data() {
    let data = tempfile::tempdir().unwrap();
    let mut served = ServedProcess::start_for_fixtures(data.path(), &[("RUST_LOG", "debug")]);
    let port = served.port;
    let client = crate::support::http_client();
    let mut patients = Vec::new();
    for name in ["baricitinib-age-71-ex-smoker", "baricitinib-pregnant", "dupilumab-pregnant-nl"] {
        let rel = format!("requests/{name}.json");
        let request = fixture_json(&rel);
        patients.push(request["prefetch"]["patient"].clone());
        let resp = client
            .post(format!("http://127.0.0.1:{port}/cds-services/{}", service_for(&request)))
            .header("content-type", "application/json")
            .body(fixture(&rel))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    // A refused request (another patient's data) is logged too, without the ids in its message.
    let mut bad = fixture_json("requests/baricitinib-pregnant.json");
    bad["context"]["patientId"] = "pat-999-secret".into();
    let resp = client
        .post(format!("http://127.0.0.1:{port}/cds-services/advanced-therapy-order-select"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&bad).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    // Without prefetch, from a FHIR server: the token and the query URLs (they name the
    // patient) stay out of the log, even at debug level.
    let request = fixture_json("requests/baricitinib-pregnant.json");
    let ehr = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path("/fhir/Patient/pat-008"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(&request["prefetch"]["patient"]))
        .mount(&ehr)
        .await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"resourceType": "Bundle", "type": "searchset", "entry": []})),
        )
        .mount(&ehr)
        .await;
    let body = without_prefetch(&request, &format!("{}/fhir", ehr.uri()));
    let url = format!("http://127.0.0.1:{port}/cds-services/advanced-therapy-order-select");
    assert_eq!(post_json_to(&client, &url, String::from_utf8(body).unwrap()).await, 200);
    assert!(!ehr.received_requests().await.unwrap().is_empty(), "the record was fetched");
    // A path segment with a line break cannot forge a log line.
    let url = format!("http://127.0.0.1:{port}/cds-services/x%0Aforged-line");
    assert_eq!(post_json_to(&client, &url, "{}".into()).await, 404);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    served.child.kill().unwrap();
    served.wait(std::time::Duration::from_secs(10));
    let log = served.lines.join("\n");
    assert!(log.contains("hook_instance=6f1c5a0e-2b0c-4d8e-9a57-000000000001"), "spans carry the hookInstance:\n{log}");
    assert!(log.contains("cards=1"), "spans carry the number of cards:\n{log}");
    assert!(log.contains("elapsed_ms="), "spans carry the time:\n{log}");
    assert!(log.contains("status=422"));
    for p in patients {
        let id = p["id"].as_str().unwrap();
        let family = p["name"][0]["family"].as_str().unwrap();
        let birth = p["birthDate"].as_str().unwrap();
        let bsn = p["identifier"][0]["value"].as_str().unwrap();
        for secret in [id, family, birth, bsn] {
            assert!(!log.contains(secret), "the log contains patient data {secret:?}:\n{log}");
        }
    }
    assert!(!log.contains("pat-999-secret"));
    assert!(!log.contains(FHIR_TOKEN), "the FHIR token is never logged:\n{log}");
    assert!(!log.contains("/fhir/"), "no FHIR query URL in the log:\n{log}");
    assert!(!log.contains("forged-line"), "the caller's path stays out of the log:\n{log}");
}

#[test]
fn the_jurisdiction_comes_from_the_flag_or_the_environment() {
    let file = root().join("fixtures/requests/be/start-checklist-start.json");
    let run = |flag: Option<&str>, env: Option<&str>| {
        let mut cmd = binary();
        cmd.args(["evaluate", "--as-of", &as_of_arg(), "--knowledge"]).arg(root().join("cds-services"));
        if let Some(j) = flag {
            cmd.args(["--jurisdiction", j]);
        }
        cmd.env_remove("ATCDS_JURISDICTION");
        if let Some(j) = env {
            cmd.env("ATCDS_JURISDICTION", j);
        }
        let out = cmd.arg(&file).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
        rules_of(&answer).into_iter().map(|(rule, _)| rule).collect::<Vec<_>>()
    };
    let belgian = ["ibd.reimbursement-prior-therapy".to_string(), "jak.start-checklist".to_string()];
    assert_eq!(run(Some("BE"), None), belgian);
    assert_eq!(run(None, Some("BE")), belgian);
    assert!(run(None, None).is_empty(), "NL is the default: no Belgian card");
    let out = binary().args(["evaluate", "--jurisdiction", "FR"]).arg(&file).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown jurisdiction `FR`"));
}

#[test]
fn check_knowledge_lists_every_unverified_entry_and_fails_on_broken_knowledge() {
    let out = binary().args(["check-knowledge", "--knowledge"]).arg(root().join("cds-services")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("knowledge OK: "), "{stdout}");
    let k = advanced_therapy_cds::knowledge::Knowledge::load(&root().join("cds-services")).unwrap();
    assert!(!k.unverified.is_empty());
    for entry in &k.unverified {
        assert!(stdout.lines().any(|l| l == format!("unverified: {entry}")), "{entry} not listed:\n{stdout}");
    }
    let empty = tempfile::tempdir().unwrap();
    let out = binary().args(["check-knowledge", "--knowledge"]).arg(empty.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("catalogue.toml"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
