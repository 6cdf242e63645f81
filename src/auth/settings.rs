//! The authentication settings: the `[auth]` keys as written, and their check at start-up —
//! what `Authenticator` relies on (issuers with one key source each, key servers on https, a
//! public URL for `aud`, a bounded clock skew).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, Settings};

/// One EHR allowed to call: its JWT issuer and where its public keys are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Issuer {
    /// The `iss` claim.
    pub iss: String,
    /// Its JWK Set (fetched, cached, refreshed on an unknown `kid`).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Or a JWK Set file (static keys).
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// Further `jku` URLs a token of this issuer may name (its `jwks_url` always may).
    #[serde(default)]
    pub jku_allowed: Vec<String>,
}

/// Authentication of the EHR (CDS Hooks: a JWT signed by the EHR on every call).
#[derive(Debug, Clone, Default)]
pub struct AuthSettings {
    /// Off only when configured so (or in the embedded default, which says so loudly).
    pub enabled: bool,
    pub issuers: Vec<Issuer>,
    /// Clock skew allowed on `exp` and `iat`.
    pub leeway: Duration,
    /// Tokens may live at most this long (CDS Hooks: five minutes).
    pub max_lifetime: Duration,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthFile {
    /// Must be said in a configuration file: `true` (with issuers) or `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    pub issuers: Vec<Issuer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leeway_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_token_lifetime_seconds: Option<u64>,
}

impl AuthFile {
    /// The checked settings. Authentication must be switched on or off explicitly, except for
    /// the embedded default on this machine (`bind` on loopback, no configuration file).
    pub(crate) fn check(
        self,
        from_file: bool,
        bind: SocketAddr,
        has_public_url: bool,
    ) -> Result<AuthSettings, ConfigError> {
        let enabled = match self.enabled {
            Some(on) => on,
            // Issuers without `enabled` would silently leave authentication off.
            None if !self.issuers.is_empty() => {
                return Err(ConfigError::new(
                    "auth.enabled",
                    "issuers are configured but authentication is not switched on: set it to `true`",
                ));
            }
            // Without a configuration file, on this machine only, this is the README's embedded
            // default.
            None if !from_file && bind.ip().is_loopback() => false,
            None if !from_file => {
                return Err(ConfigError::new(
                    "auth.enabled",
                    format!(
                        "listening on {bind} beyond this machine: say whether EHR calls must carry a signed JWT (`true` with issuers, or `false` explicitly)"
                    ),
                ));
            }
            None => {
                return Err(ConfigError::new(
                    "auth.enabled",
                    "say whether EHR calls must carry a signed JWT: `true` (with [[auth.issuers]]) or `false`",
                ));
            }
        };
        if self.leeway_seconds.is_some_and(|s| s > 300) {
            return Err(ConfigError::new("auth.leeway_seconds", "at most 300 (a larger clock skew reopens replays)"));
        }
        if enabled {
            if self.issuers.is_empty() {
                return Err(ConfigError::new("auth.issuers", "authentication is on but no issuer is allowed"));
            }
            if !has_public_url {
                return Err(ConfigError::new(
                    "public_url",
                    "required with authentication: a token's `aud` must name this service's URL as the EHR calls it",
                ));
            }
            for (i, issuer) in self.issuers.iter().enumerate() {
                let key = format!("auth.issuers[{i}]");
                if issuer.iss.trim().is_empty() {
                    return Err(ConfigError::new(&key, "`iss` is empty"));
                }
                match (&issuer.jwks_url, &issuer.jwks_file) {
                    (None, None) => return Err(ConfigError::new(&key, "give `jwks_url` or `jwks_file`")),
                    (Some(_), Some(_)) => {
                        return Err(ConfigError::new(&key, "give `jwks_url` or `jwks_file`, not both"));
                    }
                    (Some(url), None) => check_key_url(&format!("{key}.jwks_url"), url)?,
                    (None, Some(file)) if !file.is_file() => {
                        return Err(ConfigError::new(
                            &format!("{key}.jwks_file"),
                            format!("no file at {}", file.display()),
                        ));
                    }
                    _ => {}
                }
                for url in &issuer.jku_allowed {
                    check_key_url(&format!("{key}.jku_allowed"), url)?;
                }
            }
        }
        let defaults = Settings::embedded_default().auth;
        Ok(AuthSettings {
            enabled,
            issuers: self.issuers,
            leeway: self.leeway_seconds.map(Duration::from_secs).unwrap_or(defaults.leeway),
            max_lifetime: self.max_token_lifetime_seconds.map(Duration::from_secs).unwrap_or(defaults.max_lifetime),
        })
    }
}

/// Key servers must be https, except on this machine (tests, a sidecar).
fn check_key_url(key: &str, url: &str) -> Result<(), ConfigError> {
    let parsed = url::Url::parse(url).map_err(|e| ConfigError::new(key, format!("`{url}` is not a URL: {e}")))?;
    let local = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if parsed.scheme() != "https" && !(parsed.scheme() == "http" && local) {
        return Err(ConfigError::new(key, format!("`{url}` must be https")));
    }
    Ok(())
}
