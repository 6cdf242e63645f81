//! `classify`: every resource of a request with the concepts recognised in it, and what is
//! recognised as nothing or cannot be classified (a table, or JSON with `--json`).

use std::path::PathBuf;
use std::process::ExitCode;

use super::{CliError, Common, Output};
use crate::advice::Advisor;
use crate::facts::Recognition;
use crate::fhir::FhirServerSettings;

#[derive(clap::Args)]
pub struct Classify {
    /// A CDS Hooks request (JSON) with prefetch.
    pub request: PathBuf,
    /// Print JSON (one object per resource) instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: Classify) -> Result<ExitCode, CliError> {
    let knowledge = args.common.load_knowledge()?;
    let body = std::fs::read(&args.request).map_err(|source| CliError::Read { path: args.request.clone(), source })?;
    let advisor = Advisor::new(knowledge, args.common.jurisdiction(), FhirServerSettings::default());
    let resources = advisor.classify(&body)?;
    let mut out = Output::stdout();
    if args.json {
        out.line(serde_json::to_string_pretty(&resources).unwrap_or_default())?;
        return out.finish();
    }
    for r in &resources {
        let how = match &r.recognised {
            Recognition::Codes => "by code".to_string(),
            Recognition::Text(words) => format!("by text \"{words}\""),
            Recognition::Nothing => "recognised as nothing".to_string(),
            Recognition::NotClassified(why) => format!("NOT CLASSIFIED: {why}"),
        };
        let concepts = if r.concepts.is_empty() { "-".to_string() } else { r.concepts.join(", ") };
        let drug = r.drug.as_deref().map(|d| format!(" drug={d}")).unwrap_or_default();
        out.line(format_args!("{}\t{}\t[{}]\t{}{}\t{}", r.resource, r.label, r.codes.join(" "), concepts, drug, how))?;
    }
    let count = |pick: fn(&Recognition) -> bool| resources.iter().filter(|r| pick(&r.recognised)).count();
    out.line(format_args!(
        "{} resources: {} by code, {} by text, {} recognised as nothing, {} not classified",
        resources.len(),
        count(|r| matches!(r, Recognition::Codes)),
        count(|r| matches!(r, Recognition::Text(_))),
        count(|r| matches!(r, Recognition::Nothing)),
        count(|r| matches!(r, Recognition::NotClassified(_)))
    ))?;
    out.finish()
}
