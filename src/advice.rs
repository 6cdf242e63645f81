//! One decision-support call, end to end: request → record → facts → findings → cards.
//! Shared by the HTTP service and the offline `evaluate` command; knows no HTTP.

use std::sync::Arc;

use crate::cards::{self, CardContext};
use crate::engine::Engine;
use crate::facts::{self, PatientFacts};
use crate::fhir::{
    self, DataError, DraftContent, DraftOrder, FhirServerSettings, PatientRecord, WrongData,
};
use crate::knowledge::Knowledge;
use crate::protocol::{CdsRequest, CdsResponse, Feedback, RequestError, parse_feedback};
use crate::vocabulary::{Date, Jurisdiction, Language};

#[derive(Debug, thiserror::Error)]
pub enum AdviceError {
    #[error("there is no CDS service `{0}` here (see GET /cds-services)")]
    UnknownService(String),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Data(#[from] DataError),
}

impl From<WrongData> for AdviceError {
    fn from(e: WrongData) -> Self {
        AdviceError::Data(DataError::Refused(e))
    }
}

/// What a call produced, with the figures worth logging (no patient data).
#[derive(Debug)]
pub struct Advice {
    pub response: CdsResponse,
    pub hook: String,
    pub hook_instance: String,
    pub orders_reviewed: usize,
}

/// The decision-support service: knowledge plus deployment settings.
#[derive(Clone)]
pub struct Advisor {
    pub knowledge: Arc<Knowledge>,
    pub jurisdiction: Jurisdiction,
    pub fhir: FhirServerSettings,
}

impl Advisor {
    pub fn new(
        knowledge: Arc<Knowledge>,
        jurisdiction: Jurisdiction,
        fhir: FhirServerSettings,
    ) -> Self {
        Advisor {
            knowledge,
            jurisdiction,
            fhir,
        }
    }

    pub async fn advise(
        &self,
        service_id: &str,
        body: &[u8],
        language: Language,
        today: Date,
    ) -> Result<Advice, AdviceError> {
        let k = &*self.knowledge;
        let service = k
            .service(service_id)
            .ok_or_else(|| AdviceError::UnknownService(service_id.to_string()))?;
        let request = CdsRequest::parse(body, &service.hook)?;
        let drafts = fhir::read_draft_orders(request.context.draft_orders)?;
        let selections = request.context.selections.as_deref();
        if let Some(selections) = selections {
            for s in selections {
                if !drafts.iter().any(|d| &d.reference == s) {
                    return Err(RequestError::Invalid(format!(
                        "`context.selections` names {s}, which is not in `context.draftOrders`"
                    ))
                    .into());
                }
            }
        }
        let engine = Engine::new(k, self.jurisdiction);
        let done = |orders_reviewed| Advice {
            response: CdsResponse::default(),
            hook: request.hook.clone(),
            hook_instance: request.hook_instance.clone(),
            orders_reviewed,
        };

        // Decide what is in scope from the orders alone: an order for anything else costs no
        // read of the record and no fetch.
        let empty = PatientRecord::default();
        let scoped = facts::reviewed_orders(k, &empty, &drafts, selections, |_| false);
        let needs_record = drafts_needing_record(&drafts, selections);
        if !needs_record && !scoped.iter().any(|o| engine.in_scope(o)) {
            return Ok(done(0));
        }

        let record = fhir::gather(&request, &k.prefetch, &self.fhir).await?;
        let patient_facts = PatientFacts::build(k, &record, &drafts, today);
        let orders: Vec<_> = facts::reviewed_orders(k, &record, &drafts, selections, |d| {
            patient_facts.on_drug(d)
        })
        .into_iter()
        .filter(|o| engine.in_scope(o))
        .collect();
        let reviews: Vec<_> = orders
            .into_iter()
            .map(|o| {
                let review = engine.review(&patient_facts, &o);
                (o, review)
            })
            .collect();
        let ctx = CardContext {
            knowledge: k,
            language,
            patient_id: &request.context.patient_id,
        };
        let mut advice = done(reviews.len());
        advice.response.cards = cards::render(&ctx, &reviews);
        Ok(advice)
    }

    /// Check feedback and tie each entry to the rule its card came from.
    pub fn feedback(
        &self,
        service_id: &str,
        body: &[u8],
    ) -> Result<Vec<(Feedback, Option<String>)>, AdviceError> {
        if self.knowledge.service(service_id).is_none() {
            return Err(AdviceError::UnknownService(service_id.to_string()));
        }
        let entries = parse_feedback(body)?;
        Ok(entries
            .into_iter()
            .map(|f| {
                let rule = cards::rule_of_card(&self.knowledge, &f.card).map(str::to_string);
                (f, rule)
            })
            .collect())
    }
}

/// A selected medication order that names its drug only through a `Medication/…` reference
/// can be recognised only with the record: read it rather than risk missing a JAK inhibitor.
fn drafts_needing_record(drafts: &[DraftOrder], selections: Option<&[String]>) -> bool {
    drafts.iter().any(|d| {
        let selected = selections.is_none_or(|s| s.contains(&d.reference));
        let external_reference = match &d.content {
            DraftContent::Medication(r) => match &r.medication {
                fhir_sdk::r4b::resources::MedicationRequestMedication::Reference(reference) => {
                    reference
                        .reference
                        .as_deref()
                        .is_some_and(|t| !t.starts_with('#'))
                }
                _ => false,
            },
            _ => false,
        };
        selected && external_reference
    })
}
