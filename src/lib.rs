//! advanced-therapy-cds: CDS Hooks 2.0 decision support for orders of biologics and JAK
//! inhibitors.
//!
//! Layers, each depending only on those below it:
//! - `cli` (the commands), `http` (routes, the gate, errors) and `startup` (wiring) — the
//!   service's edge;
//! - `advice` — one call end to end: request → record → facts → findings → cards;
//! - `protocol` (CDS Hooks wire types), `cards` (rendering), `engine` (rule evaluation);
//! - `facts` (patient facts from FHIR), `fhir` (prefetch and FHIR server access);
//! - `knowledge` (the validated data of `cds-services/`), `storage` (feedback);
//! - `vocabulary` — small shared domain words.

pub mod advice;
pub mod auth;
pub mod cards;
pub mod cli;
pub mod config;
pub mod engine;
pub mod facts;
pub mod fhir;
pub mod http;
pub mod knowledge;
pub mod language;
pub mod protocol;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod terminology;
pub mod vocabulary;
