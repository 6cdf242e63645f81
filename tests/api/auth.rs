//! Authentication of the EHR (issue 7): every service and feedback call carries a JWT signed
//! by an allowed issuer; each attack is refused with 401 and a reason, a correctly signed call
//! passes. The issuer's JWK Set is served by wiremock; the keys are the test-only ones in
//! fixtures/auth/.

use std::time::Duration;

use advanced_therapy_cds::config::{AuthSettings, Issuer, Settings};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{SELECT, TestApp, fixture, fixture_json, root, settings};

const ISS: &str = "https://ehr.example.org";
const PUBLIC_URL: &str = "https://cds.example.org";
const CASE: &str = "requests/baricitinib-age-71-ex-smoker.json";

fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(root().join("fixtures/auth").join(name)).unwrap()
}

fn jwks() -> Value {
    fixture_json("auth/ehr-jwks.json")
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn aud(service: &str) -> String {
    format!("{PUBLIC_URL}/cds-services/{service}")
}

/// Claims as a good EHR sends them, for `service`.
fn claims(service: &str) -> Value {
    json!({
        "iss": ISS,
        "sub": "ehr-client",
        "aud": aud(service),
        "iat": now(),
        "exp": now() + 240,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

fn sign(alg: Algorithm, kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_string());
    encode(&header, claims, key).unwrap()
}

fn es384(claims: &Value) -> String {
    sign(Algorithm::ES384, "ehr-es384", &EncodingKey::from_ec_pem(&key_file("ehr-es384.pem")).unwrap(), claims)
}

fn rs384(claims: &Value) -> String {
    sign(Algorithm::RS384, "ehr-rs384", &EncodingKey::from_rsa_pem(&key_file("ehr-rs384.pem")).unwrap(), claims)
}

struct Ehr {
    keys: MockServer,
    app: TestApp,
}

async fn key_server(set: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(set))
        .mount(&server)
        .await;
    server
}

fn auth_settings(keys: &MockServer, jku_allowed: Vec<String>) -> AuthSettings {
    AuthSettings {
        enabled: true,
        issuers: vec![Issuer {
            iss: ISS.into(),
            jwks_url: Some(format!("{}/jwks", keys.uri())),
            jwks_file: None,
            jku_allowed,
        }],
        leeway: Duration::from_secs(30),
        max_lifetime: Duration::from_secs(300),
    }
}

async fn ehr_with(data_dir: &std::path::Path, keys: MockServer) -> Ehr {
    ehr_on(data_dir, None, keys).await
}

async fn ehr_on(data_dir: &std::path::Path, database_url: Option<String>, keys: MockServer) -> Ehr {
    let s = Settings {
        auth: auth_settings(&keys, vec![]),
        public_url: Some(PUBLIC_URL.into()),
        database_url,
        ..settings(data_dir)
    };
    Ehr { app: TestApp::start_with(s).await, keys }
}

async fn ehr() -> (Ehr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let ehr = ehr_with(dir.path(), key_server(jwks()).await).await;
    (ehr, dir)
}

impl Ehr {
    async fn call(&self, token: Option<&str>) -> (u16, Value, Option<String>) {
        self.post(&format!("/cds-services/{SELECT}"), &fixture(CASE), token).await
    }

    async fn post(&self, path: &str, body: &[u8], token: Option<&str>) -> (u16, Value, Option<String>) {
        let mut req =
            self.app.client.post(self.app.url(path)).header("content-type", "application/json").body(body.to_vec());
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let challenge = resp.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null), challenge)
    }

    /// The call is refused with 401, a Bearer challenge, and a reason containing `why`.
    async fn refused(&self, token: Option<&str>, why: &str) {
        let (status, body, challenge) = self.call(token).await;
        assert_eq!(status, 401, "expected 401 ({why}), got {status}: {body}");
        assert_eq!(body["error"], "unauthorized");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(why), "reason {message:?} should say {why:?}");
        assert!(challenge.is_some_and(|c| c.starts_with("Bearer error=\"invalid_token\"")), "WWW-Authenticate");
    }
}

#[tokio::test]
async fn a_correctly_signed_call_passes_with_es384_and_rs384() {
    let (ehr, _dir) = ehr().await;
    let (status, body, _) = ehr.call(Some(&es384(&claims(SELECT)))).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body["cards"].as_array().unwrap().is_empty(), "the cards of the fixture");
    let (status, body, _) = ehr.call(Some(&rs384(&claims(SELECT)))).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn every_attack_is_refused_with_401_and_its_reason() {
    let (ehr, _dir) = ehr().await;
    ehr.refused(None, "no Authorization header").await;

    let mut expired = claims(SELECT);
    expired["iat"] = json!(now() - 600);
    expired["exp"] = json!(now() - 300);
    ehr.refused(Some(&es384(&expired)), "expired").await;

    let mut wrong_aud = claims(SELECT);
    wrong_aud["aud"] = json!("https://other-cds.example.org/cds-services/advanced-therapy-order-select");
    ehr.refused(Some(&es384(&wrong_aud)), "`aud` is not this service's endpoint").await;
    // The other service of this same server is another endpoint.
    let other_service = json!(aud("advanced-therapy-order-sign"));
    let mut wrong_endpoint = claims(SELECT);
    wrong_endpoint["aud"] = other_service;
    ehr.refused(Some(&es384(&wrong_endpoint)), "`aud`").await;

    let mut wrong_iss = claims(SELECT);
    wrong_iss["iss"] = json!("https://rogue-ehr.example.org");
    ehr.refused(Some(&es384(&wrong_iss)), "issuer `https://rogue-ehr.example.org` is not allowed").await;

    let attacker = EncodingKey::from_ec_pem(&key_file("attacker-es384.pem")).unwrap();
    ehr.refused(Some(&sign(Algorithm::ES384, "ehr-es384", &attacker, &claims(SELECT))), "signature does not verify")
        .await;

    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"ehr-es384"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims(SELECT).to_string());
    ehr.refused(Some(&format!("{none_header}.{payload}.")), "`alg: none` is refused").await;
    let none_upper = URL_SAFE_NO_PAD.encode(br#"{"alg":"NONE","kid":"ehr-es384"}"#);
    ehr.refused(Some(&format!("{none_upper}.{payload}.")), "`alg: none` is refused").await;

    // HS256 "signed" with the EHR's public RSA key, which anyone can fetch.
    let public_as_secret = EncodingKey::from_secret(&key_file("ehr-rs384.pub.pem")).unwrap();
    ehr.refused(Some(&sign(Algorithm::HS256, "ehr-rs384", &public_as_secret, &claims(SELECT))), "not accepted").await;

    ehr.refused(
        Some(&sign(
            Algorithm::ES384,
            "no-such-key",
            &EncodingKey::from_ec_pem(&key_file("ehr-es384.pem")).unwrap(),
            &claims(SELECT),
        )),
        "no key `no-such-key`",
    )
    .await;

    let mut header = Header::new(Algorithm::ES384);
    header.kid = Some("ehr-es384".into());
    header.jku = Some("https://attacker.example.net/jwks.json".into());
    let foreign_jku =
        encode(&header, &claims(SELECT), &EncodingKey::from_ec_pem(&key_file("ehr-es384.pem")).unwrap()).unwrap();
    ehr.refused(Some(&foreign_jku), "`jku` https://attacker.example.net/jwks.json is not an allowed key location")
        .await;

    let mut no_jti = claims(SELECT);
    no_jti.as_object_mut().unwrap().remove("jti");
    ehr.refused(Some(&es384(&no_jti)), "no `jti`").await;

    let mut long_lived = claims(SELECT);
    long_lived["exp"] = json!(now() + 3600);
    ehr.refused(Some(&es384(&long_lived)), "lives longer than 300 s").await;

    let mut future = claims(SELECT);
    future["iat"] = json!(now() + 600);
    future["exp"] = json!(now() + 700);
    ehr.refused(Some(&es384(&future)), "`iat` is in the future").await;

    ehr.refused(Some("not-a-jwt"), "cannot be read").await;

    // One algorithm per key: the RS384 key does not verify an RS256 or PS384 signature.
    let rsa = EncodingKey::from_rsa_pem(&key_file("ehr-rs384.pem")).unwrap();
    ehr.refused(Some(&sign(Algorithm::RS256, "ehr-rs384", &rsa, &claims(SELECT))), "is for RS384, not RS256").await;
    ehr.refused(Some(&sign(Algorithm::PS384, "ehr-rs384", &rsa, &claims(SELECT))), "is for RS384, not PS384").await;

    let mut not_yet = claims(SELECT);
    not_yet["nbf"] = json!(now() + 200);
    ehr.refused(Some(&es384(&not_yet)), "not valid yet").await;

    // Control characters in what the caller sends never break the answer or the log.
    let mut control = claims(SELECT);
    control["iss"] = json!("evil\u{1}\nFAKE LOG LINE");
    ehr.refused(Some(&es384(&control)), "issuer `evil??FAKE LOG LINE` is not allowed").await;
}

#[tokio::test]
async fn the_scheme_is_case_insensitive_and_a_replayed_feedback_token_is_refused() {
    let (ehr, _dir) = ehr().await;
    let resp = ehr
        .app
        .client
        .post(ehr.app.url(&format!("/cds-services/{SELECT}")))
        .header("content-type", "application/json")
        .header("authorization", format!("bearer {}", es384(&claims(SELECT))))
        .body(fixture(CASE))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let path = format!("/cds-services/{SELECT}/feedback");
    let body = json!({"feedback": [{
        "card": uuid::Uuid::new_v4().to_string(),
        "outcome": "overridden",
        "overrideReason": {"reason": {"code": "record-outdated", "system": "urn:advanced-therapy-cds:override-reason"}},
        "outcomeTimestamp": "2026-11-28T10:00:00Z"
    }]})
    .to_string();
    let token = es384(&claims(SELECT));
    assert_eq!(ehr.post(&path, body.as_bytes(), Some(&token)).await.0, 200);
    let (status, answer, _) = ehr.post(&path, body.as_bytes(), Some(&token)).await;
    assert_eq!(
        (status, answer["message"].as_str().unwrap_or("")),
        (401, "the token was already used (replayed `jti`)")
    );
    let mut wrong = claims(SELECT);
    wrong["aud"] = json!(format!("{PUBLIC_URL}/cds-services/advanced-therapy-order-sign/feedback"));
    assert_eq!(ehr.post(&path, body.as_bytes(), Some(&es384(&wrong))).await.0, 401, "feedback aud of another service");
}

#[tokio::test]
async fn an_unreachable_key_server_is_503_without_details_and_static_keys_take_no_jku() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let s = Settings {
        auth: AuthSettings {
            enabled: true,
            issuers: vec![
                Issuer {
                    iss: ISS.into(),
                    jwks_url: Some(format!("http://127.0.0.1:{port}/jwks")),
                    jwks_file: None,
                    jku_allowed: vec![],
                },
                Issuer {
                    iss: "https://static-ehr.example.org".into(),
                    jwks_url: None,
                    jwks_file: Some(root().join("fixtures/auth/ehr-jwks.json")),
                    jku_allowed: vec![],
                },
            ],
            leeway: Duration::from_secs(30),
            max_lifetime: Duration::from_secs(300),
        },
        public_url: Some(PUBLIC_URL.into()),
        ..settings(dir.path())
    };
    let ehr = Ehr { app: TestApp::start_with(s).await, keys: MockServer::start().await };
    let (status, body, _) = ehr.call(Some(&es384(&claims(SELECT)))).await;
    assert_eq!(status, 503, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(!message.contains("127.0.0.1") && !message.contains("jwks"), "no internal details: {message}");
    // Static keys: a good token passes, a jku is refused.
    let mut c = claims(SELECT);
    c["iss"] = json!("https://static-ehr.example.org");
    let (status, body, _) = ehr.call(Some(&es384(&c))).await;
    assert_eq!(status, 200, "{body}");
    let mut header = Header::new(Algorithm::ES384);
    header.kid = Some("ehr-es384".into());
    header.jku = Some("https://static-ehr.example.org/jwks".into());
    c["jti"] = json!(uuid::Uuid::new_v4().to_string());
    let token = encode(&header, &c, &EncodingKey::from_ec_pem(&key_file("ehr-es384.pem")).unwrap()).unwrap();
    ehr.refused(Some(&token), "a `jku` is not accepted").await;
}

#[tokio::test]
async fn a_replayed_token_is_refused_also_by_another_replica_on_the_same_database() {
    // Here the shared database is one SQLite file; postgres.rs runs the same with PostgreSQL.
    replay_across_replicas(None).await;
}

/// Two replicas on one database (`None`: a shared SQLite file): a token used at one is a
/// replay at the other.
pub async fn replay_across_replicas(database_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let first = ehr_on(dir.path(), database_url.clone(), key_server(jwks()).await).await;
    let second = ehr_on(dir.path(), database_url, key_server(jwks()).await).await;
    let token = es384(&claims(SELECT));
    let (status, body, _) = first.call(Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    first.refused(Some(&token), "already used").await;
    second.refused(Some(&token), "already used").await;
    first.app.stop().await;
    second.app.stop().await;
}

#[tokio::test]
async fn keys_are_cached_and_fetched_again_for_an_unknown_kid() {
    let dir = tempfile::tempdir().unwrap();
    let keys = MockServer::start().await;
    // At first the set holds only the ES384 key; it is fetched once for two calls.
    let es_only = json!({"keys": [jwks()["keys"][0].clone()]});
    let first_set = Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(es_only))
        .expect(1)
        .mount_as_scoped(&keys)
        .await;
    let ehr = ehr_with(dir.path(), keys).await;
    for _ in 0..2 {
        let (status, body, _) = ehr.call(Some(&es384(&claims(SELECT)))).await;
        assert_eq!(status, 200, "{body}");
    }
    drop(first_set);
    // The EHR rotates in its RSA key: a token with the new kid makes the service fetch again.
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks()))
        .expect(1)
        .mount(&ehr.keys)
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body, _) = ehr.call(Some(&rs384(&claims(SELECT)))).await;
    assert_eq!(status, 200, "{body}");
    ehr.app.stop().await;
    ehr.keys.verify().await;
}

#[tokio::test]
async fn an_allowed_jku_is_used_and_discovery_stays_open() {
    let dir = tempfile::tempdir().unwrap();
    let keys = key_server(jwks()).await;
    let other = key_server(jwks()).await;
    let jku = format!("{}/jwks", other.uri());
    let s = Settings {
        auth: auth_settings(&keys, vec![jku.clone()]),
        public_url: Some(PUBLIC_URL.into()),
        ..settings(dir.path())
    };
    let ehr = Ehr { app: TestApp::start_with(s).await, keys };
    let mut header = Header::new(Algorithm::ES384);
    header.kid = Some("ehr-es384".into());
    header.jku = Some(jku);
    let token =
        encode(&header, &claims(SELECT), &EncodingKey::from_ec_pem(&key_file("ehr-es384.pem")).unwrap()).unwrap();
    let (status, body, _) = ehr.call(Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(other.received_requests().await.unwrap().len(), 1, "the keys came from the allowed jku");
    // Discovery, the rules page and health need no token: they hold no patient data.
    for open in ["/cds-services", "/rules", "/health/live", "/metrics"] {
        let resp = ehr.app.client.get(ehr.app.url(open)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{open}");
    }
}

#[tokio::test]
async fn feedback_needs_a_token_too() {
    let (ehr, _dir) = ehr().await;
    let path = format!("/cds-services/{SELECT}/feedback");
    let body = json!({"feedback": [{
        "card": "1e2a5a1c-0000-8000-8000-000000000000",
        "outcome": "overridden",
        "overrideReason": {"reason": {"code": "no-suitable-alternative", "system": "urn:advanced-therapy-cds:override-reason"}},
        "outcomeTimestamp": "2026-11-28T10:00:00Z"
    }]})
    .to_string();
    let (status, _, _) = ehr.post(&path, body.as_bytes(), None).await;
    assert_eq!(status, 401);
    // The token may name the feedback endpoint or the service it belongs to.
    let mut c = claims(SELECT);
    c["aud"] = json!(format!("{PUBLIC_URL}{path}"));
    let (status, answer, _) = ehr.post(&path, body.as_bytes(), Some(&es384(&c))).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer, _) = ehr.post(&path, body.as_bytes(), Some(&es384(&claims(SELECT)))).await;
    assert_eq!(status, 200, "{answer}");
}
