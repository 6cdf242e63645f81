//! Discovery (issue 3, item 2) and health.

use serde_json::Value;

use crate::support::TestApp;

#[tokio::test]
async fn discovery_lists_both_services_with_the_contract_prefetch_keys() {
    let app = TestApp::start().await;
    let resp = app.client.get(app.url("/cds-services")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let services = body["services"].as_array().unwrap();
    let pairs: Vec<(&str, &str)> =
        services.iter().map(|s| (s["id"].as_str().unwrap(), s["hook"].as_str().unwrap())).collect();
    assert_eq!(
        pairs,
        vec![("advanced-therapy-order-select", "order-select"), ("advanced-therapy-order-sign", "order-sign")]
    );
    for s in services {
        assert!(s["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(s["description"].as_str().is_some_and(|t| t.contains("upadacitinib")));
        let prefetch = s["prefetch"].as_object().unwrap();
        let keys: Vec<&str> = prefetch.keys().map(String::as_str).collect();
        assert_eq!(keys, vec!["conditions", "immunizations", "medications", "observations", "patient"]);
        assert_eq!(prefetch["patient"], "Patient/{{context.patientId}}");
        assert!(prefetch["conditions"].as_str().unwrap().starts_with("Condition?patient={{context.patientId}}"));
        assert!(prefetch["medications"].as_str().unwrap().contains("status=active"));
        assert!(prefetch["immunizations"].as_str().unwrap().starts_with("Immunization?patient={{context.patientId}}"));
        // The observation codes the rules need, filled in from the knowledge.
        let obs = prefetch["observations"].as_str().unwrap();
        for code in [
            "http://loinc.org|82810-3",
            "http://loinc.org|72166-2",
            "http://loinc.org|71773-6",
            "http://loinc.org|86645-9",
        ] {
            assert!(obs.contains(code), "{obs} lacks {code}");
        }
        assert!(!obs.contains('{') || obs.contains("{{context.patientId}}") && !obs.contains("{observation_codes}"));
    }
}

#[tokio::test]
async fn health_endpoints_answer() {
    let app = TestApp::start().await;
    let live = app.client.get(app.url("/health/live")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let ready: Value = app.client.get(app.url("/health/ready")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    assert!(ready["rules"].as_u64().unwrap() >= 7);
}
