//! Reading FHIR JSON — a prefetch value, a search page from the server, the draft orders —
//! resource by resource: one malformed resource is named and skipped, never fatal; a resource
//! of the wrong type or for another patient is refused.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::kept::{
    KeptCondition, KeptImmunization, KeptMedicationRequest, KeptMedicationStatement, KeptObservation, KeptPatient,
};
use super::record::{DraftContent, DraftOrder, DraftOrders, PatientRecord, RecordProblem};
use crate::protocol::{PrefetchValue, SplitBundle};

mod glance;
pub use glance::{Glance, GlanceCoding, GlanceConcept, Relevance};

/// The data under a key is not what the key promises: the request is refused (4xx).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WrongData(pub String);

/// What reading one key's JSON gave, besides the resources added to the record.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct KeyReading {
    /// The client or server answered with an OperationOutcome instead of data.
    pub failure: Option<String>,
    /// The search has more pages (`link` `next`).
    pub next_page: Option<String>,
    pub resources: usize,
}

/// A resource's `resourceType` and `id`, read from its first members.
#[derive(Debug, Default)]
struct Peek<'a> {
    resource_type: Option<Cow<'a, str>>,
    id: Option<Cow<'a, str>>,
}

impl Peek<'_> {
    /// Everything wanted has been read.
    fn complete(&self, want_id: bool) -> bool {
        self.resource_type.is_some() && (self.id.is_some() || !want_id)
    }
}

/// Read `resourceType` (and, if `want_id`, `id`) of a JSON object, stopping as soon as they are
/// found: FHIR JSON puts them first, so this costs a few bytes instead of a scan through the
/// whole resource — or a whole Bundle — which the typed parse reads in full anyway. The body
/// was already checked to be valid JSON when the request was read. `None`: not a JSON object.
fn peek(json: &str, want_id: bool) -> Option<Peek<'_>> {
    #[derive(Deserialize)]
    struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);

    enum Member {
        ResourceType,
        Id,
        Other,
    }
    impl<'de> Deserialize<'de> for Member {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Names;
            impl serde::de::Visitor<'_> for Names {
                type Value = Member;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a member name")
                }
                fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Member, E> {
                    Ok(match v {
                        "resourceType" => Member::ResourceType,
                        "id" => Member::Id,
                        _ => Member::Other,
                    })
                }
            }
            d.deserialize_identifier(Names)
        }
    }

    struct Members<'p, 'a> {
        out: &'p mut Peek<'a>,
        want_id: bool,
    }
    impl<'de> serde::de::Visitor<'de> for Members<'_, 'de> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a FHIR resource")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(member) = map.next_key::<Member>()? {
                match member {
                    Member::ResourceType => self.out.resource_type = map.next_value::<Option<Borrowed>>()?.map(|b| b.0),
                    Member::Id => self.out.id = map.next_value::<Option<Borrowed>>()?.map(|b| b.0),
                    Member::Other => {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                if self.out.complete(self.want_id) {
                    // Stop here: the parser then finds members where it expects the object's
                    // end, a syntax error that costs one allocation (a custom error message
                    // would be formatted and searched, for every resource).
                    return Ok(());
                }
            }
            Ok(())
        }
    }

    let mut out = Peek::default();
    let mut de = serde_json::Deserializer::from_str(json);
    match serde::Deserializer::deserialize_map(&mut de, Members { out: &mut out, want_id }) {
        Ok(()) => Some(out),
        // The visitor stops right after the last wanted member is stored, and stores nothing
        // when an error comes first: a complete `out` is what was wanted.
        Err(_) if out.complete(want_id) => Some(out),
        Err(_) => None,
    }
}

#[derive(Deserialize)]
struct WireOutcome {
    #[serde(default)]
    issue: Vec<WireIssue>,
}

#[derive(Deserialize)]
struct WireIssue {
    severity: Option<String>,
    code: Option<String>,
    diagnostics: Option<String>,
    details: Option<WireText>,
}

#[derive(Deserialize)]
struct WireText {
    text: Option<String>,
}

/// A search page's `next` link and how many entries it holds (a read counts as one).
pub fn next_link(json: &str) -> (Option<String>, usize) {
    match serde_json::from_str::<SplitBundle>(json) {
        Ok(bundle) => (bundle.next_page().map(str::to_string), bundle.entry.len()),
        Err(_) => (None, 1),
    }
}

/// The resource types each prefetch key may hold.
pub fn allowed_types(key: &str) -> &'static [&'static str] {
    match key {
        "patient" => &["Patient"],
        "conditions" => &["Condition"],
        "medications" => &["MedicationRequest", "MedicationStatement", "Medication"],
        "observations" => &["Observation"],
        "immunizations" => &["Immunization", "ImmunizationRecommendation"],
        _ => &[],
    }
}

/// The message of an OperationOutcome, for the answer to the EHR.
pub fn outcome_message(json: &str) -> String {
    let Ok(outcome) = serde_json::from_str::<WireOutcome>(json) else {
        return "an unreadable OperationOutcome".into();
    };
    let parts: Vec<String> = outcome
        .issue
        .iter()
        .map(|i| {
            let text = i.diagnostics.clone().or_else(|| i.details.as_ref().and_then(|d| d.text.clone()));
            format!(
                "{} {}: {}",
                i.severity.as_deref().unwrap_or("error"),
                i.code.as_deref().unwrap_or("unknown"),
                text.as_deref().unwrap_or("(no text)")
            )
        })
        .collect();
    if parts.is_empty() { "an OperationOutcome without issues".into() } else { parts.join("; ") }
}

/// Read one key's JSON (a resource or a searchset Bundle, of which the first `max_entries`
/// entries) into the record. `relevance` decides from a glance whether a resource is worth its
/// typed parse (none: every one is parsed).
pub fn read_key(
    key: &str,
    json: &RawValue,
    patient_id: &str,
    record: &mut PatientRecord,
    max_entries: usize,
    relevance: Option<&Relevance>,
) -> Result<KeyReading, WrongData> {
    let peek = peek(json.get(), false).ok_or_else(|| {
        WrongData(format!("prefetch `{key}` is not a FHIR resource (a JSON object with resourceType)"))
    })?;
    let mut reading = KeyReading::default();
    match peek.resource_type.as_deref() {
        Some("Bundle") => {
            let bundle: SplitBundle = serde_json::from_str(json.get())
                .map_err(|e| WrongData(format!("prefetch `{key}`: the Bundle cannot be read: {e}")))?;
            return read_bundle(key, &bundle, patient_id, record, max_entries, relevance);
        }
        Some("OperationOutcome") => reading.failure = Some(outcome_message(json.get())),
        Some(_) => {
            let glancing = &mut Glancing::default();
            if read_resource(key, json, || key.to_string(), patient_id, record, relevance, glancing)? {
                reading.resources += 1;
            }
        }
        None => return Err(WrongData(format!("prefetch `{key}` has no resourceType"))),
    }
    Ok(reading)
}

/// Read what the client sent under one prefetch key into the record (`None`: `null`, no data).
pub fn read_prefetched(
    key: &str,
    value: &PrefetchValue<'_>,
    patient_id: &str,
    record: &mut PatientRecord,
    relevance: Option<&Relevance>,
) -> Result<Option<KeyReading>, WrongData> {
    match value {
        PrefetchValue::Null => Ok(None),
        PrefetchValue::Json(json) => read_key(key, json, patient_id, record, usize::MAX, relevance).map(Some),
        PrefetchValue::Bundle(bundle) => read_bundle(key, bundle, patient_id, record, usize::MAX, relevance).map(Some),
    }
}

/// Read the entries of one key's Bundle (already split, the first `max_entries`) into the record.
fn read_bundle(
    key: &str,
    bundle: &SplitBundle<'_>,
    patient_id: &str,
    record: &mut PatientRecord,
    max_entries: usize,
    relevance: Option<&Relevance>,
) -> Result<KeyReading, WrongData> {
    let mut reading = KeyReading { next_page: bundle.next_page().map(str::to_string), ..KeyReading::default() };
    let mut glancing = Glancing::for_bundle(bundle.entry.len());
    for (i, entry) in bundle.entry.iter().enumerate().take(max_entries) {
        let Some(resource) = entry.resource else {
            continue;
        };
        let place = || entry.full_url.as_deref().map_or_else(|| format!("entry[{i}]"), str::to_string);
        if read_resource(key, resource, place, patient_id, record, relevance, &mut glancing)? {
            reading.resources += 1;
        }
    }
    Ok(reading)
}

/// Whether glancing at the resources of one Bundle saves work. A glance costs about 0.6 of a
/// typed parse (9.1 k against 15.0 k instructions per resource in `bench/typical.json`, callgrind,
/// 2026-12-03), so it pays only while most resources turn out to be of no use: in a Bundle
/// where most are of use (a short record, a series of the lab values the rules read), the
/// glances stop and every resource is parsed. One in `PROBE` is still glanced; when such a
/// probe finds a resource of no use, glancing starts over, so that a Bundle whose later part
/// is of no use is glanced again. A short Bundle is read in full: glances would save little.
#[derive(Debug, Default)]
struct Glancing {
    glanced: usize,
    of_use: usize,
    skipped: usize,
    probing: bool,
    off: bool,
}

impl Glancing {
    /// At most this many resources are parsed without a glance: at worst (none of use) a few
    /// tens of microseconds, where glancing at a short record that is all of use (the common
    /// case) costs 0.6 as much again.
    const SHORT: usize = 16;

    fn for_bundle(entries: usize) -> Glancing {
        Glancing { off: entries <= Self::SHORT, ..Glancing::default() }
    }

    /// Glance at the first resources, then while fewer than 40 % of those glanced were of use
    /// (then more than 60 % were of no use: the break-even).
    const FIRST: usize = 8;
    const PROBE: usize = 17;

    fn worth_it(&mut self) -> bool {
        if self.off {
            return false;
        }
        if self.glanced < Self::FIRST || self.of_use * 5 < self.glanced * 2 {
            return true;
        }
        self.skipped += 1;
        self.probing = self.skipped == Self::PROBE;
        if self.probing {
            self.skipped = 0;
        }
        self.probing
    }

    fn saw(&mut self, of_use: bool) {
        if std::mem::take(&mut self.probing) && !of_use {
            *self = Glancing::default();
        }
        self.glanced += 1;
        self.of_use += usize::from(of_use);
    }
}

/// Returns whether a resource was added (OperationOutcome entries are search messages: skipped).
/// `place` says where the resource stood, for messages about one without an id.
fn read_resource(
    key: &str,
    raw: &RawValue,
    place: impl Fn() -> String,
    patient_id: &str,
    record: &mut PatientRecord,
    relevance: Option<&Relevance>,
    glancing: &mut Glancing,
) -> Result<bool, WrongData> {
    let peek = peek(raw.get(), true).ok_or_else(|| {
        WrongData(format!("prefetch `{key}` holds an entry that is not a FHIR resource ({})", place()))
    })?;
    let kind = peek.resource_type.as_deref().unwrap_or("");
    // The resource's name, for messages only: made when one is needed.
    let name = || match &peek.id {
        Some(id) => format!("{kind}/{id}"),
        None => format!("{kind} ({})", place()),
    };
    if kind == "OperationOutcome" {
        return Ok(false);
    }
    if !allowed_types(key).contains(&kind) {
        return Err(WrongData(format!(
            "prefetch `{key}` holds {}; it may only hold {}",
            name(),
            allowed_types(key).join(" or ")
        )));
    }
    let Some(relevance) = relevance.filter(|_| glance::GLANCED.contains(&kind)) else {
        return typed(kind, raw, key, name, patient_id, record);
    };
    // A resource no rule can use is checked for the patient and counted, and not parsed.
    let of_no_use = |g: &Glance<'_>, record: &mut PatientRecord| {
        check_patient(g.subject.as_ref().and_then(|s| s.reference.as_deref()), patient_id, key, name)?;
        record.not_used += 1;
        Ok(true)
    };
    let glanced = glancing.worth_it();
    if glanced && let Some(g) = glance::glance(raw.get()) {
        let of_use = (relevance.0)(&g);
        glancing.saw(of_use);
        if !of_use {
            return of_no_use(&g, record);
        }
    }
    let problems = record.problems.len();
    let read = typed(kind, raw, key, name, patient_id, record)?;
    // One that was not glanced at and cannot be parsed is glanced at now: whether a resource of
    // no use is named as unreadable must not depend on where it stood in its Bundle.
    if !glanced
        && record.problems.len() > problems
        && let Some(g) = glance::glance(raw.get())
        && !(relevance.0)(&g)
    {
        record.problems.truncate(problems);
        return of_no_use(&g, record);
    }
    Ok(read)
}

/// The typed parse of one resource of an allowed type into the record.
fn typed(
    kind: &str,
    raw: &RawValue,
    key: &str,
    name: impl Fn() -> String,
    patient_id: &str,
    record: &mut PatientRecord,
) -> Result<bool, WrongData> {
    match kind {
        // Medication and ImmunizationRecommendation are read whole; the others only as far as
        // the rules read them (`kept.rs`).
        "Patient" => match parse::<KeptPatient>(raw) {
            Ok(p) => {
                if let Some(id) = &p.id
                    && id != patient_id
                {
                    return Err(WrongData(format!(
                        "prefetch `patient` is Patient/{id}, but context.patientId is another patient"
                    )));
                }
                record.patient = Some(p);
                Ok(true)
            }
            Err(error) => {
                record.problems.push(RecordProblem::Unreadable { resource: name(), key: key.to_string(), error });
                Ok(false)
            }
        },
        "Condition" => take(raw, key, name, patient_id, &mut record.problems, |r| record.conditions.push(r)),
        "MedicationRequest" => {
            take(raw, key, name, patient_id, &mut record.problems, |r| record.medication_requests.push(r))
        }
        "MedicationStatement" => {
            take(raw, key, name, patient_id, &mut record.problems, |r| record.medication_statements.push(r))
        }
        "Medication" => take(raw, key, name, patient_id, &mut record.problems, |r| record.medications.push(r)),
        "Observation" => take(raw, key, name, patient_id, &mut record.problems, |r| record.observations.push(r)),
        "Immunization" => take(raw, key, name, patient_id, &mut record.problems, |r| record.immunizations.push(r)),
        "ImmunizationRecommendation" => {
            take(raw, key, name, patient_id, &mut record.problems, |r| record.immunization_recommendations.push(r))
        }
        _ => unreachable!("allowed_types lists only the types above"),
    }
}

/// The patient a resource is about, as its reference says.
trait AboutPatient {
    fn patient_reference(&self) -> Option<&str>;
}

macro_rules! about_patient {
    ($($ty:ty => |$r:ident| $e:expr;)*) => {
        $(impl AboutPatient for $ty {
            fn patient_reference(&self) -> Option<&str> {
                let $r = self;
                $e
            }
        })*
    };
}

about_patient! {
    KeptCondition => |r| r.subject.reference.as_deref();
    KeptMedicationRequest => |r| r.subject.reference.as_deref();
    KeptMedicationStatement => |r| r.subject.reference.as_deref();
    fhir_sdk::r4b::resources::Medication => |_r| None;
    KeptObservation => |r| r.subject.as_ref().and_then(|s| s.reference.as_deref());
    KeptImmunization => |r| r.patient.reference.as_deref();
    fhir_sdk::r4b::resources::ImmunizationRecommendation => |r| r.patient.reference.as_deref();
}

/// Parse one resource and hand it to `keep`; unreadable ones are named in `problems`.
fn take<T: DeserializeOwned + AboutPatient>(
    raw: &RawValue,
    key: &str,
    name: impl Fn() -> String,
    patient_id: &str,
    problems: &mut Vec<RecordProblem>,
    keep: impl FnOnce(T),
) -> Result<bool, WrongData> {
    match parse::<T>(raw) {
        Ok(r) => {
            check_patient(r.patient_reference(), patient_id, key, name)?;
            keep(r);
            Ok(true)
        }
        Err(error) => {
            problems.push(RecordProblem::Unreadable { resource: name(), key: key.to_string(), error });
            Ok(false)
        }
    }
}

fn parse<T: DeserializeOwned>(raw: &RawValue) -> Result<T, String> {
    serde_json::from_str(raw.get()).map_err(|e| e.to_string())
}

/// A resource about another patient must never be used: refuse the whole request.
fn check_patient(
    reference: Option<&str>,
    patient_id: &str,
    key: &str,
    name: impl Fn() -> String,
) -> Result<(), WrongData> {
    let Some(reference) = reference else {
        return Ok(());
    };
    let mut parts = reference.trim_end_matches('/').rsplit('/');
    let (Some(id), Some(kind)) = (parts.next(), parts.next()) else {
        return Ok(());
    };
    if kind == "Patient" && id != patient_id {
        return Err(WrongData(format!(
            "prefetch `{key}` holds {}, which is about another patient than context.patientId",
            name()
        )));
    }
    Ok(())
}

/// Why `context.draftOrders` is refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum DraftOrdersRefused {
    /// Not a Bundle of resources (422).
    #[error(transparent)]
    Wrong(#[from] WrongData),
    /// Two entries with the same `ResourceType/id` and different content (400): which one the
    /// prescriber is about to sign cannot be told.
    #[error(
        "`context.draftOrders` holds {reference} twice with different content (entries {first} and {second}): \
         which one is being ordered cannot be told"
    )]
    Conflicting { reference: String, first: usize, second: usize },
    /// More orders than a call may carry (413).
    #[error(
        "`context.draftOrders` holds more than {limit} orders; this service reviews at most {limit} per call \
         (`limits.max_draft_orders`)"
    )]
    TooMany { limit: usize },
}

/// Read `context.draftOrders`: the orders (an id repeated with the same content counts once)
/// and the Medications they may reference; at most `max_orders` orders.
pub fn read_draft_orders(raw: &RawValue, max_orders: usize) -> Result<DraftOrders, DraftOrdersRefused> {
    let bundle_peek =
        peek(raw.get(), false).ok_or_else(|| WrongData("`context.draftOrders` is not a FHIR Bundle".into()))?;
    if bundle_peek.resource_type.as_deref() != Some("Bundle") {
        return Err(WrongData("`context.draftOrders` must be a FHIR Bundle".into()).into());
    }
    let bundle: SplitBundle =
        serde_json::from_str(raw.get()).map_err(|e| WrongData(format!("`context.draftOrders` cannot be read: {e}")))?;
    let mut drafts = DraftOrders::default();
    // Each order reference seen, with its entry and raw JSON: a repeat is compared, not re-read.
    let mut seen: HashMap<String, (usize, &str)> = HashMap::new();
    for (i, entry) in bundle.entry.iter().enumerate() {
        let Some(resource) = entry.resource else {
            return Err(WrongData(format!("`context.draftOrders` entry {i} has no resource")).into());
        };
        let entry_peek = peek(resource.get(), true)
            .ok_or_else(|| WrongData(format!("`context.draftOrders` entry {i} is not a FHIR resource")))?;
        let kind = entry_peek.resource_type.as_deref().unwrap_or_default();
        if kind.is_empty() {
            return Err(WrongData(format!("`context.draftOrders` entry {i} has no resourceType")).into());
        }
        let reference = match &entry_peek.id {
            Some(id) => format!("{kind}/{id}"),
            None => entry.full_url.as_deref().map_or_else(|| format!("{kind}/#{i}"), str::to_string),
        };
        if kind == "Medication" {
            // A Medication that an order's medicationReference points to.
            if let Ok(m) = parse(resource) {
                drafts.medications.push(m);
            }
            continue;
        }
        if entry_peek.id.is_some() {
            match seen.entry(reference.clone()) {
                Entry::Occupied(first) => {
                    let (first, json) = *first.get();
                    if same_json(json, resource.get()) {
                        continue;
                    }
                    return Err(DraftOrdersRefused::Conflicting { reference, first, second: i });
                }
                Entry::Vacant(slot) => {
                    slot.insert((i, resource.get()));
                }
            }
        }
        if drafts.orders.len() == max_orders {
            return Err(DraftOrdersRefused::TooMany { limit: max_orders });
        }
        let content = match kind {
            "MedicationRequest" => match parse(resource) {
                Ok(r) => DraftContent::Medication(Box::new(r)),
                Err(error) => DraftContent::Unreadable { error, json: resource.get().to_string() },
            },
            "ServiceRequest" => match parse(resource) {
                Ok(r) => DraftContent::Service(r),
                Err(error) => DraftContent::Unreadable { error, json: resource.get().to_string() },
            },
            _ => DraftContent::Other,
        };
        drafts.orders.push(DraftOrder { reference, has_id: entry_peek.id.is_some(), content });
    }
    Ok(drafts)
}

/// The same JSON: byte for byte, or the same value written differently (spacing, key order).
fn same_json(a: &str, b: &str) -> bool {
    a == b
        || matches!(
            (serde_json::from_str::<serde_json::Value>(a), serde_json::from_str::<serde_json::Value>(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

#[cfg(test)]
mod tests;
