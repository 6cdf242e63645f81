//! A hospital's FHIR terminology server, asked about SNOMED CT codes that no shipped expansion
//! holds. One question per code — its ancestors: `ValueSet/$expand` of an inline ValueSet whose
//! SNOMED CT filter is the ECL constraint `>> code` (FHIR's SNOMED CT `constraint` filter, which
//! Snowstorm, Ontoserver and the Helios terminology server evaluate) — answers every value set at
//! once: the value sets' ECL definitions are evaluated
//! here on those ancestors. Answers are cached (bounded, with a time to live), so a code is asked
//! about once a day, not once a call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Deserialize;

use super::answers::{ServerAnswers, ServerVerdict};
use crate::knowledge::{Knowledge, ValueSetMask, ecl::check_sctid};

/// `terminology.*` of the configuration.
#[derive(Debug, Clone)]
pub struct TerminologySettings {
    /// Base URL of a FHIR R4 terminology server; none: the shipped expansions only.
    pub url: Option<String>,
    /// Sent as `Authorization: Bearer`; never logged.
    pub token: Option<String>,
    /// Codes whose answer is kept.
    pub cache_entries: u64,
    pub cache_ttl: Duration,
    /// Questions in flight at once for one call.
    pub parallel: usize,
    /// `http://` to a server other than this machine (TLS otherwise).
    pub allow_plain_http: bool,
}

impl Default for TerminologySettings {
    fn default() -> Self {
        TerminologySettings {
            url: None,
            token: None,
            cache_entries: 100_000,
            cache_ttl: Duration::from_secs(24 * 3600),
            parallel: 8,
            allow_plain_http: false,
        }
    }
}

/// The SNOMED CT system URI the server is asked about.
pub const SNOMED: &str = "http://snomed.info/sct";

pub struct TerminologyServer {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
    parallel: usize,
    /// SNOMED CT id → its ancestors and itself, as the server gave them.
    cache: mini_moka::sync::Cache<u64, Arc<[u64]>>,
}

impl std::fmt::Debug for TerminologyServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminologyServer").field("base", &self.base).finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct WireValueSet {
    expansion: Option<WireExpansion>,
}

#[derive(Deserialize)]
struct WireExpansion {
    #[serde(default)]
    contains: Vec<WireContains>,
    #[serde(default)]
    total: Option<usize>,
    #[serde(default)]
    parameter: Vec<WireParameter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireParameter {
    name: Option<String>,
    value_uri: Option<String>,
    value_string: Option<String>,
}

#[derive(Deserialize)]
struct WireContains {
    system: Option<String>,
    code: Option<String>,
    #[serde(default)]
    display: Option<String>,
}

/// One member of a server's expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandedCode {
    pub code: String,
    pub display: String,
}

impl TerminologyServer {
    /// `None` when no server is configured.
    pub fn new(settings: &TerminologySettings) -> Result<Option<TerminologyServer>, String> {
        let Some(url) = &settings.url else { return Ok(None) };
        let parsed = url::Url::parse(url).map_err(|e| format!("`terminology.url` {url} is not a URL: {e}"))?;
        let local = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        match parsed.scheme() {
            "https" => {}
            "http" if local || settings.allow_plain_http => {}
            other => return Err(format!("`terminology.url` must be https (got {other}://)")),
        }
        crate::fhir::install_tls_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| format!("cannot create the terminology client: {e}"))?;
        Ok(Some(TerminologyServer {
            base: url.trim_end_matches('/').to_string(),
            token: settings.token.clone(),
            http,
            parallel: settings.parallel.max(1),
            cache: mini_moka::sync::Cache::builder()
                .max_capacity(settings.cache_entries)
                .time_to_live(settings.cache_ttl)
                .build(),
        }))
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The value sets each code falls under, by the knowledge's ECL definitions, as far as the
    /// server answers by `deadline`. `codes` are (system URI as written, code).
    pub async fn classify(
        &self,
        knowledge: &Knowledge,
        codes: &[(String, String)],
        deadline: Instant,
    ) -> ServerAnswers {
        let mut answers = ServerAnswers::default();
        let mut ask: Vec<u64> = Vec::new();
        for (_, code) in codes {
            if let Ok(id) = check_sctid(code.trim())
                && self.cache.get(&id).is_none()
                && !ask.contains(&id)
            {
                ask.push(id);
            }
        }
        let mut failure = None;
        if !ask.is_empty() {
            let lookups =
                futures_util::stream::iter(ask.into_iter().map(|id| async move { (id, self.ancestors(id).await) }))
                    .buffer_unordered(self.parallel)
                    .collect::<Vec<_>>();
            match tokio::time::timeout_at(deadline.into(), lookups).await {
                Ok(results) => {
                    for (id, result) in results {
                        match result {
                            Ok(ancestors) => self.cache.insert(id, ancestors.into()),
                            Err(e) => failure = Some(e),
                        }
                    }
                }
                Err(_) => failure = Some("no answer within the call's time budget".to_string()),
            }
            metrics::counter!("atcds_terminology_lookups_total", "outcome" => if failure.is_some() { "failed" } else { "ok" })
                .increment(1);
        }
        for (system, code) in codes {
            let Ok(id) = check_sctid(code.trim()) else { continue };
            let verdict = match self.cache.get(&id) {
                Some(ancestors) => ServerVerdict::Classified(classify_by_definitions(knowledge, id, &ancestors)),
                None => ServerVerdict::Unanswered,
            };
            answers.insert(system, code, verdict);
        }
        if let Some(e) = failure {
            tracing::warn!(server = %self.base, error = %e, "the terminology server did not answer every code");
            answers.failure = Some(e);
        }
        answers
    }

    /// A code's ancestors and itself: `$expand` of the implicit ECL value set `>> code`.
    async fn ancestors(&self, id: u64) -> Result<Vec<u64>, String> {
        let members = self.expand(&format!(">> {id}"), 1000).await?;
        let mut out: Vec<u64> = members.iter().filter_map(|m| m.code.parse().ok()).collect();
        // A code the server does not know expands to nothing: that is no answer, never "none
        // of the concepts".
        if out.is_empty() {
            return Err(format!("the terminology server does not know SNOMED CT {id}"));
        }
        if !out.contains(&id) {
            out.push(id);
        }
        Ok(out)
    }

    /// Every member of an ECL expression (paged by `count`).
    pub async fn expand(&self, ecl: &str, count: usize) -> Result<Vec<ExpandedCode>, String> {
        Ok(self.expand_with_version(ecl, count).await?.0)
    }

    /// Every member of an ECL expression, and the code system version the server used (its
    /// `used-codesystem` expansion parameter).
    pub async fn expand_with_version(
        &self,
        ecl: &str,
        count: usize,
    ) -> Result<(Vec<ExpandedCode>, Option<String>), String> {
        let mut out = Vec::new();
        let mut version = None;
        loop {
            let body = serde_json::json!({
                "resourceType": "Parameters",
                "parameter": [
                    {"name": "valueSet", "resource": {
                        "resourceType": "ValueSet",
                        "status": "active",
                        "compose": {"include": [{"system": SNOMED, "filter": [{"property": "constraint", "op": "=", "value": ecl}]}]}
                    }},
                    {"name": "count", "valueInteger": count},
                    {"name": "offset", "valueInteger": out.len()}
                ]
            });
            let mut request = self
                .http
                .post(format!("{}/ValueSet/$expand", self.base))
                .header("accept", "application/fhir+json")
                .header("content-type", "application/fhir+json")
                .body(body.to_string());
            if let Some(token) = &self.token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.map_err(|e| format!("terminology server: {e}"))?;
            let status = response.status();
            let body = response.text().await.map_err(|e| format!("terminology server: {e}"))?;
            if !status.is_success() {
                let message = crate::fhir::outcome_message(&body);
                return Err(format!("terminology server answered {status}: {message}"));
            }
            let vs: WireValueSet =
                serde_json::from_str(&body).map_err(|e| format!("terminology server: not a ValueSet ({e})"))?;
            let expansion = vs.expansion.ok_or("terminology server: a ValueSet without expansion")?;
            if version.is_none() {
                version = expansion
                    .parameter
                    .iter()
                    .find(|p| p.name.as_deref() == Some("used-codesystem") || p.name.as_deref() == Some("version"))
                    .and_then(|p| p.value_uri.clone().or_else(|| p.value_string.clone()));
            }
            let page = expansion.contains.len();
            out.extend(
                expansion
                    .contains
                    .into_iter()
                    .filter(|c| c.system.as_deref().is_none_or(|s| s == SNOMED))
                    .filter_map(|c| Some(ExpandedCode { code: c.code?, display: c.display.unwrap_or_default() })),
            );
            let total = expansion.total.unwrap_or(0);
            if page == 0 || page < count || out.len() >= total {
                return Ok((out, version));
            }
        }
    }
}

/// The value sets whose ECL definition takes `code`, given its ancestors-or-self.
pub fn classify_by_definitions(knowledge: &Knowledge, code: u64, ancestors_or_self: &[u64]) -> ValueSetMask {
    let mut mask = ValueSetMask::default();
    for vs in &knowledge.value_sets {
        if vs.ecl.as_ref().is_some_and(|ecl| ecl.matches(code, ancestors_or_self)) {
            mask.insert(vs.id);
        }
    }
    mask
}
