//! `check-knowledge`: load and validate the knowledge files, say what they hold and list every
//! entry still marked unverified (exit 1 with every problem when they do not load).

use std::process::ExitCode;

use super::{CliError, Common, Output};

#[derive(clap::Args)]
pub struct CheckKnowledge {
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: CheckKnowledge) -> Result<ExitCode, CliError> {
    let k = args.common.load_knowledge()?;
    let not_implemented = if k.not_implemented.is_empty() { "none".to_string() } else { k.not_implemented.join(", ") };
    let mut out = Output::stdout();
    out.line(format_args!(
        "knowledge OK: {} rules, {} value sets, {} drugs; {} entries marked unverified; not yet implemented: {}",
        k.rules.len(),
        k.value_sets.len(),
        k.drugs.len(),
        k.unverified.len(),
        not_implemented
    ))?;
    // What a reviewer has to check in the sources, one entry a line.
    for entry in &k.unverified {
        out.line(format_args!("unverified: {entry}"))?;
    }
    out.finish()
}
