//! What the interpreter returns when a criterion holds: the facts that made it hold, in a form
//! the cards can show (they translate the statuses and values).

use crate::vocabulary::{ClinicalStatus, Date, MedicationStatus};

/// One fact that made a reason hold, as shown to the prescriber.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub label: String,
    pub date: Option<Date>,
    /// The date by which "did something follow it" is judged: a condition's end, else its
    /// onset (never the day it was typed in); other facts' own date.
    pub event_date: Option<Date>,
    pub detail: EvidenceDetail,
    /// The fact was recognised from its words, not its codes: the words that matched.
    pub by_text: Option<String>,
}

impl Evidence {
    pub fn new(label: String, date: Option<Date>, detail: EvidenceDetail) -> Self {
        Evidence { label, date, event_date: date, detail, by_text: None }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum EvidenceDetail {
    None,
    /// A condition's clinical status (`active`, `resolved`, …).
    ConditionStatus(ClinicalStatus),
    /// A medication's status (`active`, `draft`, …).
    MedicationStatus(MedicationStatus),
    /// An observation's value as recorded.
    Value(String),
    Age(u32),
    /// A vaccine that is planned (ordered or due) rather than given.
    Planned,
    /// A condition that could not be classified, and why.
    Unclassified(crate::facts::UnclassifiedWhy),
    /// The ordered dose: mg per administration, administrations per day.
    Dose {
        mg: f64,
        per_day: f64,
    },
    /// The drug was first ordered this many weeks ago (the evidence date is that day).
    FirstOrdered {
        weeks: i64,
    },
    /// An earlier order at this dose (the evidence date is its start).
    EarlierOrder {
        mg: f64,
        per_day: f64,
    },
    /// Days at this dose within the last `months` months.
    DaysOnDose {
        mg: f64,
        per_day: f64,
        days: i64,
        months: u32,
    },
}
