//! The rule-language compiler: checks a criterion as written (`syntax`) against the knowledge
//! it names — value sets, drugs, quantity kinds, definitions — and turns it into the indexed
//! `ast::Criterion` the interpreter runs. Errors are sentences a knowledge author can act on.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::ast::*;
use super::syntax::*;
use crate::knowledge::spec::DefinitionSpec;
use crate::knowledge::{Drug, QuantityId, ValueSetId};
use crate::vocabulary::DrugSet;

pub fn collect_observation_sets(c: &Criterion, out: &mut BTreeSet<ValueSetId>) {
    match c {
        Criterion::All(list) | Criterion::Any(list) => list.iter().for_each(|c| collect_observation_sets(c, out)),
        Criterion::Not(inner) => collect_observation_sets(inner, out),
        Criterion::Observation(q) => {
            out.insert(q.value_set);
            if let Some(u) = &q.unless_followed_by {
                collect_observation_sets(u, out);
            }
        }
        Criterion::Condition(q) => {
            if let Some(u) = &q.unless_followed_by {
                collect_observation_sets(u, out);
            }
        }
        _ => {}
    }
}

/// What a criterion may name: the knowledge's drugs, value sets, definitions and quantity kinds.
pub struct CompileContext<'a> {
    pub drugs: &'a [Drug],
    pub vs_ids: &'a HashMap<String, ValueSetId>,
    pub definitions: &'a BTreeMap<String, DefinitionSpec>,
    pub quantities: &'a HashMap<String, QuantityId>,
}

impl CompileContext<'_> {
    fn value_set(&self, name: &str) -> Result<ValueSetId, String> {
        self.vs_ids.get(name).copied().ok_or_else(|| format!("value set `{name}` is referenced but not defined"))
    }

    fn window(months: Option<u32>) -> Result<Option<u32>, String> {
        match months {
            Some(0) => Err("within_months must be at least 1".into()),
            m => Ok(m),
        }
    }

    fn numeric(&self, o: &ObservationSpec) -> Result<Option<NumericTest>, String> {
        let bounds = o.below.is_some() || o.at_least.is_some();
        let Some(name) = &o.quantity else {
            if bounds || o.unit_not_understood || o.below_today.is_some() {
                return Err("below / at_least / below_today / unit_not_understood need a `quantity`".into());
            }
            return Ok(None);
        };
        let quantity =
            *self.quantities.get(name).ok_or_else(|| format!("quantity `{name}` is not defined in units.toml"))?;
        match (bounds, o.below_today, o.unit_not_understood) {
            (true, None, false) => Ok(Some(NumericTest::Compare { quantity, below: o.below, at_least: o.at_least })),
            (false, Some(below), false) => Ok(Some(NumericTest::BelowToday { quantity, below })),
            (false, None, true) => Ok(Some(NumericTest::UnitNotUnderstood(quantity))),
            (false, None, false) => {
                Err(format!("quantity `{name}` without below / at_least / below_today / unit_not_understood"))
            }
            _ => Err("give one of: bounds, below_today, unit_not_understood".into()),
        }
    }

    fn followed_by(
        &self,
        spec: &Option<Box<CriterionSpec>>,
        stack: &mut Vec<String>,
    ) -> Result<Option<Box<Criterion>>, String> {
        let Some(spec) = spec else { return Ok(None) };
        let compiled = self.compile(spec, stack)?;
        if !is_dated(&compiled) {
            return Err(
                "unless_followed_by needs a dated fact (condition, observation, medication, immunization)".into()
            );
        }
        Ok(Some(Box::new(compiled)))
    }

    /// Compile one criterion. `stack` holds the definitions being expanded (to refuse cycles).
    pub fn compile(&self, spec: &CriterionSpec, stack: &mut Vec<String>) -> Result<Criterion, String> {
        Ok(match spec {
            CriterionSpec::All(list) | CriterionSpec::Any(list) => {
                if list.is_empty() {
                    return Err("`all`/`any` with an empty list".into());
                }
                let compiled = list.iter().map(|c| self.compile(c, stack)).collect::<Result<Vec<_>, _>>()?;
                if matches!(spec, CriterionSpec::All(_)) { Criterion::All(compiled) } else { Criterion::Any(compiled) }
            }
            CriterionSpec::Not(inner) => Criterion::Not(Box::new(self.compile(inner, stack)?)),
            CriterionSpec::Use(name) => {
                if stack.contains(name) {
                    return Err(format!("definition `{name}` refers to itself ({} → {name})", stack.join(" → ")));
                }
                let def =
                    self.definitions.get(name).ok_or_else(|| format!("definition `{name}` is used but not defined"))?;
                stack.push(name.clone());
                let compiled = self.compile(&def.when, stack);
                stack.pop();
                compiled.map_err(|e| format!("in definition `{name}`: {e}"))?
            }
            CriterionSpec::Age(a) => {
                if a.at_least.is_none() && a.below.is_none() {
                    return Err("age needs at_least and/or below".into());
                }
                Criterion::Age { at_least: a.at_least, below: a.below }
            }
            CriterionSpec::Sex(s) => Criterion::Sex(*s),
            CriterionSpec::Condition(c) => Criterion::Condition(ConditionQuery {
                value_set: self.value_set(&c.value_set)?,
                status: c.status,
                severity_in: c.severity_in.as_deref().map(|s| self.value_set(s)).transpose()?,
                within_months: Self::window(c.within_months)?,
                min_count: c.min_count.unwrap_or(1).max(1),
                unless_followed_by: self.followed_by(&c.unless_followed_by, stack)?,
            }),
            CriterionSpec::Observation(o) => Criterion::Observation(ObservationQuery {
                value_set: self.value_set(&o.value_set)?,
                which: o.which,
                within_months: Self::window(o.within_months)?,
                answer_in: o.answer_in.as_deref().map(|s| self.value_set(s)).transpose()?,
                answer_not_in: o.answer_not_in.as_deref().map(|s| self.value_set(s)).transpose()?,
                with_value: o.with_value,
                numeric: self.numeric(o)?,
                unless_followed_by: self.followed_by(&o.unless_followed_by, stack)?,
                date_value_from_today: o.date_value_from_today,
            }),
            CriterionSpec::Medication(m) => {
                if m.status.is_empty() {
                    return Err("medication needs at least one status".into());
                }
                let statuses = m.status.clone();
                Criterion::Medication(MedicationQuery {
                    value_set: self.value_set(&m.value_set)?,
                    not_in: m.not_in.as_ref().map(|v| self.value_set(v)).transpose()?,
                    statuses,
                    min_days: m.min_days,
                })
            }
            CriterionSpec::Immunization(i) => Criterion::Immunization(ImmunizationQuery {
                value_set: self.value_set(&i.value_set)?,
                within_days: i.within_days,
            }),
            CriterionSpec::PlannedImmunization(i) => Criterion::PlannedImmunization(ImmunizationQuery {
                value_set: self.value_set(&i.value_set)?,
                within_days: i.within_days,
            }),
            CriterionSpec::AgeUnknown(true) => Criterion::AgeUnknown,
            CriterionSpec::RecordProblems(true) => Criterion::RecordProblems,
            CriterionSpec::UnclassifiedConditions(true) => Criterion::UnclassifiedConditions,
            CriterionSpec::UnidentifiedMedications(true) => Criterion::UnidentifiedMedications,
            CriterionSpec::OrderUnreadable(true) => Criterion::OrderUnreadable,
            CriterionSpec::NewStart(true) => Criterion::NewStart,
            CriterionSpec::DoseUnreadable(true) => Criterion::DoseUnreadable,
            CriterionSpec::DoseMissing(true) => Criterion::DoseMissing,
            CriterionSpec::DoseRead(true) => Criterion::DoseRead,
            CriterionSpec::WeeksOnDrug(w) => Criterion::WeeksOnDrug { more_than: w.more_than },
            CriterionSpec::PreviouslyOnDose(d) => Criterion::PreviouslyOnDose { mg: d.mg, per_day: d.per_day },
            CriterionSpec::DaysOnDose(d) => {
                if d.within_months == 0 {
                    return Err("days_on_dose needs within_months of at least 1".into());
                }
                Criterion::DaysOnDose {
                    mg: d.mg,
                    per_day: d.per_day,
                    after: d.after.as_ref().map(|a| (a.mg, a.per_day)),
                    within_months: d.within_months,
                    more_than: d.more_than,
                }
            }
            CriterionSpec::OrderedDrug(names) => {
                let mut set = DrugSet::default();
                for name in names {
                    let members: Vec<&Drug> =
                        self.drugs.iter().filter(|d| &d.key == name || &d.class == name).collect();
                    if members.is_empty() {
                        return Err(format!("ordered_drug `{name}` is neither a drug nor a class"));
                    }
                    members.iter().for_each(|d| set.insert(d.id));
                }
                Criterion::OrderedDrug(set)
            }
            CriterionSpec::Indication(vs) => Criterion::Indication(self.value_set(vs)?),
            CriterionSpec::Dose(d) => {
                if !(d.mg > 0.0 && d.per_day > 0.0) {
                    return Err("dose needs mg and per_day above 0".into());
                }
                Criterion::Dose { mg: d.mg, per_day: d.per_day }
            }
            CriterionSpec::AgeUnknown(false)
            | CriterionSpec::RecordProblems(false)
            | CriterionSpec::UnclassifiedConditions(false)
            | CriterionSpec::UnidentifiedMedications(false)
            | CriterionSpec::OrderUnreadable(false)
            | CriterionSpec::NewStart(false)
            | CriterionSpec::DoseUnreadable(false)
            | CriterionSpec::DoseMissing(false)
            | CriterionSpec::DoseRead(false) => {
                return Err("write `= true`, or use `not`".into());
            }
        })
    }
}

pub fn is_dated(c: &Criterion) -> bool {
    match c {
        Criterion::Condition(_) | Criterion::Observation(_) | Criterion::Medication(_) | Criterion::Immunization(_) => {
            true
        }
        Criterion::Any(list) => list.iter().all(is_dated),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
