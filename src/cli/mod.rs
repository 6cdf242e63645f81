//! The `advanced-therapy-cds` command line: the arguments (one struct per command, next to the
//! command's code; the options every command shares in `Common`) and the one error type all
//! commands return (`CliError`: what is said on stderr and the exit code).

pub mod check_knowledge;
pub mod classify;
pub mod evaluate;
mod output;
pub mod serve;
pub mod terminology;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use serde::{Serialize, Serializer};

pub use output::Output;

use crate::advice::AdviceError;
use crate::config::{Clock, ConfigError, Settings, parse_date};
use crate::fhir::DataError;
use crate::knowledge::{Knowledge, KnowledgeErrors};
use crate::startup::{StartupError, load_knowledge};
use crate::telemetry::LogFormat;
use crate::vocabulary::Jurisdiction;

#[derive(Parser)]
#[command(
    name = "advanced-therapy-cds",
    version,
    about = "CDS Hooks decision support for biologic and JAK-inhibitor orders"
)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text", env = "ATCDS_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the CDS Hooks endpoints. Settings come from the defaults, `--config FILE`,
    /// `ATCDS_*` environment variables and these options, the last one winning.
    Serve(serve::Serve),
    /// Print the CDS Hooks response for a request file (same engine, no server).
    Evaluate(evaluate::Evaluate),
    /// Load and validate the knowledge files, and say what they hold.
    CheckKnowledge(check_knowledge::CheckKnowledge),
    /// Terminology: regenerate the shipped SNOMED CT expansions from a FHIR terminology server.
    Terminology {
        #[command(subcommand)]
        command: terminology::TerminologyCommand,
    },
    /// List every resource of a request with the concepts the service recognises in it, and
    /// what it recognises as nothing or cannot classify (run a sample of your own records).
    Classify(classify::Classify),
}

impl Command {
    /// The log level when `RUST_LOG` says none: the server reports its start; the offline
    /// commands keep stderr for warnings and their refusals.
    pub fn default_log_level(&self) -> &'static str {
        if matches!(self, Command::Serve(_)) { "info" } else { "warn" }
    }
}

/// The options of every command. For `serve` they are configuration keys (`knowledge_dir`,
/// `jurisdiction`) given only when set; `as_of` sets the clock and is no key.
#[derive(clap::Args, Serialize, Debug, Clone, Default)]
pub struct Common {
    /// Directory of the knowledge files (`knowledge_dir`; default cds-services).
    #[arg(long = "knowledge", env = "ATCDS_KNOWLEDGE_DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub knowledge_dir: Option<PathBuf>,
    /// Deployment jurisdiction: NL or BE (Belgian rules; `jurisdiction`; default NL).
    #[arg(long, env = "ATCDS_JURISDICTION", value_parser = parse_jurisdiction)]
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "jurisdiction_code")]
    pub jurisdiction: Option<Jurisdiction>,
    /// Evaluate as of this date (YYYY-MM-DD) instead of today: for recorded cases and the
    /// fixtures only, never in production.
    #[arg(long, value_parser = parse_date)]
    #[serde(skip)]
    pub as_of: Option<time::Date>,
}

impl Common {
    pub fn knowledge_dir(&self) -> PathBuf {
        self.knowledge_dir.clone().unwrap_or_else(|| Settings::embedded_default().knowledge_dir)
    }

    pub fn jurisdiction(&self) -> Jurisdiction {
        self.jurisdiction.unwrap_or_default()
    }

    pub fn clock(&self) -> Clock {
        self.as_of.map(Clock::Fixed).unwrap_or(Clock::System)
    }

    /// Load and validate the knowledge of `--knowledge`.
    pub fn load_knowledge(&self) -> Result<Arc<Knowledge>, CliError> {
        let settings = Settings { knowledge_dir: self.knowledge_dir(), ..Settings::embedded_default() };
        Ok(load_knowledge(&settings)?)
    }
}

fn parse_jurisdiction(s: &str) -> Result<Jurisdiction, String> {
    s.parse()
}

fn jurisdiction_code<S: Serializer>(jurisdiction: &Option<Jurisdiction>, s: S) -> Result<S::Ok, S::Error> {
    match jurisdiction {
        Some(j) => s.serialize_str(j.code()),
        None => s.serialize_none(),
    }
}

/// A runtime for a command's async work.
fn runtime(multi_thread: bool) -> Result<tokio::runtime::Runtime, CliError> {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build().map_err(CliError::Runtime)
}

/// Why a command failed: said once, on stderr (`report`), with its exit code (`exit_code`).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("advanced-therapy-cds cannot start: {0}")]
    Config(#[from] ConfigError),
    /// The knowledge errors name file and entry: they are said whole.
    #[error("advanced-therapy-cds cannot start: {0}")]
    Startup(#[from] StartupError),
    #[error("server stopped with an error: {0}")]
    Served(io::Error),
    #[error("cannot start the runtime: {0}")]
    Runtime(io::Error),
    #[error("{0}")]
    Knowledge(#[from] KnowledgeErrors),
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("the request names no hook this service answers; give --service")]
    NoService,
    /// The request is refused (2), or the data it needs cannot be had (3, the HTTP 412 case).
    #[error("refused: {0}")]
    Refused(#[from] AdviceError),
    #[error("no terminology server given")]
    NoTerminologyServer,
    #[error("{0}")]
    TerminologyServer(String),
    #[error("nothing written: {0}")]
    NothingWritten(String),
    /// Standard output could not be written; a closed pipe (`| head`) is no error.
    #[error("cannot write the output: {0}")]
    Output(io::Error),
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            CliError::NoService | CliError::TerminologyServer(_) => ExitCode::from(2),
            CliError::Refused(AdviceError::Data(DataError::Unavailable(_))) => ExitCode::from(3),
            CliError::Refused(_) => ExitCode::from(2),
            CliError::NothingWritten(_) => ExitCode::from(3),
            _ => ExitCode::from(1),
        }
    }

    /// Say it: on stderr, or in the log for a server that stopped after it had started.
    pub fn report(&self) {
        match self {
            CliError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            CliError::Served(e) => tracing::error!(error = %e, "server stopped with an error"),
            _ => eprintln!("{self}"),
        }
    }
}
