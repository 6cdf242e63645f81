//! Suggestions: for a drug of an alternative set (`alternatives.toml`, e.g. the atopic-dermatitis
//! decision matrix) ordered for the set's indication, every other drug of the set is reviewed as
//! if it had been ordered instead, and stands as suitable, advised against, unchecked (data one
//! of its checks needs is missing) or already prescribed.

use super::{Candidate, Engine, Standing};
use crate::facts::{DoseReading, MatchedBy, OrderSubject, PatientFacts, ReviewedOrder};
use crate::knowledge::{Reason, Rule};
use crate::language::eval::for_indication;
use crate::vocabulary::{DrugId, MedicationStatus};

/// `order`, for `drug` instead: a new start, with no dose (the ordered dose says nothing about
/// another drug) and the same reasons.
pub fn as_if_ordered(order: &ReviewedOrder, drug: DrugId) -> ReviewedOrder {
    ReviewedOrder {
        subject: OrderSubject::Drug { drug, matched_by: MatchedBy::Text(String::new()) },
        new_start: true,
        unreadable: None,
        dose: DoseReading::Missing,
        ..order.clone()
    }
}

impl<'k> Engine<'k> {
    /// Alternatives are offered only for a drug of an alternative set ordered for the set's
    /// indication: the order names it as its reason, or names no reason and the patient has it
    /// active. No dose goes with a candidate: the ordered dose says nothing about another drug.
    pub(super) fn alternatives(
        &self,
        facts: &PatientFacts,
        order: &ReviewedOrder,
        found: &mut super::PatientFindings,
    ) -> Option<Vec<Candidate<'k>>> {
        let drug = order.drug()?;
        let set = self.knowledge.alternative_set_of(drug)?;
        if !for_indication(facts, order, set.indication) {
            return None;
        }
        let candidates = self
            .knowledge
            .drugs
            .iter()
            .filter(|d| set.drugs.contains(d.id) && d.id != drug)
            .map(|d| {
                let prescribed = facts.on_drug(d.id)
                    || facts.medications.iter().any(|m| m.drug == Some(d.id) && m.status == MedicationStatus::Draft);
                if prescribed {
                    return Candidate { drug: d.id, standing: Standing::AlreadyPrescribed, findings: Vec::new() };
                }
                let findings = self.findings_with(facts, &as_if_ordered(order, d.id), found);
                let against: Vec<&'k Rule> =
                    findings.iter().filter(|f| set.withhold_on.contains(&f.recommendation)).map(|f| f.rule).collect();
                let gaps: Vec<&'k Reason> = findings
                    .iter()
                    .flat_map(|f| &f.reasons)
                    .filter(|r| r.reason.withholds_alternative.contains(d.id))
                    .map(|r| r.reason)
                    .collect();
                let standing = if !against.is_empty() {
                    Standing::AdvisedAgainst(against)
                } else if !gaps.is_empty() {
                    Standing::Unchecked(gaps)
                } else {
                    Standing::Suitable
                };
                Candidate { drug: d.id, standing, findings }
            })
            .collect();
        Some(candidates)
    }
}
