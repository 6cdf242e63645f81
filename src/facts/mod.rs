//! Patient facts: the record read once into what the rules ask about — age, sex, conditions by
//! clinical status, observations, medications by status, immunizations — each classified
//! against the knowledge's value sets, and the orders to review.

mod classify;
mod concepts;
mod dose;

use fhir_sdk::r4b::resources::{
    Condition, Immunization, ImmunizationRecommendation, Medication, MedicationRequest, MedicationStatement,
    Observation, Resource,
};
use fhir_sdk::r4b::resources::{
    ConditionAbatement, ConditionOnset, ImmunizationOccurrence, MedicationRequestMedication,
    MedicationStatementEffective, MedicationStatementMedication, ObservationEffective, ObservationValue,
};
use fhir_sdk::r4b::types::Reference;

pub use classify::{ClassifiedResource, Recognition, classify_record};
use concepts::{CodingRef, codings, concept_of, day, day_of, day_of_instant, medication_concept};
pub use concepts::{Concept, MatchedBy, age_on, months_before};
pub use dose::{DoseReading, read_text as read_dose_text};

use crate::fhir::{DraftContent, DraftOrder, PatientRecord, RecordProblem};
use crate::knowledge::{Classification, Knowledge, MedicationStatus, Placement, TextFinding, ValueSetMask};
use crate::terminology::{ServerAnswers, ServerVerdict};
use crate::vocabulary::{ClinicalStatus, Date, DrugId, Sex};

#[derive(Debug, Clone)]
pub struct ConditionFact {
    pub concept: Concept,
    /// Recognised from its words, not its codes (the card says so): the words that matched.
    pub by_text: Option<String>,
    /// active / recurrence / relapse; otherwise history (inactive, remission, resolved).
    pub active: bool,
    pub status: ClinicalStatus,
    /// Onset, else the day it was recorded: what the prescriber is shown.
    pub date: Option<Date>,
    /// Onset only: when the condition itself began (a recording date is not an event date).
    pub onset: Option<Date>,
    /// When it ended (abatement), for "was it treated afterwards" questions.
    pub ended: Option<Date>,
    pub severity: Classification,
}

#[derive(Debug, Clone)]
pub enum ObservedValue {
    Coded(Concept),
    Quantity {
        value: f64,
        unit: Option<String>,
    },
    Text(String),
    Flag(bool),
    /// A date (an estimated date of delivery).
    Date(Date),
    None,
}

#[derive(Debug, Clone)]
pub struct ObservationFact {
    pub concept: Concept,
    pub date: Option<Date>,
    pub value: ObservedValue,
    /// The value sets its answer belongs to: the value's coding, a short text answer taken
    /// whole (a `valueString` "C"), and the interpretation. Classified once, here.
    pub answer: ValueSetMask,
}

#[derive(Debug, Clone)]
pub struct MedicationFact {
    pub concept: Concept,
    pub drug: Option<DrugId>,
    pub status: MedicationStatus,
    pub date: Option<Date>,
    /// `MedicationRequest/id` of a draft, to tell the order under review from its companions.
    pub reference: Option<String>,
    pub dose: DoseReading,
    /// When the order or statement ends, if it says (validityPeriod, effectivePeriod).
    pub until: Option<Date>,
}

/// A stretch of time on one dose of the ordered drug, from the patient's earlier orders.
#[derive(Debug, Clone, PartialEq)]
pub struct DoseEpisode {
    pub start: Date,
    pub end: Date,
    pub dose: DoseReading,
}

/// The course of one drug in the record: when it was first ordered and on what doses since
/// (rules-catalog.md reading 6: an order runs to its validityPeriod end, else to the next
/// order, else until now).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TherapyTimeline {
    pub first_start: Option<Date>,
    pub episodes: Vec<DoseEpisode>,
}

#[derive(Debug, Clone)]
pub struct ImmunizationFact {
    pub concept: Concept,
    /// Given (completed), or for a planned one the day it is due or ordered.
    pub date: Option<Date>,
    /// For planned ones: the draft order that plans it.
    pub reference: Option<String>,
}

/// Everything the rules may ask about this patient, as of `today`.
#[derive(Debug, Clone)]
pub struct PatientFacts {
    pub today: Date,
    pub age: Option<u32>,
    pub sex: Sex,
    pub conditions: Vec<ConditionFact>,
    pub observations: Vec<ObservationFact>,
    pub medications: Vec<MedicationFact>,
    pub immunizations: Vec<ImmunizationFact>,
    pub planned_immunizations: Vec<ImmunizationFact>,
    /// Problems met while reading the record, in words for the prescriber.
    pub record_problems: Vec<String>,
    /// Conditions whose meaning could not be told: no code the knowledge can place, no
    /// terminology server answer, no recognisable text. Never read as "nothing".
    pub unclassified: Vec<Unclassified>,
    /// Medicines in use (active or on hold) with neither a name nor a code the knowledge can
    /// place: they may be an immunosuppressant or an interacting drug, so they are named.
    pub unidentified_medications: Vec<Unclassified>,
}

/// A condition the service could not classify, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Unclassified {
    /// What the prescriber reads: its text or display, and its codes.
    pub label: String,
    pub date: Option<Date>,
    pub why: UnclassifiedWhy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnclassifiedWhy {
    /// Its codes are in systems (or SNOMED CT extensions) the knowledge does not cover.
    UnknownCodes,
    /// A terminology server was asked and did not answer.
    ServerUnanswered,
    /// It has neither a code nor a text.
    NoCode,
}

/// What an order is for, as far as this service cares.
#[derive(Debug, Clone)]
pub enum OrderSubject {
    /// One of the seven drugs.
    Drug { drug: DrugId, matched_by: MatchedBy },
    /// Anything else, classified against the value sets (a live vaccine, say).
    Item(Concept),
    /// The order names its medication only by a reference that cannot be resolved: it may be
    /// one of the seven drugs, so it cannot be passed over.
    Unidentified { medication_reference: String },
}

/// An order the hook asks the service to review.
#[derive(Debug, Clone)]
pub struct ReviewedOrder {
    pub reference: String,
    pub subject: OrderSubject,
    /// No active order or statement for the same drug: a new start.
    pub new_start: bool,
    /// The order's reasons (reasonCode, and reasonReference resolved to the record's conditions).
    pub reasons: Classification,
    /// The order names a reason at all (even one this service does not know).
    pub has_reason: bool,
    /// The order could not be read; only its drug was recognised.
    pub unreadable: Option<String>,
    pub dose: DoseReading,
    /// The draft has a resource id, so a suggestion can delete it.
    pub deletable: bool,
}

impl ReviewedOrder {
    pub fn drug(&self) -> Option<DrugId> {
        match &self.subject {
            OrderSubject::Drug { drug, .. } => Some(*drug),
            OrderSubject::Item(_) | OrderSubject::Unidentified { .. } => None,
        }
    }
}

impl PatientFacts {
    /// Read the record (and the session's draft orders, as co-medication and planned vaccines).
    pub fn build(
        knowledge: &Knowledge,
        record: &PatientRecord,
        drafts: &[DraftOrder],
        today: Date,
        server: &ServerAnswers,
    ) -> PatientFacts {
        let (age, sex) = match &record.patient {
            Some(p) => (
                p.birth_date.as_ref().and_then(day).and_then(|b| age_on(b, today)),
                Sex::from_fhir(p.gender.as_ref().map(|g| g.as_ref())),
            ),
            None => (None, Sex::Unknown),
        };
        let mut facts = PatientFacts {
            today,
            age,
            sex,
            conditions: Vec::new(),
            observations: record.observations.iter().filter_map(|o| observation(knowledge, o)).collect(),
            medications: Vec::new(),
            immunizations: record.immunizations.iter().filter_map(|i| immunization(knowledge, i)).collect(),
            planned_immunizations: Vec::new(),
            record_problems: record.problems.iter().map(describe_problem).collect(),
            unclassified: Vec::new(),
            unidentified_medications: Vec::new(),
        };
        for c in &record.conditions {
            match condition(knowledge, c, server) {
                ConditionReading::Fact(fact) => facts.conditions.push(*fact),
                ConditionReading::Unclassified(u) => facts.unclassified.push(u),
                ConditionReading::Ignored => {}
            }
        }
        for r in &record.medication_requests {
            if let Some(status) = MedicationStatus::from_fhir(&r.status) {
                let fact = medication_request(knowledge, record, r, status, None);
                let code = match &r.medication {
                    MedicationRequestMedication::CodeableConcept(cc) => Some(cc),
                    MedicationRequestMedication::Reference(m) => {
                        find_medication(record, &r.contained, m).and_then(|m| m.code.as_ref())
                    }
                };
                facts.unidentified_medications.extend(unidentified(&fact, code));
                facts.medications.push(fact);
            }
        }
        for s in &record.medication_statements {
            if let Some(fact) = medication_statement(knowledge, record, s) {
                let code = match &s.medication {
                    MedicationStatementMedication::CodeableConcept(cc) => Some(cc),
                    MedicationStatementMedication::Reference(m) => {
                        find_medication(record, &s.contained, m).and_then(|m| m.code.as_ref())
                    }
                };
                facts.unidentified_medications.extend(unidentified(&fact, code));
                facts.medications.push(fact);
            }
        }
        for r in &record.immunization_recommendations {
            facts.planned_immunizations.extend(recommendation(knowledge, r));
        }
        for d in drafts {
            match &d.content {
                DraftContent::Medication(r) => {
                    let fact = medication_request(knowledge, record, r, MedicationStatus::Draft, Some(&d.reference));
                    facts.planned_immunizations.push(ImmunizationFact {
                        concept: fact.concept.clone(),
                        date: Some(today),
                        reference: Some(d.reference.clone()),
                    });
                    facts.medications.push(fact);
                }
                DraftContent::Service(s) => {
                    if let Some(concept) = s.code.as_ref().map(|c| service_concept(knowledge, c)) {
                        facts.planned_immunizations.push(ImmunizationFact {
                            concept,
                            date: Some(today),
                            reference: Some(d.reference.clone()),
                        });
                    }
                }
                DraftContent::Other | DraftContent::Unreadable { .. } => {}
            }
        }
        // Facts in time order (then by name), whatever order the EHR or its FHIR server sent
        // them in: the same record always gives the same card text.
        facts.conditions.sort_by(|a, b| (a.date, &a.concept.label).cmp(&(b.date, &b.concept.label)));
        facts.observations.sort_by(|a, b| (a.date, &a.concept.label).cmp(&(b.date, &b.concept.label)));
        facts.immunizations.sort_by(|a, b| (a.date, &a.concept.label).cmp(&(b.date, &b.concept.label)));
        facts.medications.sort_by(|a, b| (a.date, &a.concept.label).cmp(&(b.date, &b.concept.label)));
        facts
    }

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

/// The SNOMED CT codes of conditions that the shipped knowledge places in no concept: what a
/// terminology server, when there is one, is asked about. `(system as written, code)`.
pub fn codes_for_terminology_server(knowledge: &Knowledge, record: &PatientRecord) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for c in &record.conditions {
        let Some(code) = &c.code else { continue };
        if !concept_of(knowledge, code).class.value_sets.is_empty() {
            continue;
        }
        for coding in codings(code) {
            let (Some(system), Some(value)) = (coding.system, coding.code) else { continue };
            if knowledge.codes.form_of(system) == Some(crate::knowledge::CodeForm::Sctid)
                && !out.iter().any(|(s, v)| s == system && v == value)
            {
                out.push((system.to_string(), value.to_string()));
            }
        }
    }
    out
}

/// The orders the hook asks about: `selections` for order-select, every draft for order-sign.
/// An order for none of the seven drugs (and no vaccine) is not returned.
pub fn reviewed_orders(
    knowledge: &Knowledge,
    record: &PatientRecord,
    drafts: &[DraftOrder],
    selections: Option<&[String]>,
    on_drug: impl Fn(DrugId) -> bool,
) -> Vec<ReviewedOrder> {
    let mut out = Vec::new();
    for d in drafts {
        if let Some(sel) = selections
            && !sel.iter().any(|s| s == &d.reference)
        {
            continue;
        }
        let mut has_reason = false;
        let mut dose = DoseReading::Missing;
        let (subject, reasons, unreadable) = match &d.content {
            DraftContent::Medication(r) => {
                has_reason = r.reason_code.iter().flatten().next().is_some()
                    || r.reason_reference.iter().flatten().next().is_some();
                dose = dose::read(&r.dosage_instruction, request_strength(record, r));
                let (concept, drug) = medication_of(knowledge, record, r);
                let mut reasons = Classification::default();
                for rc in r.reason_code.iter().flatten() {
                    reasons.merge(&concept_of(knowledge, rc).class);
                }
                for rr in r.reason_reference.iter().flatten() {
                    if let Some(c) = resolve_condition(record, rr)
                        && let Some(cc) = &c.code
                    {
                        reasons.merge(&concept_of(knowledge, cc).class);
                    }
                }
                let subject = match (drug, unresolved_reference(record, r)) {
                    (Some((drug, matched_by)), _) => OrderSubject::Drug { drug, matched_by },
                    (None, Some(medication_reference)) => OrderSubject::Unidentified { medication_reference },
                    (None, None) => OrderSubject::Item(concept),
                };
                (subject, reasons, None)
            }
            DraftContent::Service(s) => match &s.code {
                Some(code) => (OrderSubject::Item(service_concept(knowledge, code)), Classification::default(), None),
                None => continue,
            },
            DraftContent::Unreadable { error, json } => match drug_in_raw_json(knowledge, json) {
                Some((drug, matched_by)) => {
                    (OrderSubject::Drug { drug, matched_by }, Classification::default(), Some(error.clone()))
                }
                None => continue,
            },
            DraftContent::Other => continue,
        };
        let new_start = match &subject {
            OrderSubject::Drug { drug, .. } => !on_drug(*drug),
            OrderSubject::Item(_) | OrderSubject::Unidentified { .. } => true,
        };
        out.push(ReviewedOrder {
            reference: d.reference.clone(),
            subject,
            new_start,
            reasons,
            has_reason,
            unreadable,
            dose,
            deletable: d.has_id,
        });
    }
    out
}

fn describe_problem(p: &RecordProblem) -> String {
    match p {
        RecordProblem::Unreadable { resource, key, error } => {
            format!("{resource} (prefetch key '{key}') could not be read: {}", first_line(error))
        }
        RecordProblem::CutShort { key, reason } => format!("'{key}' is incomplete: {reason}"),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

enum ConditionReading {
    Fact(Box<ConditionFact>),
    Unclassified(Unclassified),
    /// Refuted or entered in error.
    Ignored,
}

/// What a condition's code means: its codings, else a terminology server's verdict, else —
/// for the critical concepts only — its words. `Err` when nothing could tell.
fn condition_meaning(
    knowledge: &Knowledge,
    code: &fhir_sdk::r4b::types::CodeableConcept,
    server: &ServerAnswers,
) -> Result<(Concept, Option<TextFinding>), UnclassifiedWhy> {
    let mut concept = concept_of(knowledge, code);
    if !concept.class.value_sets.is_empty() {
        return Ok((concept, None));
    }
    // Placed: some code's meaning is known (possibly "none of the concepts"). Settled: known
    // from complete ranges (ICD-10) or a server, where the words may not overrule the code.
    let mut placed = false;
    let mut settled = false;
    let mut unanswered = false;
    for c in codings(code) {
        let (Some(system), Some(value)) = (c.system, c.code) else { continue };
        match server.get(system, value) {
            Some(ServerVerdict::Classified(mask)) => {
                concept.class.value_sets.union(&knowledge.codes.closed(mask));
                placed = true;
                settled = true;
            }
            // The server did not answer: what the shipped knowledge says stands; a code it
            // cannot place is reported.
            Some(ServerVerdict::Unanswered) => match knowledge.codes.placement(system, value) {
                Placement::Known => {
                    placed = true;
                    settled = true;
                }
                Placement::Expanded => placed = true,
                Placement::Unknown => unanswered = true,
            },
            None => match knowledge.codes.placement(system, value) {
                Placement::Known => {
                    placed = true;
                    settled = true;
                }
                Placement::Expanded => placed = true,
                Placement::Unknown => {}
            },
        }
    }
    if !concept.class.value_sets.is_empty() || settled {
        return Ok((concept, None));
    }
    // The last resort, for the critical concepts: the words of the text and the displays — never
    // a concept the code was deliberately left out of (a basal cell carcinoma is no malignancy
    // of that set, whatever its text calls it).
    let mut excluded = crate::knowledge::ValueSetMask::default();
    for c in codings(code) {
        if let (Some(system), Some(value)) = (c.system, c.code) {
            excluded.union(&knowledge.codes.excluded(system, value));
        }
    }
    let texts = code.text.as_deref().into_iter().chain(codings(code).filter_map(|c| c.display));
    for text in texts {
        let mut found = knowledge.codes.recognise_text(text);
        found.value_sets.minus(&excluded);
        if !found.is_empty() {
            concept.class.value_sets.union(&found.value_sets);
            return Ok((concept, Some(found)));
        }
    }
    match (placed, unanswered, codings(code).next().is_some() || code.text.is_some()) {
        (true, _, _) => Ok((concept, None)),
        (false, true, _) => Err(UnclassifiedWhy::ServerUnanswered),
        (false, false, true) => Err(UnclassifiedWhy::UnknownCodes),
        (false, false, false) => Err(UnclassifiedWhy::NoCode),
    }
}

/// A medicine in use that nothing identifies (no name, no code the knowledge can place).
fn unidentified(fact: &MedicationFact, code: Option<&fhir_sdk::r4b::types::CodeableConcept>) -> Option<Unclassified> {
    let in_use = matches!(fact.status, MedicationStatus::Active | MedicationStatus::OnHold);
    (in_use && !fact.concept.identifiable && fact.drug.is_none()).then(|| Unclassified {
        label: code.map_or_else(|| "(no code)".to_string(), |cc| coded_label(cc, "(no name)")),
        date: fact.date,
        why: if code.is_some_and(|cc| cc.coding.iter().flatten().next().is_some()) {
            UnclassifiedWhy::UnknownCodes
        } else {
            UnclassifiedWhy::NoCode
        },
    })
}

/// A condition's label with its codes, for the list of what could not be classified.
fn coded_label(code: &fhir_sdk::r4b::types::CodeableConcept, label: &str) -> String {
    let codes: Vec<String> =
        codings(code).filter_map(|c| Some(format!("{} {}", short_system(c.system?), c.code?))).collect();
    if codes.is_empty() { label.to_string() } else { format!("{label} [{}]", codes.join(", ")) }
}

/// The last part of a system URI or OID, enough to tell systems apart in a card.
fn short_system(system: &str) -> &str {
    let s = system.trim_end_matches('/');
    s.rsplit(['/', ':']).next().unwrap_or(s)
}

fn condition(knowledge: &Knowledge, c: &Condition, server: &ServerAnswers) -> ConditionReading {
    let verification = c.verification_status.as_ref().and_then(|v| first_code(v));
    if matches!(verification, Some("refuted" | "entered-in-error")) {
        return ConditionReading::Ignored;
    }
    let status = c.clinical_status.as_ref().and_then(|s| first_code(s)).map(ClinicalStatus::from_fhir);
    // No clinical status: resolved only when an abatement is recorded; otherwise assume active
    // (missing data is never read as safe).
    let mut active = match &status {
        Some(s) => s.is_active(),
        None => c.abatement.is_none(),
    };
    let onset = match &c.onset {
        Some(ConditionOnset::DateTime(dt)) => day_of(dt),
        Some(ConditionOnset::Period(p)) => p.start.as_ref().and_then(day_of),
        _ => None,
    };
    let date = onset.or_else(|| c.recorded_date.as_ref().and_then(day_of));
    let ended = match &c.abatement {
        Some(ConditionAbatement::DateTime(dt)) => day_of(dt),
        Some(ConditionAbatement::Period(p)) => p.end.as_ref().or(p.start.as_ref()).and_then(day_of),
        _ => None,
    };
    let empty = fhir_sdk::r4b::types::CodeableConcept::builder().build().ok();
    let Some(code) = c.code.as_ref().or(empty.as_ref()) else { return ConditionReading::Ignored };
    let (concept, by_text) = match condition_meaning(knowledge, code, server) {
        Ok(meaning) => meaning,
        Err(why) => {
            let label = concept_of(knowledge, code).label;
            return ConditionReading::Unclassified(Unclassified {
                label: coded_label(code, &label),
                date: date.or(ended),
                why,
            });
        }
    };
    let mut status = status.unwrap_or(if active { ClinicalStatus::Active } else { ClinicalStatus::Resolved });
    // "Status na mammacarcinoom": recognised by its words as a past condition.
    if by_text.as_ref().is_some_and(|t| t.history) && active {
        active = false;
        status = ClinicalStatus::Inactive;
    }
    ConditionReading::Fact(Box::new(ConditionFact {
        concept,
        by_text: by_text.map(|t| t.phrase),
        active,
        status,
        date: date.or(ended),
        onset,
        ended,
        severity: c.severity.as_ref().map(|s| concept_of(knowledge, s).class).unwrap_or_default(),
    }))
}

fn first_code(cc: &fhir_sdk::r4b::types::CodeableConcept) -> Option<&str> {
    cc.coding.iter().flatten().find_map(|c| c.code.as_deref())
}

fn observation(knowledge: &Knowledge, o: &Observation) -> Option<ObservationFact> {
    if matches!(o.status.as_ref(), "cancelled" | "entered-in-error" | "unknown") {
        return None;
    }
    let date = match &o.effective {
        Some(ObservationEffective::DateTime(dt)) => day_of(dt),
        Some(ObservationEffective::Period(p)) => p.start.as_ref().and_then(day_of),
        Some(ObservationEffective::Instant(i)) => Some(day_of_instant(&i.0)),
        _ => None,
    }
    .or_else(|| o.issued.as_ref().map(|i| day_of_instant(&i.0)));
    let value = match &o.value {
        Some(ObservationValue::CodeableConcept(cc)) => ObservedValue::Coded(concept_of(knowledge, cc)),
        Some(ObservationValue::Quantity(q)) => match q.value {
            Some(v) => ObservedValue::Quantity { value: v, unit: q.code.clone().or_else(|| q.unit.clone()) },
            None => ObservedValue::None,
        },
        Some(ObservationValue::String(s)) => ObservedValue::Text(s.clone()),
        Some(ObservationValue::Boolean(b)) => ObservedValue::Flag(*b),
        Some(ObservationValue::Integer(i)) => ObservedValue::Quantity { value: f64::from(*i), unit: None },
        Some(ObservationValue::DateTime(dt)) => day_of(dt).map_or(ObservedValue::None, ObservedValue::Date),
        _ => ObservedValue::None,
    };
    let mut answer = ValueSetMask::default();
    for i in o.interpretation.iter().flatten() {
        answer.union(&concept_of(knowledge, i).class.value_sets);
    }
    match &value {
        ObservedValue::Coded(c) => {
            answer.union(&c.class.value_sets);
            answer.union(&knowledge.codes.classify_whole_text(&c.label).value_sets);
        }
        ObservedValue::Text(t) => answer.union(&knowledge.codes.classify_whole_text(t).value_sets),
        _ => {}
    }
    let concept = concept_of(knowledge, &o.code);
    // A generic yes/no answer to a yes/no question counts as that question's answer
    // (rules-catalog.md, "Recognition by meaning": LOINC LA33-6 / LA32-8, SNOMED CT 373066001 /
    // 373067005, or a valueBoolean).
    let yes = matches!(value, ObservedValue::Flag(true)) || knowledge.generic_yes.is_some_and(|g| answer.contains(g));
    let no = matches!(value, ObservedValue::Flag(false)) || knowledge.generic_no.is_some_and(|g| answer.contains(g));
    if yes != no {
        for question in knowledge.value_sets.iter().filter(|v| concept.class.value_sets.contains(v.id)) {
            if let Some(means) = if yes { question.yes_means } else { question.no_means } {
                answer.insert(means);
            }
        }
        answer = knowledge.codes.closed(answer);
    }
    Some(ObservationFact { concept, date, value, answer })
}

fn immunization(knowledge: &Knowledge, i: &Immunization) -> Option<ImmunizationFact> {
    if i.status != "completed" {
        return None;
    }
    let date = match &i.occurrence {
        ImmunizationOccurrence::DateTime(dt) => day_of(dt),
        ImmunizationOccurrence::String(_) => None,
    }
    .or_else(|| i.recorded.as_ref().and_then(day_of));
    let (concept, _) = medication_concept(knowledge, codings(&i.vaccine_code), i.vaccine_code.text.as_deref());
    Some(ImmunizationFact { concept, date, reference: None })
}

fn recommendation(knowledge: &Knowledge, r: &ImmunizationRecommendation) -> Vec<ImmunizationFact> {
    let mut out = Vec::new();
    for rec in r.recommendation.iter().flatten() {
        let status = first_code(&rec.forecast_status);
        if !matches!(status, Some("due" | "overdue")) {
            continue;
        }
        let due = rec.date_criterion.iter().flatten().filter_map(|c| day_of(&c.value)).min();
        for vc in rec.vaccine_code.iter().flatten() {
            let (concept, _) = medication_concept(knowledge, codings(vc), vc.text.as_deref());
            out.push(ImmunizationFact { concept, date: due.or_else(|| day_of(&r.date)), reference: None });
        }
    }
    out
}

fn medication_request(
    knowledge: &Knowledge,
    record: &PatientRecord,
    r: &MedicationRequest,
    status: MedicationStatus,
    reference: Option<&str>,
) -> MedicationFact {
    let (concept, drug) = medication_of(knowledge, record, r);
    MedicationFact {
        concept,
        drug: drug.map(|(d, _)| d),
        status,
        date: r.authored_on.as_ref().and_then(day_of),
        reference: reference.map(str::to_string),
        dose: dose::read(&r.dosage_instruction, request_strength(record, r)),
        until: r
            .dispense_request
            .as_ref()
            .and_then(|d| d.validity_period.as_ref())
            .and_then(|p| p.end.as_ref())
            .and_then(day_of),
    }
}

fn medication_statement(
    knowledge: &Knowledge,
    record: &PatientRecord,
    s: &MedicationStatement,
) -> Option<MedicationFact> {
    // "intended" is a plan, not a treatment: it makes no continuation.
    let status = MedicationStatus::from_fhir(s.status.as_str())?;
    let (concept, drug) = match &s.medication {
        MedicationStatementMedication::CodeableConcept(cc) => {
            medication_concept(knowledge, codings(cc), cc.text.as_deref())
        }
        MedicationStatementMedication::Reference(r) => referenced_medication(knowledge, record, &s.contained, r),
    };
    let strength = match &s.medication {
        MedicationStatementMedication::CodeableConcept(cc) => strength_of_concept(cc),
        MedicationStatementMedication::Reference(r) => referenced_strength(record, &s.contained, r),
    };
    let date = match &s.effective {
        Some(MedicationStatementEffective::DateTime(dt)) => day_of(dt),
        Some(MedicationStatementEffective::Period(p)) => p.start.as_ref().and_then(day_of),
        None => None,
    }
    .or_else(|| s.date_asserted.as_ref().and_then(day_of));
    Some(MedicationFact {
        concept,
        drug: drug.map(|(d, _)| d),
        status,
        date,
        reference: None,
        dose: dose::read(&s.dosage, strength),
        until: match &s.effective {
            Some(MedicationStatementEffective::Period(p)) => p.end.as_ref().and_then(day_of),
            _ => None,
        },
    })
}

fn medication_of(
    knowledge: &Knowledge,
    record: &PatientRecord,
    r: &MedicationRequest,
) -> (Concept, Option<(DrugId, MatchedBy)>) {
    match &r.medication {
        MedicationRequestMedication::CodeableConcept(cc) => {
            medication_concept(knowledge, codings(cc), cc.text.as_deref())
        }
        MedicationRequestMedication::Reference(reference) => {
            referenced_medication(knowledge, record, &r.contained, reference)
        }
    }
}

/// The mg in one unit (tablet, capsule, "stuk") of the ordered product, when it is unambiguous.
fn request_strength(record: &PatientRecord, r: &MedicationRequest) -> Option<f64> {
    match &r.medication {
        MedicationRequestMedication::CodeableConcept(cc) => strength_of_concept(cc),
        MedicationRequestMedication::Reference(reference) => referenced_strength(record, &r.contained, reference),
    }
}

/// The strength its name gives (text, else one display).
fn strength_of_concept(cc: &fhir_sdk::r4b::types::CodeableConcept) -> Option<f64> {
    cc.text
        .as_deref()
        .and_then(dose::strength_from_text)
        .or_else(|| codings(cc).filter_map(|c| c.display).find_map(dose::strength_from_text))
}

/// A referenced Medication's strength: its one ingredient's strength per unit (a Ratio of mg to
/// one unit), else what its name says; else what the reference's display says.
fn referenced_strength(record: &PatientRecord, contained: &[Resource], reference: &Reference) -> Option<f64> {
    let m = find_medication(record, contained, reference);
    if let Some(m) = m {
        let ingredients: Vec<_> = m.ingredient.iter().flatten().collect();
        if let [one] = ingredients.as_slice()
            && let Some(ratio) = &one.strength
            && let (Some(n), Some(d)) = (&ratio.numerator, &ratio.denominator)
            && d.value.is_some_and(|v| (v - 1.0).abs() < 1e-9)
            && let (Some(v), Some(unit)) = (n.value, n.code.as_deref().or(n.unit.as_deref()))
            && let Some(mg) = dose::mass_mg(v, unit)
        {
            return Some(mg);
        }
        if let Some(cc) = &m.code
            && let Some(mg) = strength_of_concept(cc)
        {
            return Some(mg);
        }
    }
    reference.display.as_deref().and_then(dose::strength_from_text)
}

fn find_medication<'r>(
    record: &'r PatientRecord,
    contained: &'r [Resource],
    reference: &Reference,
) -> Option<&'r Medication> {
    let target = reference.reference.as_deref().unwrap_or("");
    if let Some(local) = target.strip_prefix('#') {
        contained.iter().find_map(|c| match c {
            Resource::Medication(m) if m.id.as_deref() == Some(local) => Some(m),
            _ => None,
        })
    } else {
        let id = target.rsplit('/').next().unwrap_or("");
        record.medications.iter().find(|m| !id.is_empty() && m.id.as_deref() == Some(id))
    }
}

/// A `medicationReference`: a contained Medication, one sent in the bundle, or only its display.
fn referenced_medication(
    knowledge: &Knowledge,
    record: &PatientRecord,
    contained: &[Resource],
    reference: &Reference,
) -> (Concept, Option<(DrugId, MatchedBy)>) {
    match find_medication(record, contained, reference).and_then(|m| m.code.as_ref()) {
        Some(cc) => medication_concept(knowledge, codings(cc), cc.text.as_deref()),
        None => medication_concept(knowledge, std::iter::empty(), reference.display.as_deref()),
    }
}

/// A ServiceRequest's code: by its codings only. Its free text is no evidence of a vaccine
/// (a lab order "MMR IgG" names the vaccine's antigens).
fn service_concept(knowledge: &Knowledge, cc: &fhir_sdk::r4b::types::CodeableConcept) -> Concept {
    concept_of(knowledge, cc)
}

/// An external `medicationReference` that neither the draft orders nor the record resolve.
fn unresolved_reference(record: &PatientRecord, r: &MedicationRequest) -> Option<String> {
    let MedicationRequestMedication::Reference(reference) = &r.medication else {
        return None;
    };
    let target = reference.reference.as_deref()?;
    if target.starts_with('#') {
        return None;
    }
    let id = target.rsplit('/').next().unwrap_or("");
    let resolved = record.medications.iter().any(|m| !id.is_empty() && m.id.as_deref() == Some(id));
    (!resolved).then(|| target.to_string())
}

fn resolve_condition<'r>(record: &'r PatientRecord, reference: &Reference) -> Option<&'r Condition> {
    let id = reference.reference.as_deref()?.rsplit('/').next()?;
    record.conditions.iter().find(|c| c.id.as_deref() == Some(id))
}

/// Recognise the drug of an order fhir-sdk could not read, from its raw JSON.
fn drug_in_raw_json(knowledge: &Knowledge, json: &str) -> Option<(DrugId, MatchedBy)> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let cc = value.get("medicationCodeableConcept");
    let mut list = Vec::new();
    if let Some(codings) = cc.and_then(|c| c.get("coding")).and_then(|c| c.as_array()) {
        for c in codings {
            list.push((
                c.get("system").and_then(|s| s.as_str()),
                c.get("code").and_then(|s| s.as_str()),
                c.get("display").and_then(|s| s.as_str()),
            ));
        }
    }
    let text = cc
        .and_then(|c| c.get("text"))
        .or_else(|| value.get("medicationReference").and_then(|r| r.get("display")))
        .and_then(|t| t.as_str());
    let refs = list.iter().map(|(system, code, display)| CodingRef { system: *system, code: *code, display: *display });
    medication_concept(knowledge, refs, text).1
}

#[cfg(test)]
mod tests;
