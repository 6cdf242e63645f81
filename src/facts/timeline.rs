//! The record's course of a drug: when it was first ordered, its doses since, whether the
//! patient is on it now.

use super::*;
use crate::knowledge::MedicationStatus;
use crate::vocabulary::DrugId;

impl PatientFacts {
    /// The record's course of one drug (drafts of this session are not part of it).
    pub fn timeline(&self, drug: DrugId) -> TherapyTimeline {
        let mut orders: Vec<&MedicationFact> = self
            .medications
            .iter()
            .filter(|m| m.drug == Some(drug) && m.status != MedicationStatus::Draft && m.date.is_some())
            .collect();
        orders.sort_by_key(|m| m.date);
        let episodes = orders
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let start = m.date.unwrap_or(self.today);
                let next = orders.get(i + 1).and_then(|n| n.date);
                let end = m.until.or(next).unwrap_or(self.today).min(self.today).max(start);
                DoseEpisode { start, end, dose: m.dose.clone() }
            })
            .collect();
        TherapyTimeline { first_start: orders.first().and_then(|m| m.date), episodes }
    }

    /// Length in days of the course of a medication, from its first to its last recorded day
    /// (orders of one drug, or of one named medication, taken together).
    pub fn course_days(&self, m: &MedicationFact) -> i64 {
        let same = |o: &&MedicationFact| match (m.drug, o.drug) {
            (Some(a), Some(b)) => a == b,
            _ => o.concept.label == m.concept.label,
        };
        let course: Vec<&MedicationFact> =
            self.medications.iter().filter(|o| o.status != MedicationStatus::Draft).filter(same).collect();
        let start = course.iter().filter_map(|o| o.date).min();
        let end = course
            .iter()
            .filter_map(|o| match o.status {
                MedicationStatus::Active | MedicationStatus::OnHold => {
                    Some(o.until.unwrap_or(self.today).min(self.today))
                }
                _ => o.until.or(o.date),
            })
            .max();
        match (start, end) {
            (Some(s), Some(e)) if e > s => (e - s).whole_days(),
            _ => 0,
        }
    }

    /// The patient has an active (or paused) order or statement for this drug.
    pub fn on_drug(&self, drug: DrugId) -> bool {
        self.medications
            .iter()
            .any(|m| m.drug == Some(drug) && matches!(m.status, MedicationStatus::Active | MedicationStatus::OnHold))
    }
}
