//! The decision-matrix page (issue 17) over plain HTTP: the link on atopic-dermatitis cards, the
//! page and its headers in English and Dutch, unknown and expired tokens, the feature off, and
//! no patient name, identifier or birth date in the page, its URL or the log. The page in a real
//! browser is `browser`.

mod browser;

use std::time::Duration;

use advanced_therapy_cds::config::{MatrixSettings, Settings};
use serde_json::Value;

use crate::support::{SELECT, SIGN, ServedProcess, TestApp, fixture, fixture_json, root, service_for};

/// Dupilumab for atopic dermatitis in a woman of 30 with atopic keratoconjunctivitis (a seed-A row
/// that applies) and no pregnancy or breastfeeding status (rows that could not be checked).
pub const CASE: &str = "requests/review/alternatives-not-checked.json";
pub const DRUGS: [&str; 5] = ["dupilumab", "tralokinumab", "baricitinib", "upadacitinib", "abrocitinib"];
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; \
                       form-action 'none'; frame-ancestors 'none'";

/// The matrix links of an answer's cards (every card of the call must carry the same one).
pub fn matrix_links(answer: &Value) -> Vec<(String, String)> {
    answer["cards"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["links"].as_array().cloned().unwrap_or_default())
        .filter(|l| l["url"].as_str().unwrap_or("").contains("/matrix/"))
        .map(|l| {
            assert_eq!(l["type"], "absolute", "{l}");
            (l["label"].as_str().unwrap().to_string(), l["url"].as_str().unwrap().to_string())
        })
        .collect()
}

/// The cards' matrix links with their token (fresh per call, like card uuids) masked as `<token>`.
pub fn mask_matrix_tokens(response: &mut Value) {
    for card in response["cards"].as_array_mut().into_iter().flatten() {
        for link in card["links"].as_array_mut().into_iter().flatten() {
            if let Some((page, _)) = link["url"].as_str().and_then(|u| u.split_once("/matrix/")) {
                link["url"] = format!("{page}/matrix/<token>").into();
            }
        }
    }
}

/// Call the service with `case` in `lang` and return the one matrix link of its cards.
pub async fn matrix_link(app: &TestApp, case: &str, lang: &str) -> (String, String) {
    let body = fixture(case);
    let request: Value = serde_json::from_slice(&body).unwrap();
    let resp = app.post_json(&format!("/cds-services/{}", service_for(&request)), &body, Some(lang)).await;
    assert_eq!(resp.status(), 200);
    let answer: Value = resp.json().await.unwrap();
    let links = matrix_links(&answer);
    assert!(!links.is_empty(), "no matrix link on the cards: {answer}");
    assert_eq!(
        links.len(),
        answer["cards"].as_array().unwrap().len(),
        "every card of an atopic-dermatitis order links to the matrix"
    );
    assert!(links.iter().all(|l| l == &links[0]), "one token per call: {links:?}");
    links[0].clone()
}

/// What must never show: the fixture patient's names, identifiers, birth date (as written and as
/// the Dutch date) and resource id.
pub fn patient_secrets(case: &str) -> Vec<String> {
    let request = fixture_json(case);
    let patient = &request["prefetch"]["patient"];
    let mut secrets = vec![request["context"]["patientId"].as_str().unwrap().to_string()];
    for name in patient["name"].as_array().unwrap() {
        secrets.push(name["family"].as_str().unwrap().to_string());
        for given in name["given"].as_array().unwrap() {
            secrets.push(given.as_str().unwrap().to_string());
        }
    }
    for id in patient["identifier"].as_array().unwrap() {
        secrets.push(id["value"].as_str().unwrap().to_string());
    }
    let birth = patient["birthDate"].as_str().unwrap();
    let (y, rest) = birth.split_once('-').unwrap();
    let (m, d) = rest.split_once('-').unwrap();
    secrets.extend([birth.to_string(), format!("{d}-{m}-{y}")]);
    secrets
}

fn assert_headers(resp: &reqwest::Response, what: &str) {
    let h = resp.headers();
    let get = |name: &str| h.get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    assert_eq!(get("cache-control"), "no-store", "{what}");
    assert_eq!(get("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(get("content-security-policy"), CSP, "{what}");
    assert!(get("x-robots-tag").contains("noindex"), "{what}");
}

#[tokio::test]
async fn an_ad_card_links_to_the_patients_matrix_with_privacy_headers() {
    let app = TestApp::start().await;
    let (label, url) = matrix_link(&app, CASE, "en-GB,en;q=0.8").await;
    assert_eq!(label, "Decision matrix for this patient");
    let token = url.rsplit('/').next().unwrap();
    assert!(url.starts_with(&app.url("/matrix/")), "{url}");
    // The time in 12 hex digits, then 32 random bytes in base64url (43): 55 characters.
    assert_eq!(token.len(), 55, "{url}");
    assert!(token[..12].bytes().all(|b| b.is_ascii_hexdigit()), "{url}");
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{url}");

    let resp = app.client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_headers(&resp, "page");
    let page = resp.text().await.unwrap();
    assert!(page.contains("<html lang=\"en\">"), "English, as the call asked");
    for drug in DRUGS {
        assert!(page.contains(&format!("id=\"col-{drug}\"")), "column {drug}");
        assert!(page.contains(&format!("data-drug=\"{drug}\"")), "candidate {drug}");
    }
    // The row that applies, with its evidence; the rows that could not be checked, with why.
    let row = |id: &str| {
        let start = page.find(&format!("id=\"row-{id}\"")).unwrap_or_else(|| panic!("row {id}"));
        page[start..start + page[start..].find("</tr>").unwrap()].to_string()
    };
    assert!(row("ocular-surface-disease").contains("data-state=\"applies\""));
    assert!(row("ocular-surface-disease").contains("Atopische keratoconjunctivitis"));
    assert!(row("pregnancy").contains("data-state=\"unchecked\""));
    assert!(row("pregnancy").contains("no pregnancy status in the last 9 months"));
    assert!(row("breastfeeding").contains("no breastfeeding status in the last 9 months"));
    assert!(row("age-65").contains("data-state=\"not-found\""));
    // Arrows as text, with words for screen readers; table headers with scopes.
    assert!(row("active-malignancy").contains("↓↓") && row("active-malignancy").contains("recommend against"));
    assert!(page.contains("<th scope=\"row\">") && page.contains("scope=\"col\""));
    // The top line: the drugs without ↓ or ↓↓ (OSD gives the biologics ↓).
    let summary = &page[page.find("id=\"summary\"").unwrap()..];
    let summary = &summary[..summary.find("</p>").unwrap()];
    assert!(summary.contains("baricitinib") && summary.contains("upadacitinib") && summary.contains("abrocitinib"));
    assert!(!summary.contains("dupilumab") && !summary.contains("tralokinumab"), "{summary}");
    // The preference rows are checkboxes; the patient's section is in plain Dutch.
    assert_eq!(page.matches("type=\"checkbox\"").count(), 6);
    assert!(page.contains("<section class=\"patient\" lang=\"nl\">"));
    // No inline script or style: the CSP would block them.
    assert!(!page.contains("<style") && !page.contains(" style=") && !page.contains("<script>"));
    assert!(page.contains("<script src=\"static/matrix.js\" defer>"));

    // No name, identifier or birth date in the page or its URL.
    for secret in patient_secrets(CASE) {
        assert!(!page.contains(&secret), "the page shows {secret:?}");
        assert!(!url.contains(&secret), "the URL holds {secret:?}");
    }

    // The script and style sheet, with the same headers.
    for (path, kind) in [("/matrix/static/matrix.js", "javascript"), ("/matrix/static/matrix.css", "text/css")] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert!(resp.headers()["content-type"].to_str().unwrap().contains(kind), "{path}");
        assert_headers(&resp, path);
    }
}

#[tokio::test]
async fn the_page_follows_the_calls_language_and_switches() {
    let app = TestApp::start().await;
    let (label, url) = matrix_link(&app, CASE, "nl-NL,nl;q=0.9").await;
    assert_eq!(label, "Keuzematrix voor deze patiënt");
    let page = app.client.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<html lang=\"nl\">"));
    assert!(page.contains("Keuzematrix voor deze patiënt"));
    assert!(page.contains("geen zwangerschapsstatus in de laatste 9 maanden"));
    assert!(page.contains("href=\"?lang=en\""), "the switch to English");
    let english = app.client.get(format!("{url}?lang=en")).send().await.unwrap().text().await.unwrap();
    assert!(english.contains("<html lang=\"en\">"));
    assert!(english.contains("no pregnancy status in the last 9 months"));
    assert!(english.contains("href=\"?lang=nl\""));
}

#[tokio::test]
async fn unknown_tokens_are_404_and_expired_ones_410() {
    let app = TestApp::start_changed(|s| Settings {
        matrix: MatrixSettings { enabled: true, ttl: Duration::from_millis(1500) },
        ..s
    })
    .await;
    for path in ["/matrix/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "/matrix/not-a-token", "/matrix/%27%3B--"] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        assert_headers(&resp, path);
    }
    let (_, url) = matrix_link(&app, CASE, "en").await;
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let resp = app.client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 410, "after its time to live");
    assert_headers(&resp, "410");
    let page = resp.text().await.unwrap();
    assert!(page.contains("expired") && !page.contains("keratoconjunctivitis"));
    // Swept (every second with this TTL): still 410, never the content again.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 410);
}

#[tokio::test]
async fn with_the_matrix_off_or_without_an_ad_order_there_is_no_link() {
    let off = TestApp::start_changed(|s| Settings { matrix: MatrixSettings { enabled: false, ..s.matrix }, ..s }).await;
    let (status, answer) = off.call(SELECT, &fixture(CASE)).await;
    assert_eq!(status, 200);
    assert!(!answer["cards"].as_array().unwrap().is_empty());
    assert!(matrix_links(&answer).is_empty(), "matrix.enabled = false: {answer}");
    assert!(answer.to_string().contains("/rules#"), "the other links stay");
    // A JAK inhibitor for an IBD indication is no order of the AD matrix.
    let on = TestApp::start().await;
    let (status, answer) = on.call(SIGN, &fixture("requests/tofacitinib-positive-igra-untreated.json")).await;
    assert_eq!(status, 200);
    assert!(!answer["cards"].as_array().unwrap().is_empty());
    assert!(matrix_links(&answer).is_empty(), "{answer}");
}

/// `CASE` posted to a served process.
async fn call_served(served: &ServedProcess) -> Value {
    let resp = crate::support::http_client()
        .post(served.url(&format!("/cds-services/{SELECT}")))
        .header("content-type", "application/json")
        .body(fixture(CASE))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn the_log_says_a_page_was_served_without_its_token_or_the_patient() {
    let data = tempfile::tempdir().unwrap();
    let mut served = ServedProcess::start_for_fixtures(data.path(), &[("RUST_LOG", "debug")]);
    let (client, answer) = (crate::support::http_client(), call_served(&served).await);
    let (_, url) = matrix_links(&answer).remove(0);
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    assert_eq!(
        client.get(served.url("/matrix/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")).send().await.unwrap().status(),
        404
    );
    served.signal("TERM");
    served.wait(Duration::from_secs(20)).expect("stops on SIGTERM");
    let log = served.lines.join("\n");
    assert!(log.contains("matrix page served"), "{log}");
    let token = url.rsplit('/').next().unwrap();
    assert!(!log.contains(token), "the token is in the log");
    for secret in patient_secrets(CASE) {
        assert!(!log.contains(&secret), "the log holds {secret:?}");
    }
}

#[test]
fn the_matrix_settings_come_from_the_file_with_fractions_of_minutes() {
    use advanced_therapy_cds::cli::serve::Overrides;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("atcds.toml");
    std::fs::write(&file, "[auth]\nenabled = false\n[matrix]\nenabled = false\nttl_minutes = 0.5\n").unwrap();
    let s = Settings::load(Some(&file), &Overrides::default()).unwrap();
    assert_eq!(s.matrix, MatrixSettings { enabled: false, ttl: Duration::from_secs(30) });
    let shipped = Settings::load(Some(&root().join("deploy/atcds.toml")), &Overrides::default()).unwrap();
    assert_eq!(shipped.matrix, MatrixSettings { enabled: true, ttl: Duration::from_secs(30 * 60) });
    std::fs::write(&file, "[auth]\nenabled = false\n[matrix]\nttl_minutes = 0\n").unwrap();
    let e = Settings::load(Some(&file), &Overrides::default()).unwrap_err();
    assert_eq!(e.key, "matrix.ttl_minutes");
}

#[tokio::test]
async fn atcds_matrix_enabled_false_in_the_environment_turns_the_link_off() {
    let data = tempfile::tempdir().unwrap();
    let served = ServedProcess::start_for_fixtures(data.path(), &[("ATCDS_MATRIX_ENABLED", "false")]);
    let answer = call_served(&served).await;
    assert!(!answer["cards"].as_array().unwrap().is_empty());
    assert!(matrix_links(&answer).is_empty(), "{answer}");
}
