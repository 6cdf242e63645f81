//! `cargo bench --bench engine`: one order-select call with a baricitinib order, for a small
//! patient (the fixture as it is: 16 resources), a typical one (20 conditions, 10 medications,
//! 50 observations) and a heavy one (500 conditions, 200 medications, 2,000 observations, 100
//! immunizations) — bench/make_requests.py writes them — through the whole pipeline (JSON →
//! record → facts → findings → cards), stage by stage, against the bare parse of the same body
//! into a `serde_json::Value`; an order-sign call with 50 to 500 draft orders (the cost must grow
//! with the orders, no faster); and the start-up load of the knowledge.

use std::path::PathBuf;
use std::sync::Arc;

use advanced_therapy_cds::advice::Advisor;
use advanced_therapy_cds::cards::{self, CardContext};
use advanced_therapy_cds::engine::Engine;
use advanced_therapy_cds::facts::{self, PatientFacts};
use advanced_therapy_cds::fhir::{self, DraftOrders, FhirServerSettings, PatientRecord};
use advanced_therapy_cds::knowledge::Knowledge;
use advanced_therapy_cds::protocol::CdsRequest;
use advanced_therapy_cds::terminology::ServerAnswers;
use advanced_therapy_cds::vocabulary::{Jurisdiction, Language};
use divan::Bencher;

/// The service binary's allocator (src/main.rs), so the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SERVICE: &str = "advanced-therapy-order-select";
const SIZES: [&str; 3] = ["small", "typical", "heavy"];

fn main() {
    divan::main();
}

fn knowledge_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cds-services")
}

fn request(patient: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("bench/{patient}.json"))).unwrap()
}

fn today() -> time::Date {
    time::macros::date!(2026 - 11 - 28)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The whole call, from the request body to the cards.
#[divan::bench(args = SIZES)]
fn advise(bencher: Bencher, patient: &str) {
    let advisor = Advisor::new(
        Arc::new(Knowledge::load(&knowledge_dir()).unwrap()),
        Jurisdiction::Nl,
        FhirServerSettings::default(),
    );
    let body = request(patient);
    let rt = runtime();
    bencher.bench_local(|| rt.block_on(advisor.advise(SERVICE, &body, Language::En, today())).unwrap());
}

/// What the load test's baseline does with the body: parse it into a `serde_json::Value`.
#[divan::bench(args = SIZES)]
fn baseline_parse(bencher: Bencher, patient: &str) {
    let body = request(patient);
    bencher.bench_local(|| serde_json::from_slice::<serde_json::Value>(&body).unwrap());
}

/// An order-sign call for the small patient with `n` distinct draft orders (one baricitinib
/// order, the rest paracetamol): the whole call should cost about `n` times one order.
#[divan::bench(args = [50, 250, 500])]
fn advise_draft_orders(bencher: Bencher, n: usize) {
    let advisor = Advisor::new(
        Arc::new(Knowledge::load(&knowledge_dir()).unwrap()),
        Jurisdiction::Nl,
        FhirServerSettings::default(),
    );
    let mut call: serde_json::Value = serde_json::from_slice(&request("small")).unwrap();
    call["hook"] = "order-sign".into();
    call["context"].as_object_mut().unwrap().remove("selections");
    let entries = call["context"]["draftOrders"]["entry"].as_array_mut().unwrap();
    for i in 1..n {
        entries.push(serde_json::json!({"resource": {
            "resourceType": "MedicationRequest", "id": format!("mr-para-{i}"), "status": "draft", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "N02BE01", "display": "paracetamol"}]},
            "subject": {"reference": "Patient/pat-001"}
        }}));
    }
    let body = serde_json::to_vec(&call).unwrap();
    let rt = runtime();
    bencher.bench_local(|| {
        rt.block_on(advisor.advise("advanced-therapy-order-sign", &body, Language::En, today())).unwrap()
    });
}

/// Reading the request: the CDS Hooks envelope, the draft orders and the prefetch, resource by
/// resource: a glance at each, fhir-sdk's typed parse of those a rule can use.
#[divan::bench(args = SIZES)]
fn read_record(bencher: Bencher, patient: &str) {
    let k = Arc::new(Knowledge::load(&knowledge_dir()).unwrap());
    let body = request(patient);
    let (rt, settings) = (runtime(), FhirServerSettings::default());
    bencher.bench_local(|| read(&k, &body, &rt, &settings));
}

/// The request's draft orders, record and selections, as the service reads them.
fn read(
    k: &Arc<Knowledge>,
    body: &[u8],
    rt: &tokio::runtime::Runtime,
    settings: &FhirServerSettings,
) -> (DraftOrders, PatientRecord, Option<Vec<String>>) {
    let request = CdsRequest::parse(body, "order-select").unwrap();
    let drafts = fhir::read_draft_orders(request.context.draft_orders, usize::MAX).unwrap();
    let record = rt
        .block_on(fhir::gather(
            &request,
            &k.prefetch,
            &k.server_queries,
            settings,
            settings.deadline(),
            Some(facts::relevance(Arc::clone(k))),
        ))
        .unwrap();
    (drafts, record, request.context.selections.clone())
}

/// Classifying the record into `PatientFacts` (every coding and text against the value sets).
#[divan::bench(args = SIZES)]
fn build_facts(bencher: Bencher, patient: &str) {
    let k = Arc::new(Knowledge::load(&knowledge_dir()).unwrap());
    let (drafts, record, _) = read(&k, &request(patient), &runtime(), &FhirServerSettings::default());
    bencher.bench_local(|| PatientFacts::build(&k, &record, &drafts.orders, today(), &ServerAnswers::default()));
}

/// The engine (findings, alternatives) and card rendering for facts already read.
#[divan::bench(args = SIZES)]
fn engine_and_cards(bencher: Bencher, patient: &str) {
    let k = Arc::new(Knowledge::load(&knowledge_dir()).unwrap());
    let (drafts, record, selections) = read(&k, &request(patient), &runtime(), &FhirServerSettings::default());
    let patient_facts = PatientFacts::build(&k, &record, &drafts.orders, today(), &ServerAnswers::default());
    let orders =
        facts::reviewed_orders(&k, &record, &drafts.orders, selections.as_deref(), |d| patient_facts.on_drug(d));
    let engine = Engine::new(&k, Jurisdiction::Nl);
    let ctx =
        CardContext { knowledge: &k, language: Language::En, patient_id: "bench", rules_url: None, matrix_url: None };
    bencher.bench_local(|| {
        let reviews: Vec<_> = orders.iter().map(|o| (o.clone(), engine.review(&patient_facts, o))).collect();
        cards::render(&ctx, &reviews)
    });
}

/// Reading, validating and compiling cds-services/ (done once at start-up).
#[divan::bench]
fn knowledge_load() -> Knowledge {
    Knowledge::load(&knowledge_dir()).unwrap()
}
