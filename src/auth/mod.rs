//! Who may call: the EHR signs a JWT for every service and feedback call (CDS Hooks 2.0,
//! "Trusting CDS Clients"). The token's issuer must be on the allow-list; its key comes from
//! that issuer's JWK Set (cached for a while, fetched again when a token names an unknown
//! `kid`); the signature must be asymmetric and made with the one algorithm of that key (no
//! `alg: none`, no HMAC keyed with a public key); `aud` must be this service's endpoint,
//! `exp`/`nbf`/`iat` current and the token short-lived, and the `jti` never seen before (kept in
//! the shared database, so a replay to another replica is caught too).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

mod settings;

pub use settings::{AuthFile, AuthSettings, Issuer};

use crate::storage::Store;

/// Asymmetric signatures only: an HMAC "signed" with the issuer's public key proves nothing.
const ACCEPTED: &[Algorithm] = &[
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::EdDSA,
];

/// A key set is fetched again for an unknown `kid` at most this often (no amplification).
const REFETCH_AFTER: Duration = Duration::from_secs(1);
/// Keys are trusted from a fetched set this long; then the set is fetched again, so a key the
/// EHR withdrew stops working.
const KEYS_LIFETIME: Duration = Duration::from_secs(600);
/// After a failed fetch, calls are refused this long without trying again.
const FAILURE_BACKOFF: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The call is refused (401): the reason is safe to tell the caller.
    #[error("{0}")]
    Refused(String),
    /// The token could not be checked for a reason on this side (503); the message is for the
    /// log, not the caller.
    #[error("{0}")]
    Unavailable(String),
}

/// The EHR behind an accepted token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub issuer: String,
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    jti: Option<String>,
}

/// Only `iss` is read before the signature is checked: it says whose keys to use.
#[derive(Deserialize)]
struct UnverifiedIssuer {
    iss: Option<String>,
}

/// A fetched key set, or the time a fetch failed.
enum Fetched {
    Keys(JwkSet, Instant),
    Failed(Instant),
}

struct KnownIssuer {
    config: Issuer,
    static_keys: Option<JwkSet>,
    fetched: RwLock<HashMap<String, Fetched>>,
    /// One fetch at a time per issuer: concurrent calls wait for it instead of fetching too.
    fetching: Mutex<()>,
}

pub struct Authenticator {
    issuers: HashMap<String, KnownIssuer>,
    leeway: Duration,
    max_lifetime: Duration,
    http: reqwest::Client,
    store: Store,
}

/// A caller-supplied value as it may appear in a reason (a header, a log line): printable
/// ASCII, at most 80 characters.
fn shown(value: &str) -> String {
    let mut out: String =
        value.chars().take(80).map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect();
    if value.chars().count() > 80 {
        out.push('…');
    }
    out
}

/// The one algorithm a key is for: its `alg`, else what its curve implies (EC, OKP) or, for
/// RSA, RS384 (the algorithm CDS Hooks requires EHRs to support).
fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    if let Some(alg) = jwk.common.key_algorithm {
        return format!("{alg:?}").parse().ok();
    }
    match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS384),
        _ => None,
    }
}

impl Authenticator {
    /// `None` when authentication is off. Static key files are read (and checked) here.
    pub fn new(settings: &AuthSettings, store: Store) -> Result<Option<Authenticator>, String> {
        if !settings.enabled {
            return Ok(None);
        }
        let mut issuers = HashMap::new();
        for issuer in &settings.issuers {
            let static_keys = match &issuer.jwks_file {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| format!("cannot read the JWK Set {}: {e}", path.display()))?;
                    Some(
                        serde_json::from_str::<JwkSet>(&text)
                            .map_err(|e| format!("{} is not a JWK Set: {e}", path.display()))?,
                    )
                }
                None => None,
            };
            issuers.insert(
                issuer.iss.clone(),
                KnownIssuer {
                    config: issuer.clone(),
                    static_keys,
                    fetched: RwLock::new(HashMap::new()),
                    fetching: Mutex::new(()),
                },
            );
        }
        crate::fhir::install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .user_agent(concat!("advanced-therapy-cds/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Some(Authenticator { issuers, leeway: settings.leeway, max_lifetime: settings.max_lifetime, http, store }))
    }

    /// Check the `Authorization` header of a call to an endpoint known by the `audiences` URLs.
    pub async fn verify(&self, authorization: Option<&str>, audiences: &[String]) -> Result<Caller, AuthError> {
        let refuse = |why: &str| Err(AuthError::Refused(why.to_string()));
        let Some(header_value) = authorization else {
            return refuse("no Authorization header: send `Authorization: Bearer <JWT signed by the EHR>`");
        };
        // RFC 7235: the scheme name is case-insensitive.
        let token = match header_value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => return refuse("the Authorization header is not `Bearer <JWT>`"),
        };
        if declares_no_signature(token) {
            return refuse("`alg: none` is refused: the token must be signed by the EHR");
        }
        let header = decode_header(token)
            .map_err(|e| AuthError::Refused(format!("the token header cannot be read: {}", shown(&e.to_string()))))?;
        if !ACCEPTED.contains(&header.alg) {
            return refuse(&format!(
                "algorithm {:?} is not accepted: sign with an asymmetric key (ES384, RS384, …)",
                header.alg
            ));
        }
        let iss = jsonwebtoken::dangerous::insecure_decode_claims::<UnverifiedIssuer>(token)
            .ok()
            .and_then(|c| c.iss)
            .ok_or_else(|| AuthError::Refused("the token has no `iss`".into()))?;
        let Some(issuer) = self.issuers.get(&iss) else {
            return refuse(&format!("issuer `{}` is not allowed to call this service", shown(&iss)));
        };
        let Some(kid) = header.kid.as_deref() else {
            return refuse("the token header has no `kid`");
        };
        let key = self.key(issuer, header.jku.as_deref(), kid, header.alg).await?;

        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[iss.as_str()]);
        validation.set_audience(audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway.as_secs();
        let claims = decode::<Claims>(token, &key, &validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                AuthError::Refused(match e.kind() {
                    K::ExpiredSignature => "the token has expired".into(),
                    K::ImmatureSignature => "the token is not valid yet (`nbf`)".into(),
                    K::InvalidAudience => {
                        format!("the token's `aud` is not this service's endpoint ({})", audiences[0])
                    }
                    K::InvalidIssuer => "the token's `iss` does not match".into(),
                    K::InvalidSignature => "the token's signature does not verify".into(),
                    K::MissingRequiredClaim(c) => format!("the token has no `{}`", shown(c)),
                    other => format!("the token is not valid: {}", shown(&format!("{other:?}"))),
                })
            })?
            .claims;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let leeway = self.leeway.as_secs() as i64;
        let max_lifetime = self.max_lifetime.as_secs() as i64;
        let Some(iat) = claims.iat else {
            return refuse("the token has no `iat`");
        };
        if iat > now + leeway {
            return refuse("the token's `iat` is in the future");
        }
        if claims.exp - iat > max_lifetime || claims.exp > now + max_lifetime + leeway {
            return refuse(&format!("the token lives longer than {max_lifetime} s"));
        }
        let jti = claims.jti.filter(|j| !j.is_empty());
        let Some(jti) = jti else {
            return refuse("the token has no `jti`");
        };
        // It is stored as text (the replay check): printable, and of a sane length.
        if jti.len() > 256 || jti.chars().any(char::is_control) {
            return refuse("the token's `jti` is not a short printable identifier");
        }
        let first = self
            .store
            .first_use_of_token(&claims.iss, &jti, claims.exp + leeway)
            .await
            .map_err(|e| AuthError::Unavailable(format!("the token could not be checked for replay: {e}")))?;
        if !first {
            return refuse("the token was already used (replayed `jti`)");
        }
        Ok(Caller { issuer: claims.iss })
    }

    /// The issuer's key `kid`, for `alg` only: from its static set, or from its key set URL (or
    /// an allowed `jku`), fetched again when the `kid` is unknown or the set is old.
    async fn key(
        &self,
        issuer: &KnownIssuer,
        jku: Option<&str>,
        kid: &str,
        alg: Algorithm,
    ) -> Result<DecodingKey, AuthError> {
        let kid_shown = shown(kid);
        let jwk = match &issuer.static_keys {
            Some(set) => {
                if jku.is_some() {
                    return Err(AuthError::Refused(format!(
                        "issuer `{}` has configured keys; a `jku` is not accepted",
                        issuer.config.iss
                    )));
                }
                set.find(kid).cloned()
            }
            None => {
                let url = match jku {
                    None => issuer.config.jwks_url.clone().unwrap_or_default(),
                    Some(u) if Some(u) == issuer.config.jwks_url.as_deref() => u.to_string(),
                    Some(u) if issuer.config.jku_allowed.iter().any(|a| a == u) => u.to_string(),
                    Some(u) => {
                        return Err(AuthError::Refused(format!(
                            "the token's `jku` {} is not an allowed key location of issuer `{}`",
                            shown(u),
                            issuer.config.iss
                        )));
                    }
                };
                self.fetched_key(issuer, &url, kid).await?
            }
        };
        let Some(jwk) = jwk else {
            return Err(AuthError::Refused(format!(
                "no key `{kid_shown}` in the key set of issuer `{}`",
                issuer.config.iss
            )));
        };
        if jwk.common.public_key_use.as_ref().is_some_and(|u| *u != PublicKeyUse::Signature) {
            return Err(AuthError::Refused(format!("key `{kid_shown}` is not a signing key")));
        }
        // One algorithm per key (RFC 8725 §3.1): a key for RS384 does not verify RS256 or PS384.
        match algorithm_of(&jwk) {
            Some(key_alg) if key_alg == alg => {}
            Some(key_alg) => {
                return Err(AuthError::Refused(format!("key `{kid_shown}` is for {key_alg:?}, not {alg:?}")));
            }
            None => return Err(AuthError::Refused(format!("key `{kid_shown}` names no usable algorithm"))),
        }
        DecodingKey::try_from(&jwk).map_err(|e| AuthError::Refused(format!("key `{kid_shown}` cannot be used: {e}")))
    }

    async fn fetched_key(&self, issuer: &KnownIssuer, url: &str, kid: &str) -> Result<Option<Jwk>, AuthError> {
        // Fresh enough to answer from the cache: the kid is there, or it is not and the set was
        // fetched moments ago, or a fetch failed moments ago.
        let cached = |map: &HashMap<String, Fetched>| -> Option<Result<Option<Jwk>, AuthError>> {
            match map.get(url)? {
                Fetched::Keys(set, at) if at.elapsed() < KEYS_LIFETIME => match set.find(kid) {
                    Some(k) => Some(Ok(Some(k.clone()))),
                    None if at.elapsed() < REFETCH_AFTER => Some(Ok(None)),
                    None => None,
                },
                Fetched::Failed(at) if at.elapsed() < FAILURE_BACKOFF => Some(Err(AuthError::Unavailable(format!(
                    "the key set of issuer `{}` could not be fetched a moment ago",
                    issuer.config.iss
                )))),
                _ => None,
            }
        };
        if let Some(answer) = cached(&*issuer.fetched.read().await) {
            return answer;
        }
        let _one_at_a_time = issuer.fetching.lock().await;
        // Another call may have fetched while this one waited.
        if let Some(answer) = cached(&*issuer.fetched.read().await) {
            return answer;
        }
        let result: Result<JwkSet, reqwest::Error> = async {
            let resp = self.http.get(url).header("accept", "application/json").send().await?;
            resp.error_for_status()?.json::<JwkSet>().await
        }
        .await;
        let mut map = issuer.fetched.write().await;
        match result {
            Ok(set) => {
                let found = set.find(kid).cloned();
                map.insert(url.to_string(), Fetched::Keys(set, Instant::now()));
                Ok(found)
            }
            Err(e) => {
                map.insert(url.to_string(), Fetched::Failed(Instant::now()));
                Err(AuthError::Unavailable(format!(
                    "the key set of issuer `{}` could not be fetched from {url}: {e}",
                    issuer.config.iss
                )))
            }
        }
    }
}

/// A token whose header says `"alg": "none"` (in any case).
fn declares_no_signature(token: &str) -> bool {
    let Some(header) = token.split('.').next() else { return false };
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(header.trim_end_matches('=')) else { return false };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return false };
    json.get("alg").and_then(|a| a.as_str()).is_some_and(|a| a.eq_ignore_ascii_case("none"))
}
