//! One decision-support call, end to end: request → record → facts → findings → cards.
//! Shared by the HTTP service and the offline `evaluate` command; knows no HTTP.

use std::sync::Arc;

use crate::cards::{self, CardContext};
use crate::engine::Engine;
use crate::facts::{self, OrderSubject, PatientFacts};
use crate::fhir::{self, DataError, FhirServerSettings, PatientRecord, WrongData};
use crate::knowledge::Knowledge;
use crate::protocol::{CdsRequest, CdsResponse, Feedback, RequestError, parse_feedback};
use crate::terminology::{ServerAnswers, TerminologyServer};
use crate::vocabulary::{Date, Jurisdiction, Language};

#[derive(Debug, thiserror::Error)]
pub enum AdviceError {
    #[error("there is no CDS service `{0}` here (see GET /cds-services)")]
    UnknownService(String),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    DraftOrders(#[from] fhir::DraftOrdersRefused),
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
    /// The decision matrix of this call, to be stored under its token (the cards link to it).
    pub matrix: Option<MatrixPage>,
}

/// A decision-matrix page made by a call: its token and what it shows.
#[derive(Debug)]
pub struct MatrixPage {
    pub token: String,
    pub view: cards::matrix::MatrixView,
}

/// The decision-support service: knowledge plus deployment settings.
#[derive(Clone)]
pub struct Advisor {
    pub knowledge: Arc<Knowledge>,
    pub jurisdiction: Jurisdiction,
    pub fhir: FhirServerSettings,
    /// Where the rules page is served, for the cards' links (none offline).
    pub public_url: Option<String>,
    /// The hospital's terminology server, for codes no shipped expansion holds.
    pub terminology: Option<Arc<TerminologyServer>>,
    /// Most orders one call may carry (`limits.max_draft_orders`).
    pub max_draft_orders: usize,
    /// Make a decision-matrix page for atopic-dermatitis orders (only with a public URL).
    pub matrix: bool,
    /// Which prefetched resources get their typed parse (made once: it depends on the knowledge).
    relevance: fhir::Relevance,
}

impl Advisor {
    pub fn new(knowledge: Arc<Knowledge>, jurisdiction: Jurisdiction, fhir: FhirServerSettings) -> Self {
        Advisor {
            relevance: facts::relevance(Arc::clone(&knowledge)),
            knowledge,
            jurisdiction,
            fhir,
            public_url: None,
            terminology: None,
            max_draft_orders: crate::config::DEFAULT_MAX_DRAFT_ORDERS,
            matrix: true,
        }
    }

    pub fn with_max_draft_orders(mut self, max: usize) -> Self {
        self.max_draft_orders = max;
        self
    }

    pub fn with_matrix(mut self, enabled: bool) -> Self {
        self.matrix = enabled;
        self
    }

    pub fn with_terminology_server(mut self, server: Option<TerminologyServer>) -> Self {
        self.terminology = server.map(Arc::new);
        self
    }

    /// Ask the terminology server (if any) about `codes` by `deadline`.
    async fn ask_terminology(&self, codes: &[(String, String)], deadline: std::time::Instant) -> ServerAnswers {
        match &self.terminology {
            Some(server) if !codes.is_empty() => server.classify(&self.knowledge, codes, deadline).await,
            _ => ServerAnswers::default(),
        }
    }

    pub fn with_public_url(mut self, url: String) -> Self {
        self.public_url = Some(url.trim_end_matches('/').to_string());
        self
    }

    pub async fn advise(
        &self,
        service_id: &str,
        body: &[u8],
        language: Language,
        today: Date,
    ) -> Result<Advice, AdviceError> {
        let k = &*self.knowledge;
        let service = k.service(service_id).ok_or_else(|| AdviceError::UnknownService(service_id.to_string()))?;
        let request = CdsRequest::parse(body, &service.hook)?;
        let drafts = fhir::read_draft_orders(request.context.draft_orders, self.max_draft_orders)?;
        let selections = request.context.selections.as_deref();
        if let Some(selections) = selections {
            for s in selections {
                if !drafts.orders.iter().any(|d| &d.reference == s) {
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
            matrix: None,
        };

        // Decide what is in scope from the orders alone: an order for anything else costs no
        // read of the record and no fetch. An order whose medication is only a reference may be
        // in scope: the record (or the server) must tell.
        let from_drafts = PatientRecord { medications: drafts.medications.clone(), ..Default::default() };
        let scoped = facts::reviewed_orders(k, &from_drafts, &drafts.orders, selections, |_| false);
        if !scoped.iter().any(|o| engine.in_scope(o) || matches!(o.subject, OrderSubject::Unidentified { .. })) {
            return Ok(done(0));
        }

        // One time budget for everything fetched in this call. The terminology server is asked
        // about the prefetched conditions while the FHIR server is asked for what prefetch lacks.
        let deadline = self.fhir.deadline();
        let gathering = fhir::read_prefetch(&request, &k.prefetch, &k.server_queries, Some(self.relevance.clone()))?;
        // Without a terminology server there is no one to ask: the codes are not gathered.
        let asking = self.terminology.is_some();
        let early = if asking { facts::codes_for_terminology_server(k, &gathering.record) } else { Vec::new() };
        let (record, mut answers) = tokio::join!(
            fhir::complete(&request, gathering, &self.fhir, deadline),
            self.ask_terminology(&early, deadline)
        );
        let mut record = record?;
        if asking {
            let late: Vec<(String, String)> = facts::codes_for_terminology_server(k, &record)
                .into_iter()
                .filter(|(s, c)| !answers.contains(s, c))
                .collect();
            answers.extend(self.ask_terminology(&late, deadline).await);
        }
        record.medications.extend(drafts.medications);
        // Orders naming their medication only by reference: fetch those Medications. (The record
        // can only resolve references the draft orders left open: none open, none to fetch.)
        let unidentified = |o: &facts::ReviewedOrder| matches!(o.subject, OrderSubject::Unidentified { .. });
        let unresolved: Vec<String> = if scoped.iter().any(unidentified) {
            facts::reviewed_orders(k, &record, &drafts.orders, selections, |_| false)
                .into_iter()
                .filter_map(|o| match o.subject {
                    OrderSubject::Unidentified { medication_reference } => Some(medication_reference),
                    _ => None,
                })
                .collect()
        } else {
            Vec::new()
        };
        fhir::fetch_medications(&request, &self.fhir, &unresolved, &mut record, deadline).await?;
        let patient_facts = PatientFacts::build(k, &record, &drafts.orders, today, &answers);
        let orders = facts::reviewed_orders(k, &record, &drafts.orders, selections, |d| patient_facts.on_drug(d));
        if let Some((order, reference)) = orders.iter().find_map(|o| match &o.subject {
            OrderSubject::Unidentified { medication_reference } => Some((&o.reference, medication_reference)),
            _ => None,
        }) {
            let fetched =
                if request.fhir_server.is_some() { ", and which could not be read from fhirServer" } else { "" };
            return Err(DataError::Unavailable(format!(
                "{order} names its medication only as {reference}, which neither draftOrders nor the \
                 prefetch holds{fetched}: the service cannot tell whether it is a drug it must check"
            ))
            .into());
        }
        let reviews: Vec<_> = orders
            .into_iter()
            .filter(|o| engine.in_scope(o))
            .map(|o| {
                let review = engine.review(&patient_facts, &o);
                (o, review)
            })
            .collect();
        let matrix = self.matrix_page(&engine, &patient_facts, &reviews, language, &request.context.patient_id);
        let ctx = CardContext {
            knowledge: k,
            language,
            patient_id: &request.context.patient_id,
            rules_url: self.public_url.as_ref().map(|u| format!("{u}/rules")),
            matrix_url: matrix.as_ref().and_then(|p| Some(format!("{}/matrix/{}", self.public_url.as_ref()?, p.token))),
        };
        let mut advice = done(reviews.len());
        advice.matrix = matrix;
        advice.response.cards = cards::render(&ctx, &reviews);
        Ok(advice)
    }

    /// The decision matrix of a call with an atopic-dermatitis order, under a new token (none
    /// when the feature is off or there is no URL to link it from).
    fn matrix_page(
        &self,
        engine: &Engine<'_>,
        facts: &PatientFacts,
        reviews: &[(facts::ReviewedOrder, crate::engine::OrderReview<'_>)],
        language: Language,
        patient_id: &str,
    ) -> Option<MatrixPage> {
        let k = &*self.knowledge;
        if !self.matrix || self.public_url.is_none() {
            return None;
        }
        let on_matrix: Vec<_> = reviews.iter().filter(|(o, r)| cards::on_matrix(k, o, r)).collect();
        let (first, review) = on_matrix.first()?;
        let ordered: Vec<_> = on_matrix.iter().filter_map(|(o, _)| o.drug()).collect();
        let view = cards::matrix::build(k, engine, facts, first, review, &ordered, language, patient_id);
        Some(MatrixPage { token: cards::matrix::new_token(crate::storage::now_ms()), view })
    }

    /// For `classify`: every resource a request carries (prefetch and draft orders), read as a
    /// call reads it — nothing is fetched — and what the service recognises in each.
    pub fn classify(&self, body: &[u8]) -> Result<Vec<facts::ClassifiedResource>, AdviceError> {
        let hook = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("hook")?.as_str().map(str::to_string))
            .ok_or(RequestError::Missing("hook"))?;
        let request = CdsRequest::parse(body, &hook)?;
        let drafts = fhir::read_draft_orders(request.context.draft_orders, self.max_draft_orders)?;
        let mut record = PatientRecord::default();
        let patient_id = &request.context.patient_id;
        for key in fhir::KEYS {
            // Every resource is read (no relevance): `classify` shows them all.
            if let Some(value) = request.prefetch.get(key) {
                fhir::read_prefetched(key, value, patient_id, &mut record, None)?;
            }
        }
        record.medications.extend(drafts.medications);
        for d in drafts.orders {
            if let fhir::DraftContent::Medication(r) = d.content {
                record.medication_requests.push(*r);
            }
        }
        Ok(facts::classify_record(&self.knowledge, &record, &ServerAnswers::default()))
    }

    /// Check feedback and tie each entry to the rule its card came from.
    pub fn feedback(&self, service_id: &str, body: &[u8]) -> Result<Vec<(Feedback, Option<String>)>, AdviceError> {
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
