//! Terminology beyond the shipped expansions: a hospital's FHIR terminology server, asked about
//! SNOMED CT codes no shipped expansion holds. Knows nothing of clinical rules: it evaluates the
//! value sets' ECL definitions on what the server says.

mod answers;
mod regenerate;
mod server;

pub use answers::{ServerAnswers, ServerVerdict};
pub use regenerate::{ExpansionChange, LOCAL_SOURCES, SERVER_SOURCE, regenerate};
pub use server::{ExpandedCode, SNOMED, TerminologyServer, TerminologySettings, classify_by_definitions};
