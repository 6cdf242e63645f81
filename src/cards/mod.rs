//! Card rendering: findings → CDS Hooks cards in the prescriber's language. Every text comes
//! from the knowledge files — the rules' texts and the message catalogue (`messages.toml`);
//! this module only assembles them: the summary (`summary`), the markdown detail with its
//! evidence lines (`evidence`), the alternatives section (`alternatives`), the suggestions and
//! links (`suggestion`), override reasons and source.

mod alternatives;
mod evidence;
mod identity;
pub mod matrix;
mod suggestion;
mod summary;

use alternatives::{alternatives_text, considered_alternatives};
use evidence::evidence_text;
pub use identity::{card_uuid, rule_of_card};
use suggestion::{links, suggestion};
pub use summary::{SUMMARY_LIMIT, summary};

use crate::engine::{Finding, OrderReview};
use crate::facts::{MatchedBy, OrderSubject, ReviewedOrder};
use crate::knowledge::{Drug, Knowledge};
use crate::protocol::{Card, Coding, Indicator, SelectionBehavior, Source};
use crate::vocabulary::{Language, Recommendation};

pub fn indicator(r: Recommendation) -> Indicator {
    match r {
        Recommendation::AgainstStrong => Indicator::Critical,
        Recommendation::Against | Recommendation::Caution => Indicator::Warning,
        Recommendation::NoRecommendation | Recommendation::Advice => Indicator::Info,
    }
}

/// Everything the cards of one request need to know besides the findings.
pub struct CardContext<'a> {
    pub knowledge: &'a Knowledge,
    pub language: Language,
    pub patient_id: &'a str,
    /// The service's rules page, linked from each card (none when evaluating offline).
    pub rules_url: Option<String>,
    /// This call's decision-matrix page, linked from the cards of atopic-dermatitis orders.
    pub matrix_url: Option<String>,
}

/// Cards for all reviewed orders: one per rule per order, critical first, then warning, info.
pub fn render(ctx: &CardContext<'_>, reviews: &[(ReviewedOrder, OrderReview<'_>)]) -> Vec<Card> {
    let mut cards: Vec<Card> = reviews
        .iter()
        .flat_map(|(order, review)| review.findings.iter().map(move |f| card(ctx, order, review, f)))
        .collect();
    // Stable: within an indicator, orders and catalogue order are kept.
    cards.sort_by_key(|c| std::cmp::Reverse(c.indicator));
    cards
}

pub(crate) fn drug_name(drug: &Drug) -> String {
    format!("{} ({})", drug.key, drug.brand)
}

fn subject_name(ctx: &CardContext<'_>, order: &ReviewedOrder) -> String {
    match &order.subject {
        OrderSubject::Drug { drug, .. } => drug_name(ctx.knowledge.drug(*drug)),
        OrderSubject::Item(concept) => concept.label.clone(),
        OrderSubject::Unidentified { medication_reference } => medication_reference.clone(),
    }
}

fn card(ctx: &CardContext<'_>, order: &ReviewedOrder, review: &OrderReview<'_>, finding: &Finding<'_>) -> Card {
    let lang = ctx.language;
    let k = ctx.knowledge;
    let rule = finding.rule;
    let indicator = indicator(finding.recommendation);
    let subject = subject_name(ctx, order);
    let labels: Vec<&str> = finding.reasons.iter().map(|r| r.reason.label.get(lang)).collect();
    let m = &k.messages;
    let summary = summary(
        rule.summary.get(lang),
        &subject,
        &labels,
        &m.fill("summary.reasons", lang, &[("count", &labels.len().to_string())]),
    );

    let mut detail = String::new();
    detail.push_str(&format!("**{}** — {}\n\n", capitalize(&subject), rule.title.get(lang)));
    if let OrderSubject::Drug { matched_by: MatchedBy::Text(text), .. } = &order.subject {
        detail.push_str(&m.fill("card.recognised-by-text", lang, &[("text", text)]));
        detail.push_str("\n\n");
    }
    detail.push_str(m.get("card.found", lang));
    detail.push('\n');
    for found in &finding.reasons {
        let evidence: Vec<String> = if found.reason.show_evidence {
            found.evidence.iter().map(|e| evidence_text(m, e, lang)).filter(|s| !s.is_empty()).collect()
        } else {
            Vec::new()
        };
        let arrow = if found.reason.recommendation != finding.recommendation {
            format!(" ({})", found.reason.recommendation.arrow())
        } else {
            String::new()
        };
        if evidence.is_empty() {
            detail.push_str(&format!("- {}{arrow}\n", found.reason.label.get(lang)));
        } else {
            detail.push_str(&format!("- {}{arrow}: {}\n", found.reason.label.get(lang), evidence.join("; ")));
        }
    }
    detail.push('\n');
    // A patient already on the drug needs to know what to do with the treatment under way.
    let advice = match &rule.continuation {
        Some(continuation) if !order.new_start => continuation,
        _ => &rule.advice,
    };
    detail.push_str(advice.get(lang).trim());
    detail.push_str("\n\n");
    // Advice for this drug (e.g. its reduced dose), then advice that belongs to one reason.
    if let Some(advice) = order.drug().and_then(|d| rule.drug_advice.get(&d)) {
        detail.push_str(advice.text.get(lang).trim());
        detail.push_str(&format!(" _({})_\n\n", advice.source));
    }
    for found in &finding.reasons {
        if let Some(advice) = &found.reason.advice {
            detail.push_str(advice.get(lang).trim());
            detail.push_str("\n\n");
        }
    }

    let warns = indicator != Indicator::Info;
    let mut suggestions = Vec::new();
    if let Some(candidates) = considered_alternatives(finding, review, warns) {
        detail.push_str(&alternatives_text(k, &candidates, lang));
        if let Some(drug) = order.drug() {
            suggestions =
                candidates.iter().filter(|c| c.suitable()).map(|alt| suggestion(ctx, order, drug, alt.drug)).collect();
        }
    }
    // The guideline by name; the rule's full sources (seed rows, SmPC sections) are on the
    // rules page the card links to.
    let source = k.sources.get(&rule.card_source);
    let source_label = source.map(|s| s.label.as_str()).unwrap_or(rule.card_source.as_str());
    detail.push_str(&m.fill("card.source", lang, &[("source", source_label), ("rule", &rule.id)]));

    let suggestions_empty = suggestions.is_empty();
    Card {
        uuid: card_uuid(&rule.id),
        summary,
        detail: Some(detail),
        indicator,
        source: Source {
            label: source.map(|s| s.label.clone()).unwrap_or_else(|| rule.card_source.clone()),
            url: source.and_then(|s| s.url.clone()),
            topic: Some(Coding {
                code: rule.id.clone(),
                system: k.rule_id_system.clone(),
                display: Some(rule.title.get(lang).to_string()),
            }),
        },
        selection_behavior: (!suggestions.is_empty()).then_some(SelectionBehavior::AtMostOne),
        suggestions,
        override_reasons: if warns {
            k.override_reasons
                .iter()
                .map(|r| Coding {
                    code: r.code.clone(),
                    system: k.override_reason_system.clone(),
                    display: Some(r.display.get(lang).to_string()),
                })
                .collect()
        } else {
            Vec::new()
        },
        links: links(ctx, rule, !suggestions_empty, on_matrix(ctx.knowledge, order, review)),
    }
}

/// An order of a drug of the decision matrix for the matrix's indication: its cards link to the
/// matrix page.
pub fn on_matrix(k: &Knowledge, order: &ReviewedOrder, review: &OrderReview<'_>) -> bool {
    review.alternatives.is_some()
        && order.drug().is_some_and(|d| {
            k.matrix.drugs.contains(&d) && k.alternative_set_of(d).is_some_and(|s| s.key == k.matrix.set)
        })
}

fn drug_name_of(k: &Knowledge, drug: crate::vocabulary::DrugId) -> String {
    drug_name(k.drug(drug))
}

pub(crate) fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
