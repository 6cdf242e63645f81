//! `terminology expand`: regenerate the shipped SNOMED CT expansions from a FHIR terminology
//! server and print what changed (exit 2 when the server cannot be used, 3 when nothing could
//! be written).

use std::process::ExitCode;

use clap::Subcommand;

use super::{CliError, Common, Output, runtime};
use crate::terminology::{self, TerminologyServer, TerminologySettings};

#[derive(Subcommand)]
pub enum TerminologyCommand {
    /// Expand each value set's ECL definition (terminology/ecl.toml) on the server, write the
    /// expansions in place and print what changed: review it (git diff) before committing.
    Expand(Expand),
}

#[derive(clap::Args)]
pub struct Expand {
    /// Base URL of a FHIR R4 terminology server.
    #[arg(long)]
    pub server: String,
    /// Bearer token for the server.
    #[arg(long, env = "ATCDS_TERMINOLOGY_TOKEN")]
    pub token: Option<String>,
    /// Only these value sets (keys); all with a shipped expansion by default.
    #[arg(long = "value-set")]
    pub only: Vec<String>,
    /// Allow plain http to a server other than this machine.
    #[arg(long)]
    pub allow_http: bool,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(command: TerminologyCommand) -> Result<ExitCode, CliError> {
    let TerminologyCommand::Expand(args) = command;
    expand(args)
}

fn expand(args: Expand) -> Result<ExitCode, CliError> {
    let knowledge = args.common.load_knowledge()?;
    let knowledge_dir = args.common.knowledge_dir();
    let settings = TerminologySettings {
        url: Some(args.server),
        token: args.token,
        allow_plain_http: args.allow_http,
        ..Default::default()
    };
    let server =
        TerminologyServer::new(&settings).map_err(CliError::TerminologyServer)?.ok_or(CliError::NoTerminologyServer)?;
    let today = args.common.clock().today().to_string();
    let changes = runtime(false)?
        .block_on(terminology::regenerate(&knowledge_dir, &knowledge, &server, &args.only, &today))
        .map_err(CliError::NothingWritten)?;
    let mut out = Output::stdout();
    for c in &changes {
        out.line(format_args!(
            "{}: {} → {} codes (+{} −{})",
            c.value_set,
            c.before,
            c.after,
            c.added.len(),
            c.removed.len()
        ))?;
        for (code, display) in c.added.iter().take(20) {
            out.line(format_args!("  + {code}\t{display}"))?;
        }
        for (code, display) in c.removed.iter().take(20) {
            out.line(format_args!("  - {code}\t{display}"))?;
        }
        let more = c.added.len().saturating_sub(20) + c.removed.len().saturating_sub(20);
        if more > 0 {
            out.line(format_args!("  … and {more} more (git diff {})", knowledge_dir.display()))?;
        }
    }
    out.line(format_args!(
        "{} expansions written from {}; sources in {}. Review with git diff before committing.",
        changes.len(),
        server.base(),
        terminology::LOCAL_SOURCES
    ))?;
    out.finish()
}
