//! What a FHIR terminology server said about codes the shipped knowledge could not place.

use std::collections::HashMap;

use crate::knowledge::ValueSetMask;

/// The server's verdict on one code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerVerdict {
    /// The value sets (by their ECL definitions) the code falls under; empty: none.
    Classified(ValueSetMask),
    /// The server was asked but did not answer in time, or answered with an error.
    Unanswered,
}

/// Verdicts by (system URI, code), for one call.
#[derive(Debug, Clone, Default)]
pub struct ServerAnswers {
    verdicts: HashMap<(String, String), ServerVerdict>,
    /// Why the unanswered codes were not answered (for the card).
    pub failure: Option<String>,
}

impl ServerAnswers {
    pub fn insert(&mut self, system: &str, code: &str, verdict: ServerVerdict) {
        self.verdicts.insert((system.to_string(), code.trim().to_string()), verdict);
    }

    pub fn get(&self, system: &str, code: &str) -> Option<ServerVerdict> {
        if self.verdicts.is_empty() {
            return None;
        }
        self.verdicts.get(&(system.to_string(), code.trim().to_string())).copied()
    }

    /// Add another round's verdicts.
    pub fn extend(&mut self, other: ServerAnswers) {
        self.verdicts.extend(other.verdicts);
        if self.failure.is_none() {
            self.failure = other.failure;
        }
    }

    pub fn contains(&self, system: &str, code: &str) -> bool {
        self.verdicts.contains_key(&(system.to_string(), code.trim().to_string()))
    }

    pub fn len(&self) -> usize {
        self.verdicts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.verdicts.is_empty()
    }
}
