//! The constructs about the patient's conditions and record: `condition`, `unclassified_conditions`,
//! `unidentified_medications`, `record_problems`.

use super::{Evaluation, Evidence, EvidenceDetail, within};
use crate::language::ast::{ConditionQuery, ConditionStatusFilter};
use crate::vocabulary::{ClinicalStatus, Date};

impl Evaluation<'_> {
    pub(super) fn condition(&self, q: &ConditionQuery) -> Option<Vec<Evidence>> {
        let facts = self.facts;
        let from = self.since(q.within_months);
        let mut items: Vec<(Option<Date>, Evidence)> = facts
            .conditions
            .iter()
            .filter(|c| c.concept.class.value_sets.contains(q.value_set))
            .filter(|c| match q.status {
                ConditionStatusFilter::Any => true,
                ConditionStatusFilter::Active => c.active,
                ConditionStatusFilter::History => !c.active,
                ConditionStatusFilter::Resolved => c.status == ClinicalStatus::Resolved,
                ConditionStatusFilter::NotResolved => c.status != ClinicalStatus::Resolved,
            })
            .filter(|c| q.severity_in.is_none_or(|s| c.severity.value_sets.contains(s)))
            .filter(|c| within(c.date, from))
            .map(|c| {
                (
                    c.date,
                    Evidence {
                        label: c.concept.label.clone(),
                        date: c.date,
                        event_date: c.ended.or(c.onset),
                        detail: EvidenceDetail::ConditionStatus(c.status.clone()),
                        by_text: c.by_text.clone(),
                    },
                )
            })
            .collect();
        self.drop_followed(&mut items, q.unless_followed_by.as_deref());
        (episodes(&items) >= q.min_count as usize).then(|| items.into_iter().map(|(_, e)| e).collect())
    }

    pub(super) fn unclassified_conditions(&self) -> Option<Vec<Evidence>> {
        let list = &self.facts.unclassified;
        (!list.is_empty()).then(|| {
            list.iter()
                .map(|u| Evidence::new(u.label.clone(), u.date, EvidenceDetail::Unclassified(u.why.clone())))
                .collect()
        })
    }

    pub(super) fn unidentified_medications(&self) -> Option<Vec<Evidence>> {
        let list = &self.facts.unidentified_medications;
        (!list.is_empty()).then(|| {
            list.iter()
                .map(|u| Evidence::new(u.label.clone(), u.date, EvidenceDetail::Unclassified(u.why.clone())))
                .collect()
        })
    }

    pub(super) fn record_problems(&self) -> Option<Vec<Evidence>> {
        let list = &self.facts.record_problems;
        (!list.is_empty()).then(|| list.iter().map(|p| Evidence::new(p.clone(), None, EvidenceDetail::None)).collect())
    }
}

/// How many separate episodes some condition records are: records of the same day are one
/// episode (an ICD-10 and a SNOMED CT entry for the same zoster); undated records count apart,
/// since nothing shows they are the same.
fn episodes(items: &[(Option<Date>, Evidence)]) -> usize {
    let mut dates: Vec<Date> = items.iter().filter_map(|(d, _)| *d).collect();
    dates.sort_unstable();
    dates.dedup();
    dates.len() + items.iter().filter(|(d, _)| d.is_none()).count()
}
