//! Who may call: the EHR signs a JWT for every service and feedback call (CDS Hooks 2.0,
//! "Trusting CDS Clients"). The token's issuer must be on the allow-list; its key comes from
//! that issuer's JWK Set (cached, fetched again when a token names an unknown `kid`); the
//! signature must be asymmetric (no `alg: none`, no HMAC keyed with a public key); `aud` must
//! be this service's endpoint, `exp`/`iat` current and short-lived, and the `jti` never seen
//! before (kept in the shared database, so a replay to another replica is caught too).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use tokio::sync::RwLock;

use crate::config::{AuthSettings, Issuer};
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

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The call is refused (401): the reason is safe to tell the caller.
    #[error("{0}")]
    Refused(String),
    /// The token could not be checked for a reason on this side (503).
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

struct KnownIssuer {
    config: Issuer,
    static_keys: Option<JwkSet>,
    /// Fetched key sets by URL, with the time of the fetch.
    fetched: RwLock<HashMap<String, (JwkSet, Instant)>>,
}

pub struct Authenticator {
    issuers: HashMap<String, KnownIssuer>,
    leeway: Duration,
    max_lifetime: Duration,
    http: reqwest::Client,
    store: Store,
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
                KnownIssuer { config: issuer.clone(), static_keys, fetched: RwLock::new(HashMap::new()) },
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
        let Some(token) = header_value.strip_prefix("Bearer ").map(str::trim) else {
            return refuse("the Authorization header is not `Bearer <JWT>`");
        };
        let header = decode_header(token).map_err(|e| {
            AuthError::Refused(format!(
                "the token header cannot be read ({e}); only signed JWTs are accepted (never `alg: none`)"
            ))
        })?;
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
            return refuse(&format!("issuer `{iss}` is not allowed to call this service"));
        };
        let Some(kid) = header.kid.as_deref() else {
            return refuse("the token header has no `kid`");
        };
        let key = self.key(issuer, header.jku.as_deref(), kid, header.alg).await?;

        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[iss.as_str()]);
        validation.set_audience(audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = self.leeway.as_secs();
        let claims = decode::<Claims>(token, &key, &validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                AuthError::Refused(match e.kind() {
                    K::ExpiredSignature => "the token has expired".into(),
                    K::InvalidAudience => {
                        format!("the token's `aud` is not this service's endpoint ({})", audiences[0])
                    }
                    K::InvalidIssuer => "the token's `iss` does not match".into(),
                    K::InvalidSignature => "the token's signature does not verify".into(),
                    K::MissingRequiredClaim(c) => format!("the token has no `{c}`"),
                    other => format!("the token is not valid: {other:?}"),
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
        let first = self
            .store
            .first_use_of_token(&claims.iss, &jti, claims.exp)
            .await
            .map_err(|e| AuthError::Unavailable(format!("the token could not be checked for replay: {e}")))?;
        if !first {
            return refuse("the token was already used (replayed `jti`)");
        }
        Ok(Caller { issuer: claims.iss })
    }

    /// The issuer's key `kid` for `alg`: from its static set, or from its key set URL (or an
    /// allowed `jku`), fetched again once when the `kid` is unknown.
    async fn key(
        &self,
        issuer: &KnownIssuer,
        jku: Option<&str>,
        kid: &str,
        alg: Algorithm,
    ) -> Result<DecodingKey, AuthError> {
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
                            "the token's `jku` {u} is not an allowed key location of issuer `{}`",
                            issuer.config.iss
                        )));
                    }
                };
                self.fetched_key(issuer, &url, kid).await?
            }
        };
        let Some(jwk) = jwk else {
            return Err(AuthError::Refused(format!("no key `{kid}` in the key set of issuer `{}`", issuer.config.iss)));
        };
        if let Some(key_alg) = jwk.common.key_algorithm
            && format!("{key_alg:?}") != format!("{alg:?}")
        {
            return Err(AuthError::Refused(format!("key `{kid}` is for {key_alg:?}, not {alg:?}")));
        }
        DecodingKey::try_from(&jwk).map_err(|e| AuthError::Refused(format!("key `{kid}` cannot be used: {e}")))
    }

    async fn fetched_key(&self, issuer: &KnownIssuer, url: &str, kid: &str) -> Result<Option<Jwk>, AuthError> {
        if let Some((set, fetched_at)) = issuer.fetched.read().await.get(url) {
            if let Some(k) = set.find(kid) {
                return Ok(Some(k.clone()));
            }
            if fetched_at.elapsed() < REFETCH_AFTER {
                return Ok(None);
            }
        }
        let set: JwkSet = async {
            let resp = self.http.get(url).header("accept", "application/json").send().await?;
            resp.error_for_status()?.json::<JwkSet>().await
        }
        .await
        .map_err(|e| {
            AuthError::Unavailable(format!("the key set of issuer `{}` could not be fetched: {e}", issuer.config.iss))
        })?;
        let found = set.find(kid).cloned();
        issuer.fetched.write().await.insert(url.to_string(), (set, Instant::now()));
        Ok(found)
    }
}
