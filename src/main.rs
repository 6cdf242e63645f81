//! The `advanced-therapy-cds` command: `serve` the CDS Hooks service, `evaluate` one request
//! file offline with the same engine, or `check-knowledge`.

use std::path::PathBuf;
use std::process::ExitCode;

use advanced_therapy_cds::advice::{AdviceError, Advisor};
use advanced_therapy_cds::config::{Clock, Overrides, Settings, parse_date};
use advanced_therapy_cds::facts::Recognition;
use advanced_therapy_cds::fhir::{DataError, FhirServerSettings};
use advanced_therapy_cds::startup::{Application, load_knowledge};
use advanced_therapy_cds::terminology::{self, TerminologyServer, TerminologySettings};
use advanced_therapy_cds::vocabulary::{Jurisdiction, Language};
use clap::{Parser, Subcommand, ValueEnum};

/// mimalloc: the FHIR types of a request are many small allocations, made and freed together
/// (see README, "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "advanced-therapy-cds",
    version,
    about = "CDS Hooks decision support for biologic and JAK-inhibitor orders"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text", env = "ATCDS_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
struct Common {
    /// Directory of the knowledge files.
    #[arg(long = "knowledge", default_value = "cds-services", env = "ATCDS_KNOWLEDGE_DIR")]
    knowledge_dir: PathBuf,
    /// Deployment jurisdiction: NL or BE (Belgian rules).
    #[arg(long, default_value = "NL", env = "ATCDS_JURISDICTION", value_parser = parse_jurisdiction)]
    jurisdiction: Jurisdiction,
    /// Evaluate as of this date (YYYY-MM-DD) instead of today: for recorded cases and the
    /// fixtures only, never in production.
    #[arg(long, value_parser = parse_date)]
    as_of: Option<time::Date>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the CDS Hooks endpoints. Settings come from the defaults, `--config FILE`,
    /// `ATCDS_*` environment variables and these options, the last one winning.
    Serve {
        /// A TOML configuration file (see README, "Configuration").
        #[arg(long, env = "ATCDS_CONFIG")]
        config: Option<PathBuf>,
        /// Address and port to listen on (`bind`; default 127.0.0.1:8080).
        #[arg(long)]
        bind: Option<String>,
        /// Directory of the knowledge files (`knowledge_dir`; default cds-services).
        #[arg(long = "knowledge")]
        knowledge_dir: Option<PathBuf>,
        /// Directory of the SQLite database (`data_dir`; default data).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// `postgres://…` to keep feedback in PostgreSQL (`database_url`).
        #[arg(long)]
        database_url: Option<String>,
        /// Deployment jurisdiction NL or BE (`jurisdiction`).
        #[arg(long)]
        jurisdiction: Option<String>,
        /// Largest accepted request body in bytes (`limits.max_body_bytes`).
        #[arg(long)]
        max_body_bytes: Option<usize>,
        /// HTTP worker threads, 0 = one per core (`workers`).
        #[arg(long)]
        workers: Option<usize>,
        /// Time budget for fetching from the EHR's FHIR server, ms (`fhir.time_budget_ms`).
        #[arg(long)]
        fhir_time_budget_ms: Option<u64>,
        /// Pages followed per FHIR search (`fhir.max_pages`).
        #[arg(long)]
        fhir_max_pages: Option<usize>,
        /// Resources read per FHIR search (`fhir.max_resources`).
        #[arg(long)]
        fhir_max_resources: Option<usize>,
        /// Allow plain-http FHIR servers not on this machine (`fhir.allow_plain_http`).
        #[arg(long)]
        fhir_allow_http: bool,
        /// The URL under which EHRs reach this service (`public_url`): links in cards and the
        /// `aud` of their tokens.
        #[arg(long)]
        public_url: Option<String>,
        /// Evaluate as of this date (YYYY-MM-DD) instead of today: for the fixtures only.
        #[arg(long, value_parser = parse_date)]
        as_of: Option<time::Date>,
    },
    /// Print the CDS Hooks response for a request file (same engine, no server).
    Evaluate {
        /// A CDS Hooks request (JSON), e.g. from fixtures/.
        request: PathBuf,
        /// Service id; by default the one for the request's hook.
        #[arg(long)]
        service: Option<String>,
        /// Card language.
        #[arg(long, value_enum, default_value = "en")]
        lang: Lang,
        #[command(flatten)]
        common: Common,
    },
    /// Load and validate the knowledge files, and say what they hold.
    CheckKnowledge {
        #[command(flatten)]
        common: Common,
    },
    /// Terminology: regenerate the shipped SNOMED CT expansions from a FHIR terminology server.
    Terminology {
        #[command(subcommand)]
        command: TerminologyCommand,
    },
    /// List every resource of a request with the concepts the service recognises in it, and
    /// what it recognises as nothing or cannot classify (run a sample of your own records).
    Classify {
        /// A CDS Hooks request (JSON) with prefetch.
        request: PathBuf,
        /// Print JSON (one object per resource) instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum TerminologyCommand {
    /// Expand each value set's ECL definition (terminology/ecl.toml) on the server, write the
    /// expansions in place and print what changed: review it (git diff) before committing.
    Expand {
        /// Base URL of a FHIR R4 terminology server.
        #[arg(long)]
        server: String,
        /// Bearer token for the server.
        #[arg(long, env = "ATCDS_TERMINOLOGY_TOKEN")]
        token: Option<String>,
        /// Only these value sets (keys); all with a shipped expansion by default.
        #[arg(long = "value-set")]
        only: Vec<String>,
        /// Allow plain http to a server other than this machine.
        #[arg(long)]
        allow_http: bool,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Lang {
    En,
    Nl,
}

fn parse_jurisdiction(s: &str) -> Result<Jurisdiction, String> {
    s.parse()
}

fn init_logging(format: LogFormat, default: &str) {
    // fhir-sdk and reqwest log request URLs, which name the patient: keep them quiet unless
    // RUST_LOG asks for them explicitly — also when RUST_LOG cannot be read.
    let quiet = |base: &str| {
        let mut directives = base.to_string();
        for crate_name in ["fhir_sdk", "reqwest", "hyper", "hyper_util"] {
            if !directives.contains(crate_name) {
                directives.push_str(&format!(",{crate_name}=warn"));
            }
        }
        directives
    };
    let default_filter = || tracing_subscriber::EnvFilter::new(quiet(default));
    let (filter, invalid) = match std::env::var("RUST_LOG") {
        Ok(requested) => match tracing_subscriber::EnvFilter::try_new(quiet(&requested)) {
            Ok(filter) => (filter, None),
            Err(e) => (default_filter(), Some(e.to_string())),
        },
        Err(_) => (default_filter(), None),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    if let Some(error) = invalid {
        tracing::warn!(%error, "RUST_LOG is not a valid filter: logging at the default level");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            config,
            bind,
            knowledge_dir,
            data_dir,
            database_url,
            jurisdiction,
            max_body_bytes,
            workers,
            fhir_time_budget_ms,
            fhir_max_pages,
            fhir_max_resources,
            fhir_allow_http,
            public_url,
            as_of,
        } => {
            init_logging(cli.log_format, "info");
            let overrides = Overrides {
                bind,
                knowledge_dir,
                data_dir,
                database_url,
                public_url,
                jurisdiction,
                workers,
                max_body_bytes,
                fhir_time_budget_ms,
                fhir_max_pages,
                fhir_max_resources,
                fhir_allow_http,
            };
            match Settings::load(config.as_deref(), &overrides) {
                Ok(mut settings) => {
                    settings.clock = as_of.map(Clock::Fixed).unwrap_or(Clock::System);
                    serve(settings)
                }
                Err(e) => {
                    eprintln!("advanced-therapy-cds cannot start: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Evaluate { request, service, lang, common } => {
            init_logging(cli.log_format, "warn");
            evaluate(request, service, lang, common)
        }
        Command::Terminology { command: TerminologyCommand::Expand { server, token, only, allow_http, common } } => {
            init_logging(cli.log_format, "warn");
            expand_terminology(server, token, only, allow_http, common)
        }
        Command::Classify { request, json, common } => {
            init_logging(cli.log_format, "warn");
            classify(request, json, common)
        }
        Command::CheckKnowledge { common } => {
            init_logging(cli.log_format, "warn");
            let settings = Settings { knowledge_dir: common.knowledge_dir, ..Settings::embedded_default() };
            match load_knowledge(&settings) {
                Ok(k) => {
                    println!(
                        "knowledge OK: {} rules, {} value sets, {} drugs; {} entries marked unverified; not yet implemented: {}",
                        k.rules.len(),
                        k.value_sets.len(),
                        k.drugs.len(),
                        k.unverified.len(),
                        if k.not_implemented.is_empty() { "none".to_string() } else { k.not_implemented.join(", ") }
                    );
                    // What a reviewer has to check in the sources, one entry a line.
                    for entry in &k.unverified {
                        println!("unverified: {entry}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

fn serve(settings: Settings) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        match Application::build(settings).await {
            Ok(app) => match app.run().await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "server stopped with an error");
                    ExitCode::from(1)
                }
            },
            Err(e) => {
                // The knowledge errors name file and entry: print them whole.
                eprintln!("advanced-therapy-cds cannot start: {e}");
                ExitCode::from(1)
            }
        }
    })
}

fn expand_terminology(
    url: String,
    token: Option<String>,
    only: Vec<String>,
    allow_http: bool,
    common: Common,
) -> ExitCode {
    let settings = Settings { knowledge_dir: common.knowledge_dir.clone(), ..Settings::embedded_default() };
    let knowledge = match load_knowledge(&settings) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let tx = TerminologySettings { url: Some(url), token, allow_plain_http: allow_http, ..Default::default() };
    let server = match TerminologyServer::new(&tx) {
        Ok(Some(s)) => s,
        Ok(None) => return ExitCode::from(1),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let today = common.as_of.map(Clock::Fixed).unwrap_or(Clock::System).today().to_string();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    match runtime.block_on(terminology::regenerate(&common.knowledge_dir, &knowledge, &server, &only, &today)) {
        Ok(changes) => {
            for c in &changes {
                println!("{}: {} → {} codes (+{} −{})", c.value_set, c.before, c.after, c.added.len(), c.removed.len());
                for (code, display) in c.added.iter().take(20) {
                    println!("  + {code}\t{display}");
                }
                for (code, display) in c.removed.iter().take(20) {
                    println!("  - {code}\t{display}");
                }
                let more = c.added.len().saturating_sub(20) + c.removed.len().saturating_sub(20);
                if more > 0 {
                    println!("  … and {more} more (git diff {})", common.knowledge_dir.display());
                }
            }
            println!(
                "{} expansions written from {}; sources in {}. Review with git diff before committing.",
                changes.len(),
                server.base(),
                terminology::LOCAL_SOURCES
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nothing written: {e}");
            ExitCode::from(3)
        }
    }
}

fn classify(path: PathBuf, json: bool, common: Common) -> ExitCode {
    let settings = Settings { knowledge_dir: common.knowledge_dir.clone(), ..Settings::embedded_default() };
    let (knowledge, body) = match (load_knowledge(&settings), std::fs::read(&path)) {
        (Ok(k), Ok(b)) => (k, b),
        (Err(e), _) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
        (_, Err(e)) => {
            eprintln!("cannot read {}: {e}", path.display());
            return ExitCode::from(1);
        }
    };
    let advisor = Advisor::new(knowledge, common.jurisdiction, FhirServerSettings::default());
    let resources = match advisor.classify(&body) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("refused: {e}");
            return ExitCode::from(2);
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&resources).unwrap_or_default());
        return ExitCode::SUCCESS;
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
        println!("{}\t{}\t[{}]\t{}{}\t{}", r.resource, r.label, r.codes.join(" "), concepts, drug, how);
    }
    let count = |pick: fn(&Recognition) -> bool| resources.iter().filter(|r| pick(&r.recognised)).count();
    println!(
        "{} resources: {} by code, {} by text, {} recognised as nothing, {} not classified",
        resources.len(),
        count(|r| matches!(r, Recognition::Codes)),
        count(|r| matches!(r, Recognition::Text(_))),
        count(|r| matches!(r, Recognition::Nothing)),
        count(|r| matches!(r, Recognition::NotClassified(_)))
    );
    ExitCode::SUCCESS
}

fn evaluate(path: PathBuf, service: Option<String>, lang: Lang, common: Common) -> ExitCode {
    let settings = Settings { knowledge_dir: common.knowledge_dir.clone(), ..Settings::embedded_default() };
    let knowledge = match load_knowledge(&settings) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let body = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cannot read {}: {e}", path.display());
            return ExitCode::from(1);
        }
    };
    let service = service.or_else(|| {
        let hook = serde_json::from_slice::<serde_json::Value>(&body).ok()?.get("hook")?.as_str()?.to_string();
        knowledge.services.iter().find(|s| s.hook == hook).map(|s| s.id.clone())
    });
    let Some(service) = service else {
        eprintln!("the request names no hook this service answers; give --service");
        return ExitCode::from(2);
    };
    let advisor = Advisor::new(knowledge, common.jurisdiction, FhirServerSettings::default());
    let today = common.as_of.map(Clock::Fixed).unwrap_or(Clock::System).today();
    let language = match lang {
        Lang::En => Language::En,
        Lang::Nl => Language::Nl,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    match runtime.block_on(advisor.advise(&service, &body, language, today)) {
        Ok(advice) => {
            println!("{}", serde_json::to_string_pretty(&advice.response).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            let code = match e {
                AdviceError::Data(DataError::Unavailable(_)) => 3,
                _ => 2,
            };
            eprintln!("refused: {e}");
            ExitCode::from(code)
        }
    }
}
