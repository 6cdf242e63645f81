//! Deployment settings. They come, last one winning, from the embedded defaults, a TOML file
//! (`--config FILE`), `ATCDS_*` environment variables and the command line (figment), and are
//! checked once at start-up: a bad value stops the service with the key named. Tests build
//! `Settings` directly.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use crate::auth::{AuthFile, AuthSettings, Issuer};
use crate::fhir::FhirServerSettings;
use crate::terminology::TerminologySettings;
use crate::vocabulary::{Date, Jurisdiction};

pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Orders per call: an order-sign session of a whole admission is tens of orders.
pub const DEFAULT_MAX_DRAFT_ORDERS: usize = 500;
/// Resident memory (MiB) above which a large call's evaluator gives its free memory back: the
/// service holds 26–28 MiB after start-up as shipped (31–34 built with `release`), 14–17 of it
/// the binary's code.
pub const DEFAULT_GIVE_BACK_MEMORY_ABOVE_MIB: usize = 48;

/// Which day is "today" for age and time windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The real date (UTC) of each request.
    System,
    /// A fixed date: for reviewing a recorded case or running the fixtures; never in production.
    Fixed(Date),
}

impl Clock {
    pub fn today(self) -> Date {
        match self {
            Clock::System => OffsetDateTime::now_utc().date(),
            Clock::Fixed(d) => d,
        }
    }
}

/// What the service may take on at once, and for how long.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    /// A call not answered within this time gets 503.
    pub request_timeout: Duration,
    /// CDS calls in progress at once; more get 503 with `Retry-After`.
    pub max_concurrent_requests: usize,
    /// Orders one call may carry in `context.draftOrders`; more get 413.
    pub max_draft_orders: usize,
    /// After a large call (a body over 256 KiB), when the service's resident memory is above
    /// this (MiB), its evaluator gives the memory it holds free back to the system. 0: after
    /// every large call.
    pub give_back_memory_above_mib: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            request_timeout: Duration::from_secs(10),
            max_concurrent_requests: 256,
            max_draft_orders: DEFAULT_MAX_DRAFT_ORDERS,
            give_back_memory_above_mib: DEFAULT_GIVE_BACK_MEMORY_ABOVE_MIB,
        }
    }
}

/// The decision-matrix page of atopic-dermatitis orders (`[matrix]`).
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSettings {
    /// `false`: no link on the cards, nothing stored.
    pub enabled: bool,
    /// How long a page is kept; then it answers 410 Gone and its content is swept.
    pub ttl: Duration,
}

impl Default for MatrixSettings {
    fn default() -> Self {
        MatrixSettings { enabled: true, ttl: Duration::from_secs(30 * 60) }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    pub knowledge_dir: PathBuf,
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; `None`: SQLite in `data_dir`.
    pub database_url: Option<String>,
    pub jurisdiction: Jurisdiction,
    pub clock: Clock,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// The URL under which EHRs and browsers reach this service (links in cards, the `aud` of
    /// tokens); by default the bound address.
    pub public_url: Option<String>,
    pub limits: Limits,
    pub fhir: FhirServerSettings,
    /// A FHIR terminology server for codes no shipped expansion holds (none by default).
    pub terminology: TerminologySettings,
    pub auth: AuthSettings,
    /// Browser origins allowed to call (CORS); empty: none.
    pub cors_origins: Vec<String>,
    pub matrix: MatrixSettings,
}

impl Settings {
    /// The embedded default of the README: everything local, nothing external, no
    /// authentication (logged loudly at start-up).
    pub fn embedded_default() -> Settings {
        Settings {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            knowledge_dir: PathBuf::from("cds-services"),
            data_dir: PathBuf::from("data"),
            database_url: None,
            jurisdiction: Jurisdiction::Nl,
            clock: Clock::System,
            workers: 0,
            public_url: None,
            limits: Limits::default(),
            fhir: FhirServerSettings::default(),
            terminology: TerminologySettings::default(),
            auth: AuthSettings {
                enabled: false,
                issuers: Vec::new(),
                leeway: Duration::from_secs(60),
                max_lifetime: Duration::from_secs(300),
            },
            cors_origins: Vec::new(),
            matrix: MatrixSettings::default(),
        }
    }

    /// Read the configuration: embedded defaults ← `file` ← `ATCDS_*` variables ← `overrides`
    /// (the command line's options, serialized as configuration keys: `cli::serve::Overrides`).
    pub fn load(file: Option<&Path>, overrides: &impl Serialize) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(ConfigFile::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::new("--config", format!("no configuration file at {}", path.display())));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(environment()).merge(Serialized::defaults(overrides));
        let config: ConfigFile = figment.extract().map_err(ConfigError::from_figment)?;
        config.check(file.is_some())
    }
}

/// `ATCDS_*` variables as keys: `ATCDS_FHIR_TIME_BUDGET_MS` is `fhir.time_budget_ms`.
fn environment() -> Env {
    Env::prefixed("ATCDS_")
        // Read by the command line or the test tools, not configuration keys.
        .ignore(&["config", "log_format", "fhir_server", "hfs", "tools_dir"])
        .map(|key| {
            let key = key.as_str().to_ascii_lowercase();
            // Names the command line's environment variables had before the configuration file.
            match key.as_str() {
                "max_body_bytes" => return "limits.max_body_bytes".into(),
                "fhir_allow_http" => return "fhir.allow_plain_http".into(),
                _ => {}
            }
            for section in ["limits", "fhir", "terminology", "auth", "cors", "matrix"] {
                if let Some(rest) = key.strip_prefix(section).and_then(|r| r.strip_prefix('_')) {
                    return format!("{section}.{rest}").into();
                }
            }
            key.into()
        })
}

/// The configuration as written in the file (every key, with its default).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConfigFile {
    pub bind: String,
    pub knowledge_dir: PathBuf,
    pub data_dir: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    pub jurisdiction: String,
    pub workers: usize,
    pub limits: LimitsFile,
    pub fhir: FhirFile,
    pub terminology: TerminologyFile,
    pub auth: AuthFile,
    pub cors: CorsFile,
    pub matrix: MatrixFile,
}

/// `[matrix]`: the decision-matrix page (`ATCDS_MATRIX_ENABLED`, `ATCDS_MATRIX_TTL_MINUTES`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatrixFile {
    pub enabled: bool,
    /// Minutes; fractions allowed.
    pub ttl_minutes: f64,
}

impl Default for MatrixFile {
    fn default() -> Self {
        let d = MatrixSettings::default();
        MatrixFile { enabled: d.enabled, ttl_minutes: d.ttl.as_secs_f64() / 60.0 }
    }
}

impl MatrixFile {
    fn check(&self) -> Result<MatrixSettings, ConfigError> {
        // At most a day: the page holds clinical data about one patient.
        if !(self.ttl_minutes.is_finite() && self.ttl_minutes > 0.0 && self.ttl_minutes <= 24.0 * 60.0) {
            return Err(ConfigError::new("matrix.ttl_minutes", "must be greater than 0 and at most 1440 (a day)"));
        }
        Ok(MatrixSettings { enabled: self.enabled, ttl: Duration::from_secs_f64(self.ttl_minutes * 60.0) })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TerminologyFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub cache_entries: u64,
    pub cache_ttl_seconds: u64,
    pub allow_plain_http: bool,
}

impl Default for TerminologyFile {
    fn default() -> Self {
        let d = TerminologySettings::default();
        TerminologyFile {
            url: None,
            token: None,
            cache_entries: d.cache_entries,
            cache_ttl_seconds: d.cache_ttl.as_secs(),
            allow_plain_http: d.allow_plain_http,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsFile {
    pub max_body_bytes: usize,
    pub request_timeout_ms: u64,
    pub max_concurrent_requests: usize,
    pub max_draft_orders: usize,
    pub give_back_memory_above_mib: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FhirFile {
    pub time_budget_ms: u64,
    pub max_pages: usize,
    pub max_resources: usize,
    pub allow_plain_http: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsFile {
    pub allowed_origins: Vec<String>,
}

impl Default for ConfigFile {
    fn default() -> Self {
        let d = Settings::embedded_default();
        ConfigFile {
            bind: d.bind.to_string(),
            knowledge_dir: d.knowledge_dir,
            data_dir: d.data_dir,
            database_url: None,
            public_url: None,
            jurisdiction: d.jurisdiction.to_string(),
            workers: d.workers,
            limits: LimitsFile::default(),
            fhir: FhirFile::default(),
            terminology: TerminologyFile::default(),
            auth: AuthFile::default(),
            cors: CorsFile::default(),
            matrix: MatrixFile::default(),
        }
    }
}

impl Default for LimitsFile {
    fn default() -> Self {
        let d = Limits::default();
        LimitsFile {
            max_body_bytes: d.max_body_bytes,
            request_timeout_ms: d.request_timeout.as_millis() as u64,
            max_concurrent_requests: d.max_concurrent_requests,
            max_draft_orders: d.max_draft_orders,
            give_back_memory_above_mib: d.give_back_memory_above_mib,
        }
    }
}

impl Default for FhirFile {
    fn default() -> Self {
        let d = FhirServerSettings::default();
        FhirFile {
            time_budget_ms: d.time_budget.as_millis() as u64,
            max_pages: d.max_pages,
            max_resources: d.max_resources,
            allow_plain_http: d.allow_plain_http,
        }
    }
}

impl ConfigFile {
    /// The checked settings, or the first bad key: addresses, limits, terminology, CORS, then
    /// authentication.
    fn check(self, from_file: bool) -> Result<Settings, ConfigError> {
        let bind: SocketAddr =
            self.bind.parse().map_err(|_| ConfigError::new("bind", format!("`{}` is not ADDRESS:PORT", self.bind)))?;
        let jurisdiction: Jurisdiction =
            self.jurisdiction.parse().map_err(|e: String| ConfigError::new("jurisdiction", e))?;
        if let Some(url) = &self.database_url {
            let scheme = url.split(':').next().unwrap_or("");
            if !matches!(scheme, "sqlite" | "postgres" | "postgresql") {
                return Err(ConfigError::new("database_url", "use sqlite://FILE or postgres://USER@HOST/DB"));
            }
        }
        if let Some(url) = &self.public_url {
            url::Url::parse(url).map_err(|e| ConfigError::new("public_url", format!("`{url}` is not a URL: {e}")))?;
        }
        let (limits, fhir) = check_limits(&self.limits, &self.fhir)?;
        let terminology = check_terminology(&self.terminology)?;
        check_cors(&self.cors)?;
        let matrix = self.matrix.check()?;
        let auth = self.auth.check(from_file, bind, self.public_url.is_some())?;
        Ok(Settings {
            bind,
            knowledge_dir: self.knowledge_dir,
            data_dir: self.data_dir,
            database_url: self.database_url,
            jurisdiction,
            clock: Clock::System,
            workers: self.workers,
            public_url: self.public_url,
            limits,
            fhir,
            terminology,
            auth,
            cors_origins: self.cors.allowed_origins,
            matrix,
        })
    }
}

fn positive(key: &str, value: u64) -> Result<(), ConfigError> {
    if value == 0 { Err(ConfigError::new(key, "must be greater than 0")) } else { Ok(()) }
}

/// `[limits]` and `[fhir]`: every bound greater than 0.
fn check_limits(limits: &LimitsFile, fhir: &FhirFile) -> Result<(Limits, FhirServerSettings), ConfigError> {
    positive("limits.max_body_bytes", limits.max_body_bytes as u64)?;
    positive("limits.request_timeout_ms", limits.request_timeout_ms)?;
    positive("limits.max_concurrent_requests", limits.max_concurrent_requests as u64)?;
    positive("limits.max_draft_orders", limits.max_draft_orders as u64)?;
    positive("fhir.time_budget_ms", fhir.time_budget_ms)?;
    positive("fhir.max_pages", fhir.max_pages as u64)?;
    positive("fhir.max_resources", fhir.max_resources as u64)?;
    Ok((
        Limits {
            max_body_bytes: limits.max_body_bytes,
            request_timeout: Duration::from_millis(limits.request_timeout_ms),
            max_concurrent_requests: limits.max_concurrent_requests,
            max_draft_orders: limits.max_draft_orders,
            give_back_memory_above_mib: limits.give_back_memory_above_mib,
        },
        FhirServerSettings::new(
            Duration::from_millis(fhir.time_budget_ms),
            fhir.max_pages,
            fhir.max_resources,
            fhir.allow_plain_http,
        ),
    ))
}

/// `[terminology]`: a usable server URL if one is given, a cache of some size.
fn check_terminology(file: &TerminologyFile) -> Result<TerminologySettings, ConfigError> {
    positive("terminology.cache_entries", file.cache_entries)?;
    positive("terminology.cache_ttl_seconds", file.cache_ttl_seconds)?;
    let terminology = TerminologySettings {
        url: file.url.clone().filter(|u| !u.trim().is_empty()),
        token: file.token.clone().filter(|t| !t.is_empty()),
        cache_entries: file.cache_entries,
        cache_ttl: Duration::from_secs(file.cache_ttl_seconds),
        allow_plain_http: file.allow_plain_http,
        ..TerminologySettings::default()
    };
    crate::terminology::TerminologyServer::new(&terminology).map_err(|e| ConfigError::new("terminology.url", e))?;
    Ok(terminology)
}

/// `[cors]`: each allowed origin is an origin (scheme://host[:port]), not a URL with a path.
fn check_cors(cors: &CorsFile) -> Result<(), ConfigError> {
    for origin in &cors.allowed_origins {
        let ok = url::Url::parse(origin).is_ok_and(|u| u.path() == "/" && !origin.ends_with('/'));
        if !ok {
            return Err(ConfigError::new(
                "cors.allowed_origins",
                format!("`{origin}` is not an origin (scheme://host[:port])"),
            ));
        }
    }
    Ok(())
}

/// A configuration the service refuses to start with: which key, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: `{key}`: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(key: &str, message: impl Into<String>) -> Self {
        ConfigError { key: key.to_string(), message: message.into() }
    }

    fn from_figment(e: figment::Error) -> Self {
        let source = e.metadata.as_ref().map(|m| format!(" (from {})", m.name)).unwrap_or_default();
        let key = if e.path.is_empty() { "(file)".to_string() } else { e.path.join(".") };
        ConfigError { key, message: format!("{}{source}", e.kind) }
    }
}

/// Parse a `YYYY-MM-DD` date (for `--as-of`).
pub fn parse_date(s: &str) -> Result<Date, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, format).map_err(|e| format!("`{s}` is not a date YYYY-MM-DD: {e}"))
}
