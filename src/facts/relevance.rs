//! Which resources a rule can use, decided from a glance before their typed parse: a
//! condition, observation, medicine or vaccine whose codes (and, for medicines, name) place it
//! in no value set — and that is settled as nothing, not merely unknown — is counted and
//! dropped. Anything the facts would name as not classified, or could read otherwise, is kept.

use super::concepts::{CodingRef, concept, medication_concept};
use crate::fhir::Glance;
use crate::knowledge::{Knowledge, Placement};
use crate::vocabulary::MedicationStatus;

pub fn may_matter(k: &Knowledge, g: &Glance<'_>) -> bool {
    let codings = || {
        g.code.iter().flat_map(|c| c.coding.iter()).map(|c| CodingRef {
            system: c.system.as_deref(),
            code: c.code.as_deref(),
            display: c.display.as_deref(),
        })
    };
    let text = g.code.as_ref().and_then(|c| c.text.as_deref());
    let status = g.status.as_deref();
    match g.resource_type.as_ref() {
        // Placed in a concept, or not settled (a terminology server or the words may tell, or it
        // is named as not classified): read. Settled as none of the concepts: not.
        "Condition" => {
            let settled = codings().any(|c| match (c.system, c.code) {
                (Some(system), Some(code)) => k.codes.placement(system, code) == Placement::Known,
                _ => false,
            });
            !settled || !concept(k, codings(), text).class.value_sets.is_empty()
        }
        "Observation" => {
            !matches!(status, Some("cancelled" | "entered-in-error" | "unknown"))
                && !concept(k, codings(), text).class.value_sets.is_empty()
        }
        "MedicationRequest" | "MedicationStatement" => {
            // A referenced product is known only once resolved; a status that is no treatment
            // is dropped by the readers anyway.
            if g.medication_reference.is_some() {
                return true;
            }
            if status.is_some_and(|s| MedicationStatus::from_fhir(s).is_none()) {
                return false;
            }
            let (c, drug) = medication_concept(k, codings(), text);
            drug.is_some() || !c.class.value_sets.is_empty() || !c.identifiable
        }
        "Immunization" => {
            status == Some("completed") && !medication_concept(k, codings(), text).0.class.value_sets.is_empty()
        }
        _ => true,
    }
}
