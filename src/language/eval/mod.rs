//! The rule-language interpreter: one compiled criterion, evaluated on a patient's facts and
//! the order under review, gives `Some(evidence)` when it holds (the facts that made it hold;
//! possibly none, as for `not`) and `None` when it does not. One function per construct, in
//! the files beside this one; `eval` is the dispatch table.

mod evidence;
mod medication;
mod observation;
mod order;
mod patient;
#[cfg(test)]
mod tests;

pub use evidence::{Evidence, EvidenceDetail};

use crate::facts::{PatientFacts, ReviewedOrder, months_before};
use crate::knowledge::{Knowledge, ValueSetId};
use crate::language::ast::Criterion;
use crate::vocabulary::Date;

/// One evaluation scope: the knowledge (quantity kinds), one patient's facts, one order.
pub struct Evaluation<'a> {
    pub knowledge: &'a Knowledge,
    pub facts: &'a PatientFacts,
    pub order: &'a ReviewedOrder,
}

impl Evaluation<'_> {
    /// `Some(evidence)` when the criterion holds (evidence may be empty, e.g. for `not`).
    pub fn eval(&self, criterion: &Criterion) -> Option<Vec<Evidence>> {
        let facts = self.facts;
        match criterion {
            Criterion::All(list) => self.all(list),
            Criterion::Any(list) => self.any(list),
            Criterion::Not(inner) => self.eval(inner).is_none().then(Vec::new),
            Criterion::Age { at_least, below } => {
                let age = facts.age?;
                let holds = at_least.is_none_or(|a| age >= a) && below.is_none_or(|b| age < b);
                holds.then(|| vec![Evidence::new(String::new(), None, EvidenceDetail::Age(age))])
            }
            Criterion::Sex(s) => (facts.sex == *s).then(Vec::new),
            Criterion::AgeUnknown => facts.age.is_none().then(Vec::new),
            Criterion::Condition(q) => self.condition(q),
            Criterion::Observation(q) => self.observation(q),
            Criterion::Medication(q) => self.medication(q),
            Criterion::Immunization(q) => self.immunization(q),
            Criterion::PlannedImmunization(q) => self.planned_immunization(q),
            Criterion::UnclassifiedConditions => self.unclassified_conditions(),
            Criterion::UnidentifiedMedications => self.unidentified_medications(),
            Criterion::RecordProblems => self.record_problems(),
            Criterion::NewStart => self.order.new_start.then(Vec::new),
            Criterion::Indication(vs) => self.indication(*vs),
            Criterion::OrderedDrug(set) => self.ordered_drug(*set),
            Criterion::Dose { mg, per_day } => self.dose(*mg, *per_day),
            Criterion::DoseRead => self.dose_read(),
            Criterion::DoseMissing => matches!(self.order.dose, crate::facts::DoseReading::Missing).then(Vec::new),
            Criterion::DoseUnreadable => self.dose_unreadable(),
            Criterion::OrderUnreadable => self.order_unreadable(),
            Criterion::WeeksOnDrug { more_than } => self.weeks_on_drug(*more_than),
            Criterion::PreviouslyOnDose { mg, per_day } => self.previously_on_dose(*mg, *per_day),
            Criterion::DaysOnDose { mg, per_day, after, within_months, more_than } => {
                self.days_on_dose((*mg, *per_day), *after, *within_months, *more_than)
            }
        }
    }

    /// Every part holds; the evidence of all of them.
    fn all(&self, list: &[Criterion]) -> Option<Vec<Evidence>> {
        let mut all = Vec::new();
        for c in list {
            all.extend(self.eval(c)?);
        }
        Some(all)
    }

    /// Some part holds; the evidence of every part that does.
    fn any(&self, list: &[Criterion]) -> Option<Vec<Evidence>> {
        let mut found: Option<Vec<Evidence>> = None;
        for c in list {
            if let Some(e) = self.eval(c) {
                found.get_or_insert_with(Vec::new).extend(e);
            }
        }
        found
    }

    fn since(&self, months: Option<u32>) -> Option<Date> {
        months.map(|m| months_before(self.facts.today, m))
    }

    /// Drop the items that `follow` finds something for, dated on or after them (e.g. a
    /// positive TB test with a TB treatment afterwards). Undated items are kept: unknown
    /// order of events is not read as "treated".
    fn drop_followed(&self, items: &mut Vec<(Option<Date>, Evidence)>, follow: Option<&Criterion>) {
        let Some(follow) = follow else { return };
        // A resolved condition counts from when it ended (e.g. latent TB resolved after treatment).
        let later: Vec<Date> = self.eval(follow).unwrap_or_default().into_iter().filter_map(|e| e.event_date).collect();
        items.retain(|(date, _)| match date {
            Some(d) => !later.iter().any(|l| l >= d),
            None => true,
        });
    }
}

fn within(date: Option<Date>, from: Option<Date>) -> bool {
    match from {
        None => true,
        Some(from) => date.is_some_and(|d| d >= from),
    }
}

/// The order is for this indication: its reason says so, or it names no reason and the
/// patient has an active condition in the value set (rules-catalog.md, AD and IBD context).
pub fn for_indication(facts: &PatientFacts, order: &ReviewedOrder, vs: ValueSetId) -> bool {
    if order.has_reason {
        return order.reasons.value_sets.contains(vs);
    }
    facts.conditions.iter().any(|c| c.active && c.concept.class.value_sets.contains(vs))
}
