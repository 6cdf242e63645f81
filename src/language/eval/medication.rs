//! The constructs about medicines and vaccines: `medication`, `immunization`,
//! `planned_immunization`.

use super::{Evaluation, Evidence, EvidenceDetail};
use crate::language::ast::{ImmunizationQuery, MedicationQuery};

impl Evaluation<'_> {
    pub(super) fn medication(&self, q: &MedicationQuery) -> Option<Vec<Evidence>> {
        let facts = self.facts;
        let ordered = self.order.drug();
        let mut items: Vec<Evidence> = Vec::new();
        let matching = facts
            .medications
            .iter()
            .filter(|m| m.concept.class.value_sets.contains(q.value_set))
            .filter(|m| q.not_in.is_none_or(|vs| !m.concept.class.value_sets.contains(vs)))
            .filter(|m| q.statuses.contains(&m.status))
            // The order itself, and the same drug (a continuation, never a combination).
            .filter(|m| m.reference.as_deref() != Some(self.order.reference.as_str()))
            .filter(|m| m.drug.is_none() || m.drug != ordered)
            .filter(|m| q.min_days.is_none_or(|d| facts.course_days(m) >= i64::from(d)));
        for m in matching {
            // The same medicine on the same day and status is one item of evidence, however
            // many copies the record or the session holds (an order-sign call of like orders).
            let detail = EvidenceDetail::MedicationStatus(m.status);
            if !items.iter().any(|e| e.date == m.date && e.detail == detail && e.label == m.concept.label) {
                items.push(Evidence::new(m.concept.label.clone(), m.date, detail));
            }
        }
        (!items.is_empty()).then_some(items)
    }

    pub(super) fn immunization(&self, q: &ImmunizationQuery) -> Option<Vec<Evidence>> {
        let facts = self.facts;
        let today = facts.today;
        let items: Vec<Evidence> = facts
            .immunizations
            .iter()
            .filter(|i| i.concept.class.value_sets.contains(q.value_set))
            .filter(|i| {
                i.date.is_some_and(|d| {
                    d <= today && q.within_days.is_none_or(|w| (today - d).whole_days() < i64::from(w))
                })
            })
            .map(|i| Evidence::new(i.concept.label.clone(), i.date, EvidenceDetail::None))
            .collect();
        (!items.is_empty()).then_some(items)
    }

    pub(super) fn planned_immunization(&self, q: &ImmunizationQuery) -> Option<Vec<Evidence>> {
        let facts = self.facts;
        let today = facts.today;
        let items: Vec<Evidence> = facts
            .planned_immunizations
            .iter()
            .filter(|i| i.concept.class.value_sets.contains(q.value_set))
            .filter(|i| i.reference.as_deref() != Some(self.order.reference.as_str()))
            .filter(|i| i.date.is_none_or(|d| q.within_days.is_none_or(|w| (d - today).whole_days() <= i64::from(w))))
            .map(|i| Evidence::new(i.concept.label.clone(), i.date, EvidenceDetail::Planned))
            .collect();
        (!items.is_empty()).then_some(items)
    }
}
