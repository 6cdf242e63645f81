//! `serve`: the settings (defaults ← `--config` file ← `ATCDS_*` ← these options), then the
//! service until SIGINT/SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use super::{CliError, Common, runtime};
use crate::config::Settings;
use crate::startup::Application;

#[derive(clap::Args)]
pub struct Serve {
    /// A TOML configuration file (see README, "Configuration").
    #[arg(long, env = "ATCDS_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: Overrides,
}

/// The options that override configuration keys, declared once: clap reads them, and figment
/// takes them as the top layer under the same names (`fhir.max_pages` is `--fhir-max-pages`).
/// An option not given is no key, so it overrides nothing.
#[derive(clap::Args, Serialize, Debug, Default)]
pub struct Overrides {
    /// Address and port to listen on (`bind`; default 127.0.0.1:8080).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common,
    /// Directory of the SQLite database (`data_dir`; default data).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `postgres://…` to keep feedback in PostgreSQL (`database_url`).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// HTTP worker threads, 0 = one per core (`workers`).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// The URL under which EHRs reach this service (`public_url`): links in cards and the
    /// `aud` of their tokens.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub limits: LimitsOverrides,
    #[command(flatten)]
    pub fhir: FhirOverrides,
}

/// `[limits]` keys.
#[derive(clap::Args, Serialize, Debug, Default)]
pub struct LimitsOverrides {
    /// Largest accepted request body in bytes (`limits.max_body_bytes`).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
    /// Most orders one call may carry in `context.draftOrders` (`limits.max_draft_orders`).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_draft_orders: Option<usize>,
}

/// `[fhir]` keys.
#[derive(clap::Args, Serialize, Debug, Default)]
pub struct FhirOverrides {
    /// Time budget for fetching from the EHR's FHIR server, ms (`fhir.time_budget_ms`).
    #[arg(long = "fhir-time-budget-ms", value_name = "FHIR_TIME_BUDGET_MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_budget_ms: Option<u64>,
    /// Pages followed per FHIR search (`fhir.max_pages`).
    #[arg(long = "fhir-max-pages", value_name = "FHIR_MAX_PAGES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_pages: Option<usize>,
    /// Resources read per FHIR search (`fhir.max_resources`).
    #[arg(long = "fhir-max-resources", value_name = "FHIR_MAX_RESOURCES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_resources: Option<usize>,
    /// Allow plain-http FHIR servers not on this machine (`fhir.allow_plain_http`).
    #[arg(long = "fhir-allow-http")]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_plain_http: bool,
}

pub fn run(args: Serve) -> Result<ExitCode, CliError> {
    let mut settings = Settings::load(args.config.as_deref(), &args.overrides)?;
    settings.clock = args.overrides.common.clock();
    runtime(true)?.block_on(async {
        let app = Application::build(settings).await?;
        app.run().await.map_err(CliError::Served)?;
        Ok(ExitCode::SUCCESS)
    })
}
