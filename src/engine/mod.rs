//! The rule engine: patient facts + an order under review → findings. It evaluates the
//! compiled rule language and nothing else; it knows nothing of HTTP, FHIR JSON or card text.

use crate::facts::{DoseReading, ObservedValue, OrderSubject, PatientFacts, ReviewedOrder, months_before};
use crate::knowledge::{
    ConditionStatusFilter, Criterion, Knowledge, NumericTest, ObservationPick, Reason, Rule, RuleTarget,
};
use crate::vocabulary::{ClinicalStatus, Date, DrugId, Jurisdiction, MedicationStatus, Recommendation};

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
    fn new(label: String, date: Option<Date>, detail: EvidenceDetail) -> Self {
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

/// A reason of a rule that holds for this patient and order.
#[derive(Debug, Clone)]
pub struct FoundReason<'k> {
    pub reason: &'k Reason,
    pub evidence: Vec<Evidence>,
}

/// A rule that fires for an order: becomes one card.
#[derive(Debug, Clone)]
pub struct Finding<'k> {
    pub rule: &'k Rule,
    pub recommendation: Recommendation,
    pub reasons: Vec<FoundReason<'k>>,
}

/// The review of one order: its findings, and — for a seed-A drug ordered for atopic
/// dermatitis — how each other seed-A drug stands as an alternative for this patient.
#[derive(Debug, Clone)]
pub struct OrderReview<'k> {
    pub findings: Vec<Finding<'k>>,
    pub alternatives: Option<Vec<Candidate<'k>>>,
}

/// A seed-A drug considered in place of the ordered one.
#[derive(Debug, Clone)]
pub struct Candidate<'k> {
    pub drug: DrugId,
    pub standing: Standing<'k>,
}

/// Whether a candidate may be suggested, and if not, why (the card says so).
#[derive(Debug, Clone)]
pub enum Standing<'k> {
    /// No ↓/↓↓ finding, and every check behind one could be done.
    Suitable,
    /// It has a ↓/↓↓ finding of its own for this patient.
    AdvisedAgainst(Vec<&'k Rule>),
    /// Data one of its ↓/↓↓ checks needs is missing: suggesting it would be a guess.
    Unchecked(Vec<&'k Reason>),
    /// The patient is already on it, or it is ordered in this session.
    AlreadyPrescribed,
}

impl Candidate<'_> {
    pub fn suitable(&self) -> bool {
        matches!(self.standing, Standing::Suitable)
    }
}

pub struct Engine<'k> {
    knowledge: &'k Knowledge,
    jurisdiction: Jurisdiction,
}

impl<'k> Engine<'k> {
    pub fn new(knowledge: &'k Knowledge, jurisdiction: Jurisdiction) -> Self {
        Engine { knowledge, jurisdiction }
    }

    /// Does any rule review this order? (Otherwise it costs nothing: no fetch, no card.)
    pub fn in_scope(&self, order: &ReviewedOrder) -> bool {
        self.knowledge.rules.iter().any(|r| r.runs_in(self.jurisdiction) && targets(r, order))
    }

    pub fn review(&self, facts: &PatientFacts, order: &ReviewedOrder) -> OrderReview<'k> {
        let findings = self.findings(facts, order);
        let alternatives = self.alternatives(facts, order);
        OrderReview { findings, alternatives }
    }

    /// Every rule that fires for the order, in catalogue order.
    pub fn findings(&self, facts: &PatientFacts, order: &ReviewedOrder) -> Vec<Finding<'k>> {
        let ctx = Ctx { knowledge: self.knowledge, facts, order };
        let mut findings = Vec::new();
        for rule in &self.knowledge.rules {
            if !rule.runs_in(self.jurisdiction) || !targets(rule, order) || (rule.start_only && !order.new_start) {
                continue;
            }
            // A gated rule (AD or IBD context) runs only when its gate holds.
            if rule.only_if.as_ref().is_some_and(|gate| ctx.eval(gate).is_none()) {
                continue;
            }
            let mut reasons = Vec::new();
            for reason in &rule.reasons {
                let for_drug =
                    reason.applies_to.is_empty() || order.drug().is_some_and(|d| reason.applies_to.contains(d));
                if !for_drug || (reason.start_only && !order.new_start) || !reason.runs_in(self.jurisdiction) {
                    continue;
                }
                if let Some(evidence) = ctx.eval(&reason.when) {
                    reasons.push(FoundReason { reason, evidence });
                }
            }
            // Annotations qualify a finding; they never make one.
            let strongest = reasons.iter().filter(|r| !r.reason.annotation).map(|r| r.reason.recommendation).max();
            if let Some(strongest) = strongest {
                findings.push(Finding { rule, recommendation: strongest, reasons });
            }
        }
        findings
    }

    /// Alternatives are offered only for a seed-A drug ordered for atopic dermatitis: the order
    /// names AD as its reason, or names no reason and the patient has active AD. Each other
    /// seed-A drug is reviewed as if it had been ordered instead (no dose: the ordered drug's
    /// dose says nothing about another drug).
    fn alternatives(&self, facts: &PatientFacts, order: &ReviewedOrder) -> Option<Vec<Candidate<'k>>> {
        let drug = order.drug()?;
        if !self.knowledge.drug(drug).ad_matrix || !self.for_atopic_dermatitis(facts, order) {
            return None;
        }
        let candidates = self
            .knowledge
            .drugs
            .iter()
            .filter(|d| d.ad_matrix && d.id != drug)
            .map(|d| {
                let prescribed = facts.on_drug(d.id)
                    || facts.medications.iter().any(|m| m.drug == Some(d.id) && m.status == MedicationStatus::Draft);
                if prescribed {
                    return Candidate { drug: d.id, standing: Standing::AlreadyPrescribed };
                }
                let hypothetical = ReviewedOrder {
                    subject: OrderSubject::Drug {
                        drug: d.id,
                        matched_by: crate::facts::MatchedBy::Text(String::new()),
                    },
                    new_start: true,
                    unreadable: None,
                    dose: DoseReading::Missing,
                    ..order.clone()
                };
                let findings = self.findings(facts, &hypothetical);
                let against: Vec<&'k Rule> =
                    findings.iter().filter(|f| f.recommendation.is_against()).map(|f| f.rule).collect();
                let gaps: Vec<&'k Reason> = findings
                    .iter()
                    .flat_map(|f| &f.reasons)
                    .filter(|r| r.reason.withholds_alternative.contains(d.id))
                    .map(|r| r.reason)
                    .collect();
                let standing = if !against.is_empty() {
                    Standing::AdvisedAgainst(against)
                } else if !gaps.is_empty() {
                    Standing::Unchecked(gaps)
                } else {
                    Standing::Suitable
                };
                Candidate { drug: d.id, standing }
            })
            .collect();
        Some(candidates)
    }

    fn for_atopic_dermatitis(&self, facts: &PatientFacts, order: &ReviewedOrder) -> bool {
        for_indication(facts, order, self.knowledge.ad_indication)
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

/// The order is for this indication: its reason says so, or it names no reason and the
/// patient has an active condition in the value set (rules-catalog.md, AD and IBD context).
fn for_indication(facts: &PatientFacts, order: &ReviewedOrder, vs: crate::knowledge::ValueSetId) -> bool {
    if order.has_reason {
        return order.reasons.value_sets.contains(vs);
    }
    facts.conditions.iter().any(|c| c.active && c.concept.class.value_sets.contains(vs))
}

fn targets(rule: &Rule, order: &ReviewedOrder) -> bool {
    match (rule.target, &order.subject) {
        (RuleTarget::Drugs(set), OrderSubject::Drug { drug, .. }) => set.contains(*drug),
        (RuleTarget::OrderedItem(vs), OrderSubject::Item(concept)) => concept.class.value_sets.contains(vs),
        _ => false,
    }
}

struct Ctx<'a> {
    knowledge: &'a Knowledge,
    facts: &'a PatientFacts,
    order: &'a ReviewedOrder,
}

fn within(date: Option<Date>, from: Option<Date>) -> bool {
    match from {
        None => true,
        Some(from) => date.is_some_and(|d| d >= from),
    }
}

impl Ctx<'_> {
    fn since(&self, months: Option<u32>) -> Option<Date> {
        months.map(|m| months_before(self.facts.today, m))
    }

    /// `Some(evidence)` when the criterion holds (evidence may be empty, e.g. for `not`).
    fn eval(&self, criterion: &Criterion) -> Option<Vec<Evidence>> {
        let facts = self.facts;
        match criterion {
            Criterion::All(list) => {
                let mut all = Vec::new();
                for c in list {
                    all.extend(self.eval(c)?);
                }
                Some(all)
            }
            Criterion::Any(list) => {
                let mut found: Option<Vec<Evidence>> = None;
                for c in list {
                    if let Some(e) = self.eval(c) {
                        found.get_or_insert_with(Vec::new).extend(e);
                    }
                }
                found
            }
            Criterion::Not(inner) => match self.eval(inner) {
                Some(_) => None,
                None => Some(Vec::new()),
            },
            Criterion::Age { at_least, below } => {
                let age = facts.age?;
                let ok = at_least.is_none_or(|a| age >= a) && below.is_none_or(|b| age < b);
                ok.then(|| vec![Evidence::new(String::new(), None, EvidenceDetail::Age(age))])
            }
            Criterion::Sex(s) => (facts.sex == *s).then(Vec::new),
            Criterion::AgeUnknown => facts.age.is_none().then(Vec::new),
            Criterion::NewStart => self.order.new_start.then(Vec::new),
            // The indication is context, not a finding: it gives no evidence line.
            Criterion::Indication(vs) => for_indication(facts, self.order, *vs).then(Vec::new),
            Criterion::Dose { mg, per_day } => {
                self.order.dose.matches(*mg, *per_day).then(|| {
                    vec![Evidence::new(String::new(), None, EvidenceDetail::Dose { mg: *mg, per_day: *per_day })]
                })
            }
            Criterion::WeeksOnDrug { more_than } => {
                let drug = self.order.drug()?;
                let first = facts.timeline(drug).first_start?;
                let weeks = (facts.today - first).whole_weeks();
                (weeks > i64::from(*more_than))
                    .then(|| vec![Evidence::new(String::new(), Some(first), EvidenceDetail::FirstOrdered { weeks })])
            }
            Criterion::PreviouslyOnDose { mg, per_day } => {
                let drug = self.order.drug()?;
                let timeline = facts.timeline(drug);
                let earlier = timeline.episodes.iter().find(|e| e.dose.matches(*mg, *per_day))?;
                Some(vec![Evidence::new(
                    String::new(),
                    Some(earlier.start),
                    EvidenceDetail::EarlierOrder { mg: *mg, per_day: *per_day },
                )])
            }
            Criterion::DaysOnDose { mg, per_day, after, within_months, more_than } => {
                let drug = self.order.drug()?;
                let timeline = facts.timeline(drug);
                let from = months_before(facts.today, *within_months);
                // Episodes count only after the first one at the `after` dose (a flare follows maintenance).
                let since = match after {
                    Some((a_mg, a_per_day)) => {
                        timeline.episodes.iter().find(|e| e.dose.matches(*a_mg, *a_per_day))?.start
                    }
                    None => from,
                };
                let days: i64 = timeline
                    .episodes
                    .iter()
                    .filter(|e| e.dose.matches(*mg, *per_day) && e.start >= since)
                    .map(|e| (e.end - e.start.max(from)).whole_days().max(0))
                    .sum();
                (days > i64::from(*more_than)).then(|| {
                    vec![Evidence::new(
                        String::new(),
                        None,
                        EvidenceDetail::DaysOnDose { mg: *mg, per_day: *per_day, days, months: *within_months },
                    )]
                })
            }
            Criterion::OrderedDrug(set) => self.order.drug().is_some_and(|d| set.contains(d)).then(Vec::new),
            Criterion::DoseRead => match &self.order.dose {
                DoseReading::Read { mg, per_day } => {
                    Some(vec![Evidence::new(String::new(), None, EvidenceDetail::Dose { mg: *mg, per_day: *per_day })])
                }
                _ => None,
            },
            Criterion::DoseMissing => matches!(self.order.dose, DoseReading::Missing).then(Vec::new),
            Criterion::DoseUnreadable => match &self.order.dose {
                DoseReading::Unreadable(text) => {
                    Some(vec![Evidence::new(format!("\"{text}\""), None, EvidenceDetail::None)])
                }
                _ => None,
            },
            Criterion::UnclassifiedConditions => (!facts.unclassified.is_empty()).then(|| {
                facts
                    .unclassified
                    .iter()
                    .map(|u| Evidence::new(u.label.clone(), u.date, EvidenceDetail::Unclassified(u.why.clone())))
                    .collect()
            }),
            Criterion::UnidentifiedMedications => (!facts.unidentified_medications.is_empty()).then(|| {
                facts
                    .unidentified_medications
                    .iter()
                    .map(|u| Evidence::new(u.label.clone(), u.date, EvidenceDetail::Unclassified(u.why.clone())))
                    .collect()
            }),
            Criterion::RecordProblems => (!facts.record_problems.is_empty()).then(|| {
                facts.record_problems.iter().map(|p| Evidence::new(p.clone(), None, EvidenceDetail::None)).collect()
            }),
            Criterion::OrderUnreadable => self.order.unreadable.as_ref().map(|e| {
                vec![Evidence::new(
                    format!("{}: {}", self.order.reference, e.lines().next().unwrap_or(e)),
                    None,
                    EvidenceDetail::None,
                )]
            }),
            Criterion::Condition(q) => {
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
            Criterion::Observation(q) => {
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
                    .filter(|o| {
                        !q.date_value_from_today || matches!(o.value, ObservedValue::Date(d) if d >= facts.today)
                    })
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
            Criterion::Medication(q) => {
                let ordered = self.order.drug();
                let items: Vec<Evidence> = facts
                    .medications
                    .iter()
                    .filter(|m| m.concept.class.value_sets.contains(q.value_set))
                    .filter(|m| q.not_in.is_none_or(|vs| !m.concept.class.value_sets.contains(vs)))
                    .filter(|m| q.statuses.contains(&m.status))
                    // The order itself, and the same drug (a continuation, never a combination).
                    .filter(|m| m.reference.as_deref() != Some(self.order.reference.as_str()))
                    .filter(|m| m.drug.is_none() || m.drug != ordered)
                    .filter(|m| q.min_days.is_none_or(|d| facts.course_days(m) >= i64::from(d)))
                    .map(|m| Evidence::new(m.concept.label.clone(), m.date, EvidenceDetail::MedicationStatus(m.status)))
                    .collect();
                (!items.is_empty()).then_some(items)
            }
            Criterion::Immunization(q) => {
                let today = facts.today;
                let items: Vec<Evidence> = facts
                    .immunizations
                    .iter()
                    .filter(|i| i.concept.class.value_sets.contains(q.value_set))
                    .filter(|i| {
                        i.date.is_some_and(|d| {
                            d <= today && q.within_days.is_none_or(|w| (today - d).whole_days() < i64::from(w))
                        })
                    })
                    .map(|i| Evidence::new(i.concept.label.clone(), i.date, EvidenceDetail::None))
                    .collect();
                (!items.is_empty()).then_some(items)
            }
            Criterion::PlannedImmunization(q) => {
                let today = facts.today;
                let items: Vec<Evidence> = facts
                    .planned_immunizations
                    .iter()
                    .filter(|i| i.concept.class.value_sets.contains(q.value_set))
                    .filter(|i| i.reference.as_deref() != Some(self.order.reference.as_str()))
                    .filter(|i| {
                        i.date.is_none_or(|d| q.within_days.is_none_or(|w| (d - today).whole_days() <= i64::from(w)))
                    })
                    .map(|i| Evidence::new(i.concept.label.clone(), i.date, EvidenceDetail::Planned))
                    .collect();
                (!items.is_empty()).then_some(items)
            }
        }
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
