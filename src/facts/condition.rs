//! A Condition read: its meaning (codes, a terminology server's verdict, words), its clinical
//! status, its dates; or why it could not be classified.

use fhir_sdk::r4b::resources::{ConditionAbatement, ConditionOnset};

use super::concepts::{codings, concept_of, day_of};
use super::*;
use crate::fhir::KeptCondition;
use crate::knowledge::{Knowledge, Placement, TextFinding};
use crate::terminology::{ServerAnswers, ServerVerdict};
use crate::vocabulary::ClinicalStatus;

pub(super) enum ConditionReading {
    Fact(Box<ConditionFact>),
    Unclassified(Unclassified),
    /// Refuted or entered in error.
    Ignored,
}

/// What a condition's code means: its codings, else a terminology server's verdict, else —
/// for the critical concepts only — its words. `Err` when nothing could tell.
pub(super) fn condition_meaning(
    knowledge: &Knowledge,
    code: &fhir_sdk::r4b::types::CodeableConcept,
    server: &ServerAnswers,
) -> Result<(Concept, Option<TextFinding>), UnclassifiedWhy> {
    let mut concept = concept_of(knowledge, code);
    if !concept.class.value_sets.is_empty() {
        return Ok((concept, None));
    }
    // Placed: some code's meaning is known (possibly "none of the concepts"). Settled: known
    // from complete ranges (ICD-10) or a server, where the words may not overrule the code.
    let mut placed = false;
    let mut settled = false;
    let mut unanswered = false;
    for c in codings(code) {
        let (Some(system), Some(value)) = (c.system, c.code) else { continue };
        match server.get(system, value) {
            Some(ServerVerdict::Classified(mask)) => {
                concept.class.value_sets.union(&knowledge.codes.closed(mask));
                placed = true;
                settled = true;
            }
            // The server did not answer: what the shipped knowledge says stands; a code it
            // cannot place is reported.
            Some(ServerVerdict::Unanswered) => match knowledge.codes.placement(system, value) {
                Placement::Known => {
                    placed = true;
                    settled = true;
                }
                Placement::Expanded => placed = true,
                Placement::Unknown => unanswered = true,
            },
            None => match knowledge.codes.placement(system, value) {
                Placement::Known => {
                    placed = true;
                    settled = true;
                }
                Placement::Expanded => placed = true,
                Placement::Unknown => {}
            },
        }
    }
    if !concept.class.value_sets.is_empty() || settled {
        return Ok((concept, None));
    }
    // The last resort, for the critical concepts: the words of the text and the displays — never
    // a concept the code was deliberately left out of (a basal cell carcinoma is no malignancy
    // of that set, whatever its text calls it).
    let mut excluded = crate::knowledge::ValueSetMask::default();
    for c in codings(code) {
        if let (Some(system), Some(value)) = (c.system, c.code) {
            excluded.union(&knowledge.codes.excluded(system, value));
        }
    }
    let texts = code.text.as_deref().into_iter().chain(codings(code).filter_map(|c| c.display));
    for text in texts {
        let mut found = knowledge.codes.recognise_text(text);
        found.value_sets.minus(&excluded);
        if !found.is_empty() {
            concept.class.value_sets.union(&found.value_sets);
            return Ok((concept, Some(found)));
        }
    }
    match (placed, unanswered, codings(code).next().is_some() || code.text.is_some()) {
        (true, _, _) => Ok((concept, None)),
        (false, true, _) => Err(UnclassifiedWhy::ServerUnanswered),
        (false, false, true) => Err(UnclassifiedWhy::UnknownCodes),
        (false, false, false) => Err(UnclassifiedWhy::NoCode),
    }
}

/// A condition's label with its codes, for the list of what could not be classified.
pub(super) fn coded_label(code: &fhir_sdk::r4b::types::CodeableConcept, label: &str) -> String {
    let codes: Vec<String> =
        codings(code).filter_map(|c| Some(format!("{} {}", short_system(c.system?), c.code?))).collect();
    if codes.is_empty() { label.to_string() } else { format!("{label} [{}]", codes.join(", ")) }
}

/// The last part of a system URI or OID, enough to tell systems apart in a card.
pub(super) fn short_system(system: &str) -> &str {
    let s = system.trim_end_matches('/');
    s.rsplit(['/', ':']).next().unwrap_or(s)
}

pub(super) fn read_condition(knowledge: &Knowledge, c: &KeptCondition, server: &ServerAnswers) -> ConditionReading {
    let verification = c.verification_status.as_ref().and_then(|v| first_code(v));
    if matches!(verification, Some("refuted" | "entered-in-error")) {
        return ConditionReading::Ignored;
    }
    let status = c.clinical_status.as_ref().and_then(|s| first_code(s)).map(ClinicalStatus::from_fhir);
    // No clinical status: resolved only when an abatement is recorded; otherwise assume active
    // (missing data is never read as safe).
    let mut active = match &status {
        Some(s) => s.is_active(),
        None => c.abatement.is_none(),
    };
    let onset = match &c.onset {
        Some(ConditionOnset::DateTime(dt)) => day_of(dt),
        Some(ConditionOnset::Period(p)) => p.start.as_ref().and_then(day_of),
        _ => None,
    };
    let date = onset.or_else(|| c.recorded_date.as_ref().and_then(day_of));
    let ended = match &c.abatement {
        Some(ConditionAbatement::DateTime(dt)) => day_of(dt),
        Some(ConditionAbatement::Period(p)) => p.end.as_ref().or(p.start.as_ref()).and_then(day_of),
        _ => None,
    };
    let empty = fhir_sdk::r4b::types::CodeableConcept::builder().build().ok();
    let Some(code) = c.code.as_ref().or(empty.as_ref()) else { return ConditionReading::Ignored };
    let (concept, by_text) = match condition_meaning(knowledge, code, server) {
        Ok(meaning) => meaning,
        Err(why) => {
            let label = concept_of(knowledge, code).label;
            return ConditionReading::Unclassified(Unclassified {
                label: coded_label(code, &label),
                date: date.or(ended),
                why,
            });
        }
    };
    let mut status = status.unwrap_or(if active { ClinicalStatus::Active } else { ClinicalStatus::Resolved });
    // "Status na mammacarcinoom": recognised by its words as a past condition.
    if by_text.as_ref().is_some_and(|t| t.history) && active {
        active = false;
        status = ClinicalStatus::Inactive;
    }
    ConditionReading::Fact(Box::new(ConditionFact {
        concept,
        by_text: by_text.map(|t| t.phrase),
        active,
        status,
        date: date.or(ended),
        onset,
        ended,
        severity: c.severity.as_ref().map(|s| concept_of(knowledge, s).class).unwrap_or_default(),
    }))
}

pub(super) fn first_code(cc: &fhir_sdk::r4b::types::CodeableConcept) -> Option<&str> {
    cc.coding.iter().flatten().find_map(|c| c.code.as_deref())
}
