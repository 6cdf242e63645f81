//! Feedback: checked, stored in SQLite, still there after a restart (issue 3, item 7).

use serde_json::{Value, json};

use crate::support::{SELECT, TestApp, feedback, fixture, settings};

async fn feedback_summary(app: &TestApp) -> Value {
    app.client.get(app.url("/feedback/summary")).send().await.unwrap().json().await.unwrap()
}

async fn post_feedback(app: &TestApp, body: &Value) -> (u16, String) {
    let resp =
        app.post_json(&format!("/cds-services/{SELECT}/feedback"), &serde_json::to_vec(body).unwrap(), None).await;
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn feedback_round_trip_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start_with(settings(dir.path())).await;
    let (_, answer) = app.call(SELECT, &fixture("requests/baricitinib-age-71-ex-smoker.json")).await;
    let card = &answer["cards"][0];
    assert_eq!(card["source"]["topic"]["code"], "jak.restricted-population");
    let mut accepted = feedback("accepted", card["uuid"].as_str().unwrap());
    accepted["feedback"][0]["acceptedSuggestions"] = json!([{"id": card["suggestions"][0]["uuid"]}]);
    let (status, body) = post_feedback(&app, &accepted).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, "", "CDS Hooks 2.0 defines no feedback response body");

    let (_, answer) = app.call(SELECT, &fixture("requests/abrocitinib-active-breast-cancer.json")).await;
    let card = &answer["cards"][0];
    let mut overridden = feedback("overridden", card["uuid"].as_str().unwrap());
    overridden["feedback"][0]["overrideReason"] =
        json!({"reason": card["overrideReasons"][0], "userComment": "Oncoloog akkoord"});
    // Fractional seconds are a valid FHIR instant too.
    overridden["feedback"][0]["outcomeTimestamp"] = json!("2026-11-28T10:06:00.123Z");
    assert_eq!(post_feedback(&app, &overridden).await.0, 200);
    app.stop().await;

    // A new server on the same data directory still has both.
    let app = TestApp::start_with(settings(dir.path())).await;
    let summary = feedback_summary(&app).await;
    let rows = summary["feedback"].as_array().unwrap();
    assert!(
        rows.contains(&json!({"rule_id": "jak.restricted-population", "outcome": "accepted", "count": 1})),
        "{summary}"
    );
    assert!(
        rows.contains(&json!({"rule_id": "jak.active-malignancy", "outcome": "overridden", "count": 1})),
        "{summary}"
    );
    // The same card may get feedback again: stored, not refused.
    assert_eq!(post_feedback(&app, &overridden).await.0, 200);
    let summary = feedback_summary(&app).await;
    assert!(
        summary["feedback"]
            .as_array()
            .unwrap()
            .contains(&json!({"rule_id": "jak.active-malignancy", "outcome": "overridden", "count": 2}))
    );
}

#[tokio::test]
async fn the_specification_examples_are_accepted() {
    let app = TestApp::start().await;
    for f in ["feedback-accepted.json", "feedback-overridden-no-reason.json", "feedback-overridden-with-reason.json"] {
        let body = fixture(&format!("cds-hooks-spec/{f}"));
        let resp = app.post_json(&format!("/cds-services/{SELECT}/feedback"), &body, None).await;
        assert_eq!(resp.status(), 200, "{f}");
    }
    // Cards not issued by this service are kept, under an unknown rule.
    let summary = feedback_summary(&app).await;
    assert!(summary["feedback"].as_array().unwrap().iter().any(|r| r["rule_id"] == "(unknown card)"));
}

#[tokio::test]
async fn invalid_feedback_is_refused_with_the_reason() {
    let app = TestApp::start().await;
    let cases = [
        (json!({}), "`feedback` is required"),
        (json!({"feedback": []}), "empty array"),
        (
            json!({"feedback": [{"outcome": "accepted", "acceptedSuggestions": [{"id": "s"}], "outcomeTimestamp": "2026-11-28T10:00:00Z"}]}),
            "`card`",
        ),
        (
            json!({"feedback": [{"card": "c", "outcome": "ignored", "outcomeTimestamp": "2026-11-28T10:00:00Z"}]}),
            "`accepted` or `overridden`",
        ),
        (
            json!({"feedback": [{"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-28T10:00:00Z"}]}),
            "needs `acceptedSuggestions`",
        ),
        (json!({"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": "yesterday"}]}), "RFC 3339"),
        (json!({"feedback": [{"card": "c", "outcome": "overridden"}]}), "`outcomeTimestamp` is required"),
        (
            json!({"feedback": [{"card": "c", "outcome": "overridden", "overrideReason": {"reason": {"code": "x"}}, "outcomeTimestamp": "2026-11-28T10:00:00Z"}]}),
            "`code` and `system`",
        ),
        // Valid JSON that no text column takes (PostgreSQL refuses NUL): a 400, never a 500.
        (
            json!({"feedback": [{"card": "c\u{0}", "outcome": "overridden", "overrideReason": {"userComment": "x"}, "outcomeTimestamp": "2026-11-28T10:00:00Z"}]}),
            "`card` holds a control character",
        ),
        (
            json!({"feedback": [{"card": "c", "outcome": "overridden", "overrideReason": {"userComment": "nee\u{0}"}, "outcomeTimestamp": "2026-11-28T10:00:00Z"}]}),
            "`overrideReason.userComment` holds a control character",
        ),
    ];
    for (body, needle) in cases {
        let (status, text) = post_feedback(&app, &body).await;
        assert_eq!(status, 400, "{body}: {text}");
        assert!(text.contains(needle), "{text} should mention {needle}");
    }
    let resp = app.post_json("/cds-services/unknown/feedback", b"{\"feedback\":[]}", None).await;
    assert_eq!(resp.status(), 404);
    // Nothing of the refused bodies was stored.
    let summary = feedback_summary(&app).await;
    assert_eq!(summary["feedback"], json!([]));
}
