//! The `observation` construct: the latest (or every) observation of a kind, its answer, its
//! value compared in the quantity's unit, and what followed it.

use super::{Evaluation, Evidence, EvidenceDetail, within};
use crate::facts::ObservedValue;
use crate::language::ast::{NumericTest, ObservationPick, ObservationQuery};
use crate::vocabulary::Date;

impl Evaluation<'_> {
    pub(super) fn observation(&self, q: &ObservationQuery) -> Option<Vec<Evidence>> {
        let facts = self.facts;
        let from = self.since(q.within_months);
        let mut candidates: Vec<_> = facts
            .observations
            .iter()
            .filter(|o| o.concept.class.value_sets.contains(q.value_set))
            .filter(|o| within(o.date, from))
            .collect();
        // Latest first; undated ones last (they cannot be "the latest"). Observations of the
        // latest day all count: a same-day pair (an induration and its reading) is one test.
        candidates.sort_by_key(|o| std::cmp::Reverse(o.date));
        if q.which == ObservationPick::Latest {
            let latest = candidates.first().map(|o| o.date);
            candidates.retain(|o| Some(o.date) == latest);
        }
        let mut items: Vec<(Option<Date>, Evidence)> = candidates
            .into_iter()
            .filter(|o| match q.answer_in {
                None => true,
                Some(vs) => o.answer.contains(vs),
            })
            .filter(|o| q.answer_not_in.is_none_or(|vs| !o.answer.contains(vs)))
            .filter(|o| !q.with_value || !matches!(o.value, ObservedValue::None))
            .filter(|o| self.numeric_holds(q.numeric, &o.value, o.date, facts.today))
            .filter(|o| !q.date_value_from_today || matches!(o.value, ObservedValue::Date(d) if d >= facts.today))
            .map(|o| {
                let value = match &o.value {
                    ObservedValue::Coded(c) => c.label.clone(),
                    ObservedValue::Quantity { value, unit } => {
                        format!("{value} {}", unit.as_deref().unwrap_or("")).trim().to_string()
                    }
                    ObservedValue::Text(t) => t.clone(),
                    ObservedValue::Flag(b) => b.to_string(),
                    ObservedValue::Date(d) => d.to_string(),
                    ObservedValue::None => String::new(),
                };
                (o.date, Evidence::new(o.concept.label.clone(), o.date, EvidenceDetail::Value(value)))
            })
            .collect();
        self.drop_followed(&mut items, q.unless_followed_by.as_deref());
        (!items.is_empty()).then(|| items.into_iter().map(|(_, e)| e).collect())
    }

    /// A numeric test on an observed value; a unit the quantity kind does not know is never
    /// converted by guesswork (the value then fails every comparison, and only
    /// `unit_not_understood` holds).
    fn numeric_holds(&self, test: Option<NumericTest>, value: &ObservedValue, date: Option<Date>, today: Date) -> bool {
        let Some(test) = test else { return true };
        match (test, value) {
            // Undated, or in a unit not understood: the duration cannot be counted on.
            (NumericTest::BelowToday { quantity, below }, ObservedValue::Quantity { value, unit }) => {
                match (self.knowledge.quantity(quantity).convert(*value, unit.as_deref()), date) {
                    (Some(weeks), Some(on)) => weeks + (today - on).whole_days() as f64 / 7.0 < below,
                    _ => false,
                }
            }
            (NumericTest::BelowToday { .. }, _) => false,
            (NumericTest::Compare { quantity, below, at_least }, ObservedValue::Quantity { value, unit }) => {
                match self.knowledge.quantity(quantity).convert(*value, unit.as_deref()) {
                    Some(v) => below.is_none_or(|b| v < b) && at_least.is_none_or(|a| v >= a),
                    None => false,
                }
            }
            (NumericTest::Compare { .. }, _) => false,
            (NumericTest::UnitNotUnderstood(quantity), ObservedValue::Quantity { value, unit }) => {
                self.knowledge.quantity(quantity).convert(*value, unit.as_deref()).is_none()
            }
            (NumericTest::UnitNotUnderstood(_), ObservedValue::None) => false,
            (NumericTest::UnitNotUnderstood(_), _) => true,
        }
    }
}
