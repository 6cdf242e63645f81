//! The patient's FHIR R4 data as read, in fhir-sdk's `r4b` types (they parse R4 for the
//! resources used here; of an Observation only the elements the rules read are kept), plus
//! what could not be read.

use fhir_sdk::Instant;
use fhir_sdk::r4b::codes::ObservationStatus;
use fhir_sdk::r4b::resources::{
    Condition, Immunization, ImmunizationRecommendation, Medication, MedicationRequest, MedicationStatement,
    Observation, ObservationEffective, ObservationValue, Patient, ServiceRequest,
};
use fhir_sdk::r4b::types::CodeableConcept;

/// Something the service met while reading the record that limits what it can check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordProblem {
    /// A resource of the right type that fhir-sdk could not read; the others were kept.
    Unreadable { resource: String, key: String, error: String },
    /// A search returned more pages than the service was given or may fetch.
    CutShort { key: String, reason: String },
}

/// Everything read for one patient, from prefetch or the FHIR server.
#[derive(Debug, Default)]
pub struct PatientRecord {
    pub patient: Option<Patient>,
    pub conditions: Vec<Condition>,
    pub medication_requests: Vec<MedicationRequest>,
    pub medication_statements: Vec<MedicationStatement>,
    /// Medication resources that orders refer to (`_include`d or sent alongside).
    pub medications: Vec<Medication>,
    pub observations: Vec<KeptObservation>,
    pub immunizations: Vec<Immunization>,
    pub immunization_recommendations: Vec<ImmunizationRecommendation>,
    pub problems: Vec<RecordProblem>,
    /// Resources of the patient no rule can use: checked for the patient, counted, not parsed.
    pub not_used: usize,
}

/// What is kept of an Observation after fhir-sdk's typed parse: the elements the rules read.
/// The rest (narrative, identifiers, performers, reference ranges, components, …) is dropped as
/// soon as the resource is read: a long series of lab values is most of a large record, and
/// each parsed Observation is several times the size of what is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptObservation {
    pub id: Option<String>,
    pub status: ObservationStatus,
    pub code: CodeableConcept,
    pub effective: Option<ObservationEffective>,
    pub issued: Option<Instant>,
    pub value: Option<ObservationValue>,
    pub interpretation: Vec<Option<CodeableConcept>>,
}

impl From<Observation> for KeptObservation {
    fn from(o: Observation) -> KeptObservation {
        let o = *o.0;
        KeptObservation {
            id: o.id,
            status: o.status,
            code: o.code,
            effective: o.effective,
            issued: o.issued,
            value: o.value,
            interpretation: o.interpretation,
        }
    }
}

/// One entry of `context.draftOrders`.
#[derive(Debug)]
pub struct DraftOrder {
    /// `ResourceType/id`, as `context.selections` names it.
    pub reference: String,
    /// The entry has a resource id (only then can a suggestion delete it by `resourceId`).
    pub has_id: bool,
    pub content: DraftContent,
}

/// `context.draftOrders`: the orders, and Medication resources their `medicationReference`s
/// may point to.
#[derive(Debug, Default)]
pub struct DraftOrders {
    pub orders: Vec<DraftOrder>,
    pub medications: Vec<Medication>,
}

#[derive(Debug)]
pub enum DraftContent {
    Medication(MedicationRequest),
    Service(ServiceRequest),
    /// Orders of other kinds (NutritionOrder, DeviceRequest, …): never in scope here.
    Other,
    /// An order that fhir-sdk could not read: the raw JSON is kept so that an order for one of
    /// the seven drugs can still be recognised and reported as unchecked.
    Unreadable {
        error: String,
        json: String,
    },
}
