//! The decision matrix for one patient (issue 17): seed A's rows (`matrix.toml`) and preference
//! rows, filled in from the findings of each drug of the matrix reviewed as if ordered. A plain,
//! serializable view model in both languages: the service stores it under a random token and
//! the page (`http::matrix_page`) only renders it. It holds no name, identifier or birth date —
//! the age in years at most.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::evidence::plain_evidence_text;
use crate::engine::{Engine, Finding, FoundReason, OrderReview, Standing, as_if_ordered};
use crate::facts::{PatientFacts, ReviewedOrder};
use crate::knowledge::{Knowledge, Localized};
use crate::vocabulary::{DrugId, Language, Recommendation};

/// The rule whose reasons say what could not be checked.
const UNCHECKED_RULE: &str = "data.unchecked";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixView {
    /// The language of the call (`en`, `nl`): the page's default.
    pub language: String,
    pub age: Option<u32>,
    /// The columns, in the matrix's order.
    pub drugs: Vec<MatrixDrug>,
    /// Every row of the matrix, in its order. A stored page holds only the rows that apply or
    /// could not be checked; `restore` puts back the others, as not found.
    #[serde(serialize_with = "rows_to_store")]
    pub rows: Vec<MatrixRowView>,
    /// Which rows the page was made with (`rows_fingerprint`): a row the knowledge has and the
    /// stored page lacks is "not found" only if the page was made with that row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_of: Option<u32>,
    /// From the knowledge (`restore`), not stored: like every label and arrow below.
    #[serde(skip_serializing, default)]
    pub preferences: Vec<PreferenceView>,
    /// What could not be checked and belongs to no row.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_unchecked: Vec<Localized>,
    /// Findings of rules that are no row of the matrix (e.g. dose, start checks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_findings: Vec<OtherFinding>,
    #[serde(skip_serializing, default)]
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixDrug {
    pub key: String,
    #[serde(skip_serializing, default)]
    pub brand: String,
    /// Drug class key (`biologic`, `jak`) and its name.
    #[serde(skip_serializing, default)]
    pub class: String,
    #[serde(skip_serializing, default)]
    pub class_name: Localized,
    /// Ordered in this call. (Stored only when set, like the flags and score below.)
    #[serde(default, skip_serializing_if = "is_false")]
    pub ordered: bool,
    /// A row that applies, or another finding, gives it ↓ or ↓↓.
    #[serde(default, skip_serializing_if = "is_false")]
    pub against: bool,
    /// Data one of its ↓/↓↓ checks needs is missing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unchecked: bool,
    /// A ↓↓ applies (a row, or another finding recommending against): it stays last whatever
    /// the patient prefers.
    #[serde(default, skip_serializing_if = "is_false")]
    pub strongly_against: bool,
    /// The arrows of the rows that apply, added up (↑↑ 2, ↑ 1, 0 0, ↓ -1, ↓↓ -2; another
    /// finding against it -1 or -2): where the page starts ordering the candidates from.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub score: i32,
}

/// The matrix's row ids, hashed: pages made with other rows are told apart.
pub fn rows_fingerprint(k: &Knowledge) -> u32 {
    super::identity::fnv1a(k.matrix.rows.iter().flat_map(|row| row.id.bytes().chain([0])))
}

/// The rows a stored page keeps: those with something of this patient's to show.
fn rows_to_store<S: serde::Serializer>(rows: &[MatrixRowView], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(rows.iter().filter(|r| r.state != RowState::NotFound))
}

/// An arrow as a number, for ordering the candidates.
pub fn arrow_value(arrow: &str) -> i32 {
    match arrow {
        "↑↑" => 2,
        "↑" => 1,
        "↓" => -1,
        "↓↓" => -2,
        _ => 0,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RowState {
    Applies,
    NotFound,
    Unchecked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixRowView {
    pub id: String,
    #[serde(skip_serializing, default)]
    pub section: String,
    #[serde(skip_serializing, default)]
    pub label: Localized,
    #[serde(skip_serializing, default)]
    pub note: Option<Localized>,
    /// Per column.
    #[serde(skip_serializing, default)]
    pub arrows: Vec<String>,
    pub state: RowState,
    /// What the record shows, when the row applies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Localized>,
    /// Why it could not be checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<Localized>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreferenceView {
    pub id: String,
    pub label: Localized,
    /// Per column.
    pub arrows: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherFinding {
    pub title: Localized,
    pub arrow: String,
    /// Drug keys it was found for.
    pub drugs: Vec<String>,
}

/// What a stored page leaves out — the drugs' names and classes, the rows' labels and arrows,
/// the preference rows, the source: the same for every patient, taken from the knowledge when the
/// page is served. A page holds only what is this patient's (a fifth of the size; at thousands
/// of atopic-dermatitis calls a second, storing pages was the largest cost, issue 16).
pub fn restore(view: &mut MatrixView, k: &Knowledge) {
    let matrix = &k.matrix;
    for d in &mut view.drugs {
        if let Some(drug) = k.drugs.iter().find(|x| x.key == d.key) {
            d.brand = drug.brand.clone();
            d.class = drug.class.clone();
            d.class_name = both(|lang| k.class_name(&drug.class, lang).to_string());
        }
    }
    let mut stored = std::mem::take(&mut view.rows);
    // A row missing from the page was checked and not found, if the page was made with it: made
    // with other rows (the knowledge changed since), the row was never checked for this patient.
    // (A page stored before `rows_of` holds every row it was made with.)
    let absent = if view.rows_of == Some(rows_fingerprint(k)) { RowState::NotFound } else { RowState::Unchecked };
    view.rows = matrix
        .rows
        .iter()
        .map(|row| {
            let kept = stored.iter().position(|r| r.id == row.id).map(|i| stored.swap_remove(i));
            let (state, evidence, unchecked) =
                kept.map_or((absent, Vec::new(), Vec::new()), |r| (r.state, r.evidence, r.unchecked));
            MatrixRowView {
                id: row.id.clone(),
                section: row.section.clone(),
                label: row.text.clone(),
                note: row.note.clone(),
                arrows: row.arrows.iter().map(|(_, a)| a.clone()).collect(),
                state,
                evidence,
                unchecked,
            }
        })
        .collect();
    view.preferences = k
        .preferences
        .iter()
        .map(|p| PreferenceView {
            id: p.id.clone(),
            label: p.text.clone(),
            arrows: matrix.drugs.iter().map(|&d| p.arrows.get(&k.drug(d).class).cloned().unwrap_or_default()).collect(),
        })
        .collect();
    view.source = matrix.source.clone();
}

/// A matrix page's token: the time it was made (Unix milliseconds, 12 hex digits) and then 256
/// bits from the operating system's CSPRNG, base64url (43 characters). The random part makes it
/// unguessable; the time in front makes the tokens of successive calls sort together, so that
/// storing a page touches the end of the database's index and not a random page of it (with
/// random keys, each batch of pages rewrote about one index page per page stored, issue 16).
/// The time says no more than when the call was made, which the EHR that holds the link knows.
pub fn new_token(now_ms: i64) -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random number generator fails");
    format!(
        "{:012x}{}",
        now_ms.clamp(0, 0xffff_ffff_ffff),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A token as `new_token` makes them (checked before any database look-up), or as it made them
/// before the time was put in front (43 characters), so that links sent before an upgrade work
/// for their time to live.
pub fn is_token(s: &str) -> bool {
    let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    match s.len() {
        55 => s.bytes().take(12).all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) && s.bytes().skip(12).all(base64url),
        43 => s.bytes().all(base64url),
        _ => false,
    }
}

/// Both languages of a text made per language.
fn both(f: impl Fn(Language) -> String) -> Localized {
    Localized { en: f(Language::En), nl: f(Language::Nl) }
}

/// The text of a found reason, made once: the same reason with the same evidence is usually found
/// for several columns (the age, the patient's history).
fn text_of<'f, 'k>(
    made: &mut Vec<(&'f FoundReason<'k>, Localized)>,
    found: &'f FoundReason<'k>,
    make: impl Fn(&FoundReason<'k>) -> Localized,
) -> Localized {
    let same =
        |(f, _): &&(&FoundReason<'k>, Localized)| std::ptr::eq(f.reason, found.reason) && f.evidence == found.evidence;
    if let Some((_, text)) = made.iter().find(same) {
        return text.clone();
    }
    let text = make(found);
    made.push((found, text.clone()));
    text
}

fn push_unique(list: &mut Vec<Localized>, item: Localized) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// The matrix for `order` (a drug of the matrix ordered for its indication) and its `review`;
/// `ordered` are the drugs of every such order of the call. Only what is this patient's:
/// `restore` adds the rest.
#[allow(clippy::too_many_arguments)]
pub fn build(
    k: &Knowledge,
    engine: &Engine<'_>,
    facts: &PatientFacts,
    order: &ReviewedOrder,
    review: &OrderReview<'_>,
    ordered: &[DrugId],
    language: Language,
    patient_id: &str,
) -> MatrixView {
    let matrix = &k.matrix;
    let m = &k.messages;
    let set = k.alternative_sets.iter().find(|s| s.key == matrix.set);
    let withhold = |r: Recommendation| set.is_some_and(|s| s.withhold_on.contains(&r));
    // Each column's findings: the order's own for its drug, the others as if ordered — as the
    // review of the alternatives found them, reviewed here only when the review did not (a drug
    // already prescribed).
    let reviewed = |d: DrugId| -> Option<&[Finding<'_>]> {
        if order.drug() == Some(d) {
            return Some(&review.findings);
        }
        let candidate = review.alternatives.as_ref()?.iter().find(|c| c.drug == d)?;
        (!matches!(candidate.standing, Standing::AlreadyPrescribed)).then_some(&candidate.findings[..])
    };
    let findings: Vec<(DrugId, std::borrow::Cow<'_, [Finding<'_>]>)> = matrix
        .drugs
        .iter()
        .map(|&d| match reviewed(d) {
            Some(found) => (d, std::borrow::Cow::Borrowed(found)),
            None => (d, std::borrow::Cow::Owned(engine.findings(facts, &as_if_ordered(order, d)))),
        })
        .collect();
    let is_own = |d: DrugId| order.drug() == Some(d);
    // Record text never carries the patient's id onto the page.
    let scrub = |s: String| if patient_id.is_empty() { s } else { s.replace(patient_id, "…") };
    let reason_text = |found: &FoundReason<'_>| {
        both(|lang| {
            let label = found.reason.label.get(lang);
            let evidence: Vec<String> = if found.reason.show_evidence {
                found.evidence.iter().map(|e| plain_evidence_text(m, e, lang)).filter(|s| !s.is_empty()).collect()
            } else {
                Vec::new()
            };
            scrub(if evidence.is_empty() { label.to_string() } else { format!("{label}: {}", evidence.join("; ")) })
        })
    };
    let mut made = Vec::new();

    let mut against: BTreeSet<DrugId> = BTreeSet::new();
    let mut strongly: BTreeSet<DrugId> = BTreeSet::new();
    let mut scores: std::collections::BTreeMap<DrugId, i32> = std::collections::BTreeMap::new();
    // The rules the rows name: their findings are the rows'; the others are "other findings".
    let row_rules: BTreeSet<&str> =
        matrix.rows.iter().flat_map(|row| row.rules.iter().map(|(rule, _)| rule.as_str())).collect();
    let mut row_unchecked: BTreeSet<&str> = BTreeSet::new();
    let mut rows = Vec::new();
    for row in &matrix.rows {
        let mut evidence = Vec::new();
        let mut unchecked = Vec::new();
        for (d, list) in &findings {
            for f in list.iter() {
                for (rule, reason) in &row.rules {
                    if &f.rule.id != rule {
                        continue;
                    }
                    for found in &f.reasons {
                        if found.reason.annotation || reason.as_ref().is_some_and(|r| r != &found.reason.id) {
                            continue;
                        }
                        push_unique(&mut evidence, text_of(&mut made, found, reason_text));
                    }
                }
                if f.rule.id == UNCHECKED_RULE {
                    for found in &f.reasons {
                        // For a drug not ordered only gaps in the patient's data count, not the
                        // missing dose of an order that does not exist.
                        let counts = is_own(*d) || !found.reason.withholds_alternative.is_empty();
                        if counts && row.unchecked.contains(&found.reason.id) {
                            push_unique(&mut unchecked, text_of(&mut made, found, reason_text));
                        }
                    }
                }
            }
        }
        row_unchecked.extend(row.unchecked.iter().map(String::as_str));
        let state = if !evidence.is_empty() {
            RowState::Applies
        } else if !unchecked.is_empty() {
            RowState::Unchecked
        } else {
            RowState::NotFound
        };
        if state == RowState::Applies {
            for (d, arrow) in &row.arrows {
                if arrow.starts_with('↓') {
                    against.insert(*d);
                }
                if arrow == "↓↓" {
                    strongly.insert(*d);
                }
                *scores.entry(*d).or_default() += arrow_value(arrow);
            }
        }
        rows.push(MatrixRowView {
            id: row.id.clone(),
            section: String::new(),
            label: Localized::default(),
            note: None,
            arrows: Vec::new(),
            state,
            evidence,
            unchecked,
        });
    }

    // Everything else the cards say: other findings, other gaps.
    let mut other_findings: Vec<OtherFinding> = Vec::new();
    let mut other_unchecked = Vec::new();
    let mut gaps: BTreeSet<DrugId> = BTreeSet::new();
    for (d, list) in &findings {
        let key = k.drug(*d).key.clone();
        for f in list.iter() {
            if f.rule.id == UNCHECKED_RULE {
                for found in &f.reasons {
                    if found.reason.withholds_alternative.contains(*d) {
                        gaps.insert(*d);
                    }
                    let counts = is_own(*d) || !found.reason.withholds_alternative.is_empty();
                    if counts && !row_unchecked.contains(found.reason.id.as_str()) {
                        push_unique(&mut other_unchecked, text_of(&mut made, found, reason_text));
                    }
                }
                continue;
            }
            if row_rules.contains(f.rule.id.as_str()) {
                continue;
            }
            if withhold(f.recommendation) {
                against.insert(*d);
                let strong = f.recommendation == Recommendation::AgainstStrong;
                if strong {
                    strongly.insert(*d);
                }
                *scores.entry(*d).or_default() -= if strong { 2 } else { 1 };
            }
            let title = f.rule.title.clone();
            let arrow = f.recommendation.arrow().to_string();
            match other_findings.iter_mut().find(|o| o.title == title && o.arrow == arrow) {
                Some(o) => o.drugs.push(key.clone()),
                None => other_findings.push(OtherFinding { title, arrow, drugs: vec![key.clone()] }),
            }
        }
    }

    let drugs = matrix
        .drugs
        .iter()
        .map(|&d| MatrixDrug {
            key: k.drug(d).key.clone(),
            brand: String::new(),
            class: String::new(),
            class_name: Localized::default(),
            ordered: ordered.contains(&d),
            against: against.contains(&d),
            unchecked: gaps.contains(&d),
            strongly_against: strongly.contains(&d),
            score: scores.get(&d).copied().unwrap_or_default(),
        })
        .collect();
    // What is the same for every patient is filled in when the page is served (`restore`).
    MatrixView {
        language: language.code().to_string(),
        age: facts.age,
        drugs,
        rows,
        rows_of: Some(rows_fingerprint(k)),
        preferences: Vec::new(),
        other_unchecked,
        other_findings,
        source: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_the_time_and_256_random_bits() {
        let (a, b) = (new_token(1_764_684_000_000), new_token(1_764_684_000_000));
        assert_ne!(a, b);
        assert!(is_token(&a) && is_token(&b));
        assert!(a.starts_with("019adf5ceb00"), "{a}");
        // Later calls sort after earlier ones.
        assert!(new_token(1_764_684_000_001) > a.clone().max(b.clone()));
        assert!(!is_token("../etc") && !is_token(&a[1..]) && !is_token(&a.replacen('0', "g", 1)));
        // A token made before the time was put in front.
        assert!(is_token(&a[12..]));
    }

    #[test]
    fn the_view_round_trips_through_json() {
        let view = MatrixView {
            language: "nl".into(),
            age: Some(69),
            drugs: vec![],
            rows: vec![
                MatrixRowView {
                    id: "age-65".into(),
                    section: "warnings".into(),
                    label: Localized { en: "Age".into(), nl: "Leeftijd".into() },
                    note: None,
                    arrows: vec!["↑".into(), "↓".into()],
                    state: RowState::Applies,
                    evidence: vec![Localized { en: "69 years".into(), nl: "69 jaar".into() }],
                    unchecked: vec![],
                },
                MatrixRowView {
                    id: "pregnancy".into(),
                    section: "warnings".into(),
                    label: Localized::default(),
                    note: None,
                    arrows: vec![],
                    state: RowState::NotFound,
                    evidence: vec![],
                    unchecked: vec![],
                },
            ],
            rows_of: Some(7),
            preferences: vec![],
            other_unchecked: vec![],
            other_findings: vec![],
            source: "seed A".into(),
        };
        let json = serde_json::to_string(&view).unwrap();
        assert!(json.contains("\"applies\"") && json.contains("69 jaar"));
        // The labels, arrows and source are the knowledge's: not stored, restored when served.
        assert!(!json.contains("Leeftijd") && !json.contains("seed A"), "{json}");
        // Rows with nothing of this patient's to show are not stored either.
        assert!(!json.contains("pregnancy") && !json.contains("not-found"), "{json}");
        let read = serde_json::from_str::<MatrixView>(&json).unwrap();
        assert_eq!((read.rows[0].state, &read.rows[0].evidence), (view.rows[0].state, &view.rows[0].evidence));
        assert!(read.rows[0].label.en.is_empty() && read.source.is_empty());
    }

    #[test]
    fn rows_not_stored_are_not_found_only_on_a_page_made_with_them() {
        let k = Knowledge::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cds-services")).unwrap();
        let stored = |rows_of: Option<u32>| {
            let json = format!(
                r#"{{"language":"en","age":70,"drugs":[],"rows":[{{"id":"age-65","state":"applies","evidence":[{{"en":"70","nl":"70"}}]}}]{}}}"#,
                rows_of.map_or(String::new(), |f| format!(r#","rows_of":{f}"#))
            );
            let mut view: MatrixView = serde_json::from_str(&json).unwrap();
            restore(&mut view, &k);
            assert_eq!(view.rows.len(), k.matrix.rows.len());
            let age = view.rows.iter().find(|r| r.id == "age-65").unwrap();
            assert_eq!((age.state, age.evidence.len()), (RowState::Applies, 1));
            view.rows.iter().find(|r| r.id == "pregnancy").unwrap().state
        };
        // Made with these rows: the rows it does not hold were checked and not found.
        assert_eq!(stored(Some(rows_fingerprint(&k))), RowState::NotFound);
        // Made with other rows (the matrix changed since), or stored before pages said: not checked.
        assert_eq!(stored(Some(rows_fingerprint(&k) ^ 1)), RowState::Unchecked);
        assert_eq!(stored(None), RowState::Unchecked);
    }
}
