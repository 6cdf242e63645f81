//! The patient's FHIR R4 data as read, in fhir-sdk's `r4b` types (they parse R4 for the
//! resources used here; of a Patient, Condition, Observation, MedicationRequest,
//! MedicationStatement or Immunization only the elements the rules read: `kept.rs`), plus what
//! could not be read.

use fhir_sdk::r4b::resources::{ImmunizationRecommendation, Medication, ServiceRequest};

use super::kept::{
    KeptCondition, KeptImmunization, KeptMedicationRequest, KeptMedicationStatement, KeptObservation, KeptPatient,
};

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
    pub patient: Option<KeptPatient>,
    pub conditions: Vec<KeptCondition>,
    pub medication_requests: Vec<KeptMedicationRequest>,
    pub medication_statements: Vec<KeptMedicationStatement>,
    /// Medication resources that orders refer to (`_include`d or sent alongside).
    pub medications: Vec<Medication>,
    pub observations: Vec<KeptObservation>,
    pub immunizations: Vec<KeptImmunization>,
    pub immunization_recommendations: Vec<ImmunizationRecommendation>,
    pub problems: Vec<RecordProblem>,
    /// Resources of the patient no rule can use: checked for the patient, counted, not parsed.
    pub not_used: usize,
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
    Medication(Box<KeptMedicationRequest>),
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
