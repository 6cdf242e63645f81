//! The `advanced-therapy-cds` command: `serve` the CDS Hooks service, `evaluate` one request
//! file offline with the same engine, `check-knowledge`, `classify` or `terminology expand`.
//! Parse, start the log, run the command; its error is said once, here.

use std::process::ExitCode;

use advanced_therapy_cds::cli::{self, Cli, CliError, Command};
use advanced_therapy_cds::telemetry;
use clap::Parser;

/// mimalloc: the FHIR types of a request are many small allocations, made and freed together
/// (see README, "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init_logging(cli.log_format, cli.command.default_log_level());
    run(cli).unwrap_or_else(|error| {
        error.report();
        error.exit_code()
    })
}

fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Serve(args) => cli::serve::run(args),
        Command::Evaluate(args) => cli::evaluate::run(args),
        Command::CheckKnowledge(args) => cli::check_knowledge::run(args),
        Command::Classify(args) => cli::classify::run(args),
        Command::Terminology { command } => cli::terminology::run(command),
    }
}
