//! `evaluate`: the CDS Hooks response for a request file, from the same engine as the server
//! (exit 2 when the request is refused, 3 when the data it needs cannot be had).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use super::{CliError, Common, Output, runtime};
use crate::advice::Advisor;
use crate::fhir::FhirServerSettings;
use crate::vocabulary::Language;

#[derive(clap::Args)]
pub struct Evaluate {
    /// A CDS Hooks request (JSON), e.g. from fixtures/.
    pub request: PathBuf,
    /// Service id; by default the one for the request's hook.
    #[arg(long)]
    pub service: Option<String>,
    /// Card language.
    #[arg(long, value_enum, default_value = "en")]
    pub lang: Lang,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Lang {
    En,
    Nl,
}

pub fn run(args: Evaluate) -> Result<ExitCode, CliError> {
    let knowledge = args.common.load_knowledge()?;
    let body = std::fs::read(&args.request).map_err(|source| CliError::Read { path: args.request.clone(), source })?;
    let service = args.service.or_else(|| {
        let hook = serde_json::from_slice::<serde_json::Value>(&body).ok()?.get("hook")?.as_str()?.to_string();
        knowledge.services.iter().find(|s| s.hook == hook).map(|s| s.id.clone())
    });
    let service = service.ok_or(CliError::NoService)?;
    let advisor = Advisor::new(knowledge, args.common.jurisdiction(), FhirServerSettings::default());
    let today = args.common.clock().today();
    let language = match args.lang {
        Lang::En => Language::En,
        Lang::Nl => Language::Nl,
    };
    let advice = runtime(false)?.block_on(advisor.advise(&service, &body, language, today))?;
    let mut out = Output::stdout();
    out.line(serde_json::to_string_pretty(&advice.response).unwrap_or_default())?;
    out.finish()
}
