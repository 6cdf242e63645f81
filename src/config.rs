//! Deployment settings: where to listen, where the knowledge and the data live, limits.
//! The command line fills them (see `main.rs`); tests build them directly.

use std::net::SocketAddr;
use std::path::PathBuf;

use time::OffsetDateTime;

use crate::fhir::FhirServerSettings;
use crate::vocabulary::{Date, Jurisdiction};

pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

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

#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    pub knowledge_dir: PathBuf,
    pub data_dir: PathBuf,
    pub max_body_bytes: usize,
    pub jurisdiction: Jurisdiction,
    pub clock: Clock,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// The URL under which EHRs and browsers reach this service (for links in cards); by default
    /// the bound address.
    pub public_url: Option<String>,
    pub fhir: FhirServerSettings,
}

impl Settings {
    /// The embedded default of the README: everything local, nothing external.
    pub fn embedded_default() -> Settings {
        Settings {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            knowledge_dir: PathBuf::from("cds-services"),
            data_dir: PathBuf::from("data"),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            jurisdiction: Jurisdiction::Nl,
            clock: Clock::System,
            workers: 0,
            public_url: None,
            fhir: FhirServerSettings::default(),
        }
    }
}

/// Parse a `YYYY-MM-DD` date (for `--as-of`).
pub fn parse_date(s: &str) -> Result<Date, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, format).map_err(|e| format!("`{s}` is not a date YYYY-MM-DD: {e}"))
}
