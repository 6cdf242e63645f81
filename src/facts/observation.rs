//! An Observation read: its kind, its value and the answer it gives.

use fhir_sdk::r4b::resources::{ObservationEffective, ObservationValue};

use super::concepts::{concept_of, day_of, day_of_instant};
use super::*;
use crate::fhir::KeptObservation;
use crate::knowledge::{Knowledge, ValueSetMask};

pub(super) fn read_observation(knowledge: &Knowledge, o: &KeptObservation) -> Option<ObservationFact> {
    if matches!(o.status.as_ref(), "cancelled" | "entered-in-error" | "unknown") {
        return None;
    }
    let date = match &o.effective {
        Some(ObservationEffective::DateTime(dt)) => day_of(dt),
        Some(ObservationEffective::Period(p)) => p.start.as_ref().and_then(day_of),
        Some(ObservationEffective::Instant(i)) => Some(day_of_instant(&i.0)),
        _ => None,
    }
    .or_else(|| o.issued.as_ref().map(|i| day_of_instant(&i.0)));
    let value = match &o.value {
        Some(ObservationValue::CodeableConcept(cc)) => ObservedValue::Coded(concept_of(knowledge, cc)),
        Some(ObservationValue::Quantity(q)) => match q.value {
            Some(v) => ObservedValue::Quantity { value: v, unit: q.code.clone().or_else(|| q.unit.clone()) },
            None => ObservedValue::None,
        },
        Some(ObservationValue::String(s)) => ObservedValue::Text(s.clone()),
        Some(ObservationValue::Boolean(b)) => ObservedValue::Flag(*b),
        Some(ObservationValue::Integer(i)) => ObservedValue::Quantity { value: f64::from(*i), unit: None },
        Some(ObservationValue::DateTime(dt)) => day_of(dt).map_or(ObservedValue::None, ObservedValue::Date),
        _ => ObservedValue::None,
    };
    let mut answer = ValueSetMask::default();
    for i in o.interpretation.iter().flatten() {
        answer.union(&concept_of(knowledge, i).class.value_sets);
    }
    match &value {
        ObservedValue::Coded(c) => {
            answer.union(&c.class.value_sets);
            answer.union(&knowledge.codes.classify_whole_text(&c.label).value_sets);
        }
        ObservedValue::Text(t) => answer.union(&knowledge.codes.classify_whole_text(t).value_sets),
        _ => {}
    }
    let concept = concept_of(knowledge, &o.code);
    // A generic yes/no answer to a yes/no question counts as that question's answer
    // (rules-catalog.md, "Recognition by meaning": LOINC LA33-6 / LA32-8, SNOMED CT 373066001 /
    // 373067005, or a valueBoolean).
    let yes = matches!(value, ObservedValue::Flag(true)) || knowledge.generic_yes.is_some_and(|g| answer.contains(g));
    let no = matches!(value, ObservedValue::Flag(false)) || knowledge.generic_no.is_some_and(|g| answer.contains(g));
    if yes != no {
        for question in knowledge.value_sets.iter().filter(|v| concept.class.value_sets.contains(v.id)) {
            if let Some(means) = if yes { question.yes_means } else { question.no_means } {
                answer.insert(means);
            }
        }
        answer = knowledge.codes.closed(answer);
    }
    Some(ObservationFact { concept, date, value, answer })
}
