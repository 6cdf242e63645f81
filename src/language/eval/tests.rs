//! The interpreter, construct by construct: a compiled criterion × a few hand-made facts →
//! whether it holds and with what evidence. These pin the semantics the rules rely on:
//! "latest" is every observation of the latest day, a later event voids an earlier one only when
//! dated on or after it, same-day records are one episode, an unknown unit is never converted.

use std::sync::OnceLock;

use time::macros::date;

use super::{Evaluation, Evidence, EvidenceDetail};
use crate::facts::{
    Concept, ConditionFact, DoseReading, MedicationFact, ObservationFact, ObservedValue, OrderSubject, PatientFacts,
    ReviewedOrder,
};
use crate::knowledge::{Classification, Knowledge, QuantityId, ValueSetId, ValueSetMask};
use crate::language::ast::*;
use crate::vocabulary::{ClinicalStatus, Date, DrugId, MedicationStatus, Sex};

const TODAY: Date = date!(2026 - 11 - 28);
const A: ValueSetId = ValueSetId(0);
const B: ValueSetId = ValueSetId(1);

fn knowledge() -> &'static Knowledge {
    static K: OnceLock<Knowledge> = OnceLock::new();
    K.get_or_init(|| {
        Knowledge::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cds-services")).expect("loads")
    })
}

fn quantity(key: &str) -> QuantityId {
    QuantityId(knowledge().quantities.iter().position(|q| q.key == key).expect("quantity") as u8)
}

fn concept(label: &str, sets: &[ValueSetId]) -> Concept {
    let mut value_sets = ValueSetMask::default();
    sets.iter().for_each(|s| value_sets.insert(*s));
    Concept { label: label.into(), class: Classification { value_sets, drug: None }, identifiable: true }
}

fn facts() -> PatientFacts {
    PatientFacts {
        today: TODAY,
        age: Some(70),
        sex: Sex::Female,
        conditions: Vec::new(),
        observations: Vec::new(),
        medications: Vec::new(),
        immunizations: Vec::new(),
        planned_immunizations: Vec::new(),
        record_problems: Vec::new(),
        unclassified: Vec::new(),
        unidentified_medications: Vec::new(),
    }
}

fn condition(label: &str, status: ClinicalStatus, onset: Date, ended: Option<Date>) -> ConditionFact {
    ConditionFact {
        concept: concept(label, &[A]),
        by_text: None,
        active: status.is_active(),
        status,
        date: Some(onset),
        onset: Some(onset),
        ended,
        severity: Classification::default(),
    }
}

fn observation(date: Date, value: ObservedValue, answer: &[ValueSetId]) -> ObservationFact {
    let mut mask = ValueSetMask::default();
    answer.iter().for_each(|s| mask.insert(*s));
    ObservationFact { concept: concept("test", &[A]), date: Some(date), value, answer: mask }
}

fn medication(label: &str, status: MedicationStatus, date: Date, sets: &[ValueSetId]) -> MedicationFact {
    MedicationFact {
        concept: concept(label, sets),
        drug: None,
        status,
        date: Some(date),
        reference: None,
        dose: DoseReading::Missing,
        until: None,
    }
}

fn order() -> ReviewedOrder {
    ReviewedOrder {
        reference: "MedicationRequest/draft".into(),
        subject: OrderSubject::Drug { drug: DrugId(0), matched_by: crate::facts::MatchedBy::Text(String::new()) },
        new_start: true,
        reasons: Classification::default(),
        has_reason: false,
        unreadable: None,
        dose: DoseReading::Read { mg: 10.0, per_day: 2.0 },
        deletable: true,
    }
}

fn eval(c: &Criterion, f: &PatientFacts) -> Option<Vec<Evidence>> {
    Evaluation { knowledge: knowledge(), facts: f, order: &order() }.eval(c)
}

fn observation_query(which: ObservationPick) -> ObservationQuery {
    ObservationQuery {
        value_set: A,
        which,
        within_months: None,
        answer_in: Some(B),
        answer_not_in: None,
        with_value: false,
        numeric: None,
        unless_followed_by: None,
        date_value_from_today: false,
    }
}

#[test]
fn combinators_collect_the_evidence_of_what_holds() {
    let f = facts();
    let age = Criterion::Age { at_least: Some(65), below: None };
    let male = Criterion::Sex(Sex::Male);
    assert_eq!(eval(&Criterion::All(vec![age.clone(), male.clone()]), &f), None);
    let any = eval(&Criterion::Any(vec![age.clone(), male.clone()]), &f).expect("age holds");
    assert_eq!(any.len(), 1);
    assert_eq!(any[0].detail, EvidenceDetail::Age(70));
    assert_eq!(eval(&Criterion::Not(Box::new(male)), &f), Some(vec![]), "not holds without evidence");
    assert_eq!(eval(&Criterion::Not(Box::new(age)), &f), None);
}

#[test]
fn latest_means_every_observation_of_the_latest_day() {
    let mut f = facts();
    // A positive test, then a negative one later: "latest" sees only the negative.
    f.observations.push(observation(date!(2026 - 03 - 01), ObservedValue::None, &[B]));
    f.observations.push(observation(date!(2026 - 09 - 01), ObservedValue::None, &[]));
    assert_eq!(eval(&Criterion::Observation(observation_query(ObservationPick::Latest)), &f), None);
    let any =
        eval(&Criterion::Observation(observation_query(ObservationPick::Any)), &f).expect("any sees the positive");
    assert_eq!(any[0].date, Some(date!(2026 - 03 - 01)));
    // Two of the latest day (an induration and its reading) are one test: either may answer.
    f.observations.push(observation(date!(2026 - 09 - 01), ObservedValue::None, &[B]));
    assert!(eval(&Criterion::Observation(observation_query(ObservationPick::Latest)), &f).is_some());
}

#[test]
fn a_later_event_voids_an_earlier_fact_only_when_dated_on_or_after_it() {
    let treated = Criterion::Medication(MedicationQuery {
        value_set: B,
        not_in: None,
        statuses: vec![MedicationStatus::Completed],
        min_days: None,
    });
    let mut query = observation_query(ObservationPick::Any);
    query.unless_followed_by = Some(Box::new(treated));
    let positive = Criterion::Observation(query);
    let mut f = facts();
    f.observations.push(observation(date!(2026 - 05 - 01), ObservedValue::None, &[B]));
    f.medications.push(medication("isoniazid", MedicationStatus::Completed, date!(2026 - 01 - 01), &[B]));
    assert!(eval(&positive, &f).is_some(), "a treatment before the test does not treat it");
    f.medications.push(medication("isoniazid", MedicationStatus::Completed, date!(2026 - 06 - 01), &[B]));
    assert_eq!(eval(&positive, &f), None, "a treatment after it does");
}

#[test]
fn same_day_records_are_one_episode_and_a_resolved_condition_counts_from_its_end() {
    let twice = |status| {
        Criterion::Condition(ConditionQuery {
            value_set: A,
            status,
            severity_in: None,
            within_months: None,
            min_count: 2,
            unless_followed_by: None,
        })
    };
    let mut f = facts();
    f.conditions.push(condition("zoster (ICD-10)", ClinicalStatus::Resolved, date!(2025 - 02 - 01), None));
    f.conditions.push(condition("zoster (SNOMED CT)", ClinicalStatus::Resolved, date!(2025 - 02 - 01), None));
    assert_eq!(eval(&twice(ConditionStatusFilter::Any), &f), None, "one day, one episode");
    f.conditions.push(condition("zoster", ClinicalStatus::Active, date!(2026 - 10 - 01), None));
    assert_eq!(eval(&twice(ConditionStatusFilter::Any), &f).map(|e| e.len()), Some(3));
    assert_eq!(eval(&twice(ConditionStatusFilter::Active), &f), None);
    let evidence = eval(&twice(ConditionStatusFilter::Any), &f).unwrap();
    assert_eq!(evidence[0].detail, EvidenceDetail::ConditionStatus(ClinicalStatus::Resolved));
}

#[test]
fn a_value_in_a_unit_the_quantity_does_not_know_is_never_compared() {
    let egfr = quantity("egfr");
    let mut f = facts();
    f.observations.push(observation(
        date!(2026 - 11 - 01),
        ObservedValue::Quantity { value: 22.0, unit: Some("furlongs".into()) },
        &[B],
    ));
    let mut below = observation_query(ObservationPick::Latest);
    below.answer_in = None;
    below.numeric = Some(NumericTest::Compare { quantity: egfr, below: Some(30.0), at_least: None });
    assert_eq!(eval(&Criterion::Observation(below.clone()), &f), None);
    below.numeric = Some(NumericTest::UnitNotUnderstood(egfr));
    assert!(eval(&Criterion::Observation(below), &f).is_some(), "the unit is named instead");
}

#[test]
fn a_gestation_counted_on_to_today() {
    let weeks = quantity("gestational-duration");
    let pregnant = |f: &PatientFacts| {
        let mut q = observation_query(ObservationPick::Latest);
        q.answer_in = None;
        q.numeric = Some(NumericTest::BelowToday { quantity: weeks, below: 43.0 });
        eval(&Criterion::Observation(q), f).is_some()
    };
    let mut f = facts();
    // 24 weeks ten weeks ago: 34 weeks today.
    f.observations.push(observation(
        TODAY - time::Duration::weeks(10),
        ObservedValue::Quantity { value: 24.0, unit: Some("{w}".into()) },
        &[],
    ));
    assert!(pregnant(&f));
    // 30 weeks twenty weeks ago: 50 weeks, over.
    f.observations[0] = observation(
        TODAY - time::Duration::weeks(20),
        ObservedValue::Quantity { value: 30.0, unit: Some("wk".into()) },
        &[],
    );
    assert!(!pregnant(&f));
}

#[test]
fn the_order_itself_and_the_same_drug_are_no_combination() {
    let other = Criterion::Medication(MedicationQuery {
        value_set: A,
        not_in: None,
        statuses: vec![MedicationStatus::Active, MedicationStatus::Draft],
        min_days: None,
    });
    let mut f = facts();
    let mut same = medication("tofacitinib", MedicationStatus::Active, date!(2026 - 06 - 01), &[A]);
    same.drug = Some(DrugId(0));
    f.medications.push(same);
    let mut itself = medication("tofacitinib draft", MedicationStatus::Draft, TODAY, &[A]);
    itself.reference = Some("MedicationRequest/draft".into());
    f.medications.push(itself);
    assert_eq!(eval(&other, &f), None);
    f.medications.push(medication("azathioprine", MedicationStatus::Active, date!(2026 - 06 - 01), &[A]));
    let found = eval(&other, &f).expect("azathioprine");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].detail, EvidenceDetail::MedicationStatus(MedicationStatus::Active));
    // Copies of one medicine (same name, day and status) are one item of evidence; another
    // day or status is another item (issue 16: an order-sign call of many like orders).
    for _ in 0..3 {
        f.medications.push(medication("azathioprine", MedicationStatus::Active, date!(2026 - 06 - 01), &[A]));
    }
    f.medications.push(medication("azathioprine", MedicationStatus::Draft, TODAY, &[A]));
    let found = eval(&other, &f).expect("azathioprine");
    assert_eq!(found.len(), 2, "{found:?}");
}

#[test]
fn order_constructs_read_the_order_under_review() {
    let f = facts();
    assert!(eval(&Criterion::Dose { mg: 10.0, per_day: 2.0 }, &f).is_some());
    assert_eq!(eval(&Criterion::Dose { mg: 5.0, per_day: 2.0 }, &f), None);
    assert_eq!(eval(&Criterion::DoseRead, &f).unwrap()[0].detail, EvidenceDetail::Dose { mg: 10.0, per_day: 2.0 });
    assert!(eval(&Criterion::NewStart, &f).is_some());
    assert_eq!(eval(&Criterion::DoseMissing, &f), None);
    // No earlier order: no time on the drug, no earlier dose.
    assert_eq!(eval(&Criterion::WeeksOnDrug { more_than: 0 }, &f), None);
    assert_eq!(eval(&Criterion::PreviouslyOnDose { mg: 5.0, per_day: 2.0 }, &f), None);
}
