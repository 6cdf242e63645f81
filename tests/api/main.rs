//! Black-box tests: the real server on a random port, real HTTP, real FHIR JSON from fixtures/.
//! One test crate (each file in tests/ would be a binary linking all of fhir-sdk).

mod auth;
mod call_size;
mod cli;
mod corpus;
mod coverage;
mod discovery;
mod errors;
mod feedback;
mod fhir_faults;
mod fhir_server;
mod fixtures;
mod golden;
mod knowledge;
mod matrix;
mod operations;
mod postgres;
mod rules_page;
mod support;
mod terminology;
