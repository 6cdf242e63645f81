//! From FHIR codings and texts to what they mean in this knowledge base, and from FHIR dates to
//! calendar dates.

use fhir_sdk::r4b::types::CodeableConcept;
use fhir_sdk::{Date as FhirDate, DateTime as FhirDateTime};
use time::{Month, OffsetDateTime, UtcOffset};

use crate::knowledge::{Classification, Knowledge, Placement};
use crate::vocabulary::{Date, DrugId};

/// A coded (or only named) clinical concept as this service understands it.
#[derive(Debug, Clone, Default)]
pub struct Concept {
    /// What a prescriber reads: the text, else a coding's display, else a code.
    pub label: String,
    pub class: Classification,
    /// Something tells what it is: a name (text or display), or a code the knowledge can place.
    /// A medication with neither is not read as "nothing" (it may be an immunosuppressant).
    pub identifiable: bool,
}

/// How an ordered drug was recognised (the card says so when it was by text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchedBy {
    Code { system: String, code: String },
    Text(String),
}

/// Owned view of one coding, shared by fhir-sdk types and raw JSON.
pub struct CodingRef<'a> {
    pub system: Option<&'a str>,
    pub code: Option<&'a str>,
    pub display: Option<&'a str>,
}

pub fn codings(cc: &CodeableConcept) -> impl Iterator<Item = CodingRef<'_>> + Clone {
    cc.coding.iter().flatten().map(|c| CodingRef {
        system: c.system.as_deref(),
        code: c.code.as_deref(),
        display: c.display.as_deref(),
    })
}

/// Classify codings (all systems) and build a label; text is not used for meaning here.
pub fn concept<'a>(knowledge: &Knowledge, codings: impl Iterator<Item = CodingRef<'a>>, text: Option<&str>) -> Concept {
    let mut class = Classification::default();
    let mut label = text.filter(|t| !t.trim().is_empty()).map(str::to_string);
    let mut first_code = None;
    let mut placed = false;
    for c in codings {
        if let (Some(system), Some(code)) = (c.system, c.code) {
            class.merge(&knowledge.codes.classify(system, code));
            placed |= knowledge.codes.placement(system, code) != Placement::Unknown;
            if first_code.is_none() {
                first_code = Some(code.to_string());
            }
        }
        if label.is_none() {
            label = c.display.filter(|d| !d.trim().is_empty()).map(str::to_string);
        }
    }
    let identifiable = placed || label.is_some();
    Concept { label: label.or(first_code).unwrap_or_else(|| "(no name)".into()), class, identifiable }
}

pub fn concept_of(knowledge: &Knowledge, cc: &CodeableConcept) -> Concept {
    concept(knowledge, codings(cc), cc.text.as_deref())
}

/// Like `concept`, but free text also counts (medications and vaccines, where names are common
/// and a drug named only in text must still be recognised).
pub fn medication_concept<'a>(
    knowledge: &Knowledge,
    codings: impl Iterator<Item = CodingRef<'a>> + Clone,
    text: Option<&str>,
) -> (Concept, Option<(DrugId, MatchedBy)>) {
    let mut concept = concept(knowledge, codings.clone(), text);
    // The drug: codes in the recognition order (ATC, RxNorm, SNOMED CT), then the text.
    let mut best: Option<(u8, DrugId, MatchedBy)> = None;
    for c in codings.clone() {
        let (Some(system), Some(code)) = (c.system, c.code) else {
            continue;
        };
        let Some(priority) = knowledge.codes.drug_priority(system) else {
            continue;
        };
        if best.as_ref().is_some_and(|b| b.0 <= priority) {
            continue;
        }
        if let Some(drug) = knowledge.codes.classify(system, code).drug {
            best = Some((priority, drug, MatchedBy::Code { system: system.into(), code: code.into() }));
        }
    }
    let mut drug = best.map(|(_, d, m)| (d, m));
    // Free text: the concept's text and the codings' displays. Where an ATC code (or an RxNorm
    // code the knowledge lists) says what the product is, its name adds no class: "ciclosporine
    // oogdruppels" coded S01XA18 is not systemic ciclosporin. An RxNorm product code the value
    // sets do not list ("azathioprine 50 MG Oral Tablet") says nothing: its name is read.
    let coded = codings.clone().any(|c| match (c.system, c.code) {
        (Some(system), Some(code)) => knowledge.codes.code_outranks_text(system, code),
        _ => false,
    });
    // With a code that outranks the text and a drug named by a code, the words have nothing to
    // add: they are not read (a third of this function's time, issue 16).
    let texts =
        if coded && drug.is_some() { None } else { Some(text.into_iter().chain(codings.filter_map(|c| c.display))) };
    for t in texts.into_iter().flatten() {
        let by_text = knowledge.codes.classify_text(t);
        if !coded {
            concept.class.value_sets.union(&by_text.value_sets);
        }
        if drug.is_none()
            && let Some(d) = by_text.drug
        {
            drug = Some((d, MatchedBy::Text(t.to_string())));
        }
    }
    if let Some((d, _)) = &drug {
        concept.class.drug = Some(*d);
        // One of the seven, however recognised, is in every value set that lists it.
        concept.class.value_sets.union(&knowledge.codes.value_sets_of_drug(*d));
    }
    // What the words added belongs to the value sets that include it too.
    concept.class.value_sets = knowledge.codes.closed(concept.class.value_sets);
    (concept, drug)
}

/// The calendar day of a FHIR date; a partial date counts from its first day.
pub fn day(d: &FhirDate) -> Option<Date> {
    match d {
        FhirDate::Date(d) => Some(*d),
        FhirDate::YearMonth(y, m) => Date::from_calendar_date(*y, *m, 1).ok(),
        FhirDate::Year(y) => Date::from_calendar_date(*y, Month::January, 1).ok(),
    }
}

pub fn day_of(dt: &FhirDateTime) -> Option<Date> {
    match dt {
        FhirDateTime::Date(d) => day(d),
        FhirDateTime::DateTime(i) => Some(day_of_instant(&i.0)),
    }
}

/// The UTC day of an instant; at the edge of the calendar (9999-12-31T23:00-05:00 is in year
/// 10000 in UTC) the day as written, never a panic.
pub fn day_of_instant(i: &OffsetDateTime) -> Date {
    i.checked_to_offset(UtcOffset::UTC).map_or(i.date(), |utc| utc.date())
}

/// Whole years from `born` to `today`.
pub fn age_on(born: Date, today: Date) -> Option<u32> {
    let mut years = today.year() - born.year();
    if (today.month() as u8, today.day()) < (born.month() as u8, born.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

/// The same day `months` calendar months earlier (clamped to the month's end).
pub fn months_before(d: Date, months: u32) -> Date {
    let total = d.year() * 12 + (d.month() as i32 - 1) - months as i32;
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
    let month = Month::try_from(month0 as u8 + 1).unwrap_or(Month::January);
    let last = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, d.day().min(last)).unwrap_or(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn age_turns_on_the_birthday() {
        assert_eq!(age_on(date!(1961 - 11 - 28), date!(2026 - 11 - 28)), Some(65));
        assert_eq!(age_on(date!(1961 - 11 - 29), date!(2026 - 11 - 28)), Some(64));
    }

    #[test]
    fn an_instant_at_the_end_of_the_calendar_has_a_day() {
        let edge = time::macros::datetime!(9999-12-31 23:00 -5);
        assert_eq!(day_of_instant(&edge), date!(9999 - 12 - 31));
        assert_eq!(day_of_instant(&time::macros::datetime!(2026-11-28 23:30 -2)), date!(2026 - 11 - 29));
    }

    #[test]
    fn months_back_clamp_to_month_end() {
        assert_eq!(months_before(date!(2026 - 03 - 31), 1), date!(2026 - 02 - 28));
        assert_eq!(months_before(date!(2026 - 11 - 28), 12), date!(2025 - 11 - 28));
        assert_eq!(months_before(date!(2026 - 01 - 15), 3), date!(2025 - 10 - 15));
    }
}
