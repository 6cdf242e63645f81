//! The constructs about the order under review: `indication`, `new_start`, `ordered_drug`,
//! `dose`, `dose_read`, `dose_missing`, `dose_unreadable`, `order_unreadable`, and its history:
//! `weeks_on_drug`, `previously_on_dose`, `days_on_dose`.

use super::{Evaluation, Evidence, EvidenceDetail, for_indication};
use crate::facts::{DoseReading, months_before};
use crate::knowledge::ValueSetId;
use crate::vocabulary::DrugSet;

impl Evaluation<'_> {
    /// The indication is context, not a finding: it gives no evidence line.
    pub(super) fn indication(&self, vs: ValueSetId) -> Option<Vec<Evidence>> {
        for_indication(self.facts, self.order, vs).then(Vec::new)
    }

    pub(super) fn ordered_drug(&self, set: DrugSet) -> Option<Vec<Evidence>> {
        self.order.drug().is_some_and(|d| set.contains(d)).then(Vec::new)
    }

    pub(super) fn dose(&self, mg: f64, per_day: f64) -> Option<Vec<Evidence>> {
        self.order
            .dose
            .matches(mg, per_day)
            .then(|| vec![Evidence::new(String::new(), None, EvidenceDetail::Dose { mg, per_day })])
    }

    pub(super) fn dose_read(&self) -> Option<Vec<Evidence>> {
        match &self.order.dose {
            DoseReading::Read { mg, per_day } => {
                Some(vec![Evidence::new(String::new(), None, EvidenceDetail::Dose { mg: *mg, per_day: *per_day })])
            }
            _ => None,
        }
    }

    pub(super) fn dose_unreadable(&self) -> Option<Vec<Evidence>> {
        match &self.order.dose {
            DoseReading::Unreadable(text) => {
                Some(vec![Evidence::new(format!("\"{text}\""), None, EvidenceDetail::None)])
            }
            _ => None,
        }
    }

    pub(super) fn order_unreadable(&self) -> Option<Vec<Evidence>> {
        self.order.unreadable.as_ref().map(|e| {
            vec![Evidence::new(
                format!("{}: {}", self.order.reference, e.lines().next().unwrap_or(e)),
                None,
                EvidenceDetail::None,
            )]
        })
    }

    pub(super) fn weeks_on_drug(&self, more_than: u32) -> Option<Vec<Evidence>> {
        let drug = self.order.drug()?;
        let first = self.facts.timeline(drug).first_start?;
        let weeks = (self.facts.today - first).whole_weeks();
        (weeks > i64::from(more_than))
            .then(|| vec![Evidence::new(String::new(), Some(first), EvidenceDetail::FirstOrdered { weeks })])
    }

    pub(super) fn previously_on_dose(&self, mg: f64, per_day: f64) -> Option<Vec<Evidence>> {
        let drug = self.order.drug()?;
        let timeline = self.facts.timeline(drug);
        let earlier = timeline.episodes.iter().find(|e| e.dose.matches(mg, per_day))?;
        Some(vec![Evidence::new(String::new(), Some(earlier.start), EvidenceDetail::EarlierOrder { mg, per_day })])
    }

    /// Days at a dose in the last `within_months`; with `after`, only once the patient was first
    /// on that other dose (a flare follows maintenance).
    pub(super) fn days_on_dose(
        &self,
        (mg, per_day): (f64, f64),
        after: Option<(f64, f64)>,
        within_months: u32,
        more_than: u32,
    ) -> Option<Vec<Evidence>> {
        let drug = self.order.drug()?;
        let timeline = self.facts.timeline(drug);
        let from = months_before(self.facts.today, within_months);
        let since = match after {
            Some((a_mg, a_per_day)) => timeline.episodes.iter().find(|e| e.dose.matches(a_mg, a_per_day))?.start,
            None => from,
        };
        let days: i64 = timeline
            .episodes
            .iter()
            .filter(|e| e.dose.matches(mg, per_day) && e.start >= since)
            .map(|e| (e.end - e.start.max(from)).whole_days().max(0))
            .sum();
        (days > i64::from(more_than)).then(|| {
            vec![Evidence::new(
                String::new(),
                None,
                EvidenceDetail::DaysOnDose { mg, per_day, days, months: within_months },
            )]
        })
    }
}
