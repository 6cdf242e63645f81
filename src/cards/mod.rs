//! Card rendering: findings → CDS Hooks cards in the prescriber's language. Texts come from
//! the knowledge files; this module only assembles them (summary, markdown detail,
//! suggestions, override reasons, source).

mod identity;

pub use identity::{card_uuid, rule_of_card};
use serde_json::json;

use crate::engine::{Candidate, Evidence, EvidenceDetail, Finding, OrderReview, Standing};
use crate::facts::{MatchedBy, OrderSubject, ReviewedOrder, UnclassifiedWhy};
use crate::knowledge::{Drug, Knowledge};
use crate::protocol::{Action, ActionType, Card, Coding, Indicator, Link, SelectionBehavior, Source, Suggestion};
use crate::vocabulary::{DrugId, Language, Recommendation};

/// CDS Hooks: a summary is shorter than 140 characters.
pub const SUMMARY_LIMIT: usize = 140;

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

fn drug_name(drug: &Drug) -> String {
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
    let summary = summary(rule.summary.get(lang), &subject, &labels, lang);

    let mut detail = String::new();
    detail.push_str(&format!("**{}** — {}\n\n", capitalize(&subject), rule.title.get(lang)));
    if let OrderSubject::Drug { matched_by: MatchedBy::Text(text), .. } = &order.subject {
        detail.push_str(&match lang {
            Language::En => format!("_Recognised from the order's text \"{text}\", not from a code: check that this is the drug ordered._\n\n"),
            Language::Nl => format!("_Herkend aan de tekst \"{text}\" van de order, niet aan een code: controleer of dit het voorgeschreven middel is._\n\n"),
        });
    }
    detail.push_str(match lang {
        Language::En => "**Found**\n",
        Language::Nl => "**Gevonden**\n",
    });
    for found in &finding.reasons {
        let evidence: Vec<String> = if found.reason.show_evidence {
            found.evidence.iter().map(|e| evidence_text(e, lang)).filter(|s| !s.is_empty()).collect()
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
    detail.push_str(&match lang {
        Language::En => format!("_Source: {source_label} (rule `{}`)._", rule.id),
        Language::Nl => format!("_Bron: {source_label} (regel `{}`)._", rule.id),
    });

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
        links: links(ctx, rule, !suggestions_empty),
    }
}

/// Fill the summary template, keeping it under the 140-character limit: reasons are dropped
/// from the end ("+2") before anything is cut.
pub fn summary(template: &str, subject: &str, labels: &[&str], lang: Language) -> String {
    let fill = |reasons: &str| capitalize(&template.replace("{drug}", subject).replace("{reasons}", reasons));
    for keep in (1..=labels.len()).rev() {
        let mut reasons = labels[..keep].join("; ");
        if keep < labels.len() {
            reasons.push_str(&format!(" +{}", labels.len() - keep));
        }
        let s = fill(&reasons);
        if s.chars().count() < SUMMARY_LIMIT {
            return s;
        }
    }
    let s = fill(&match lang {
        Language::En => format!("{} reasons", labels.len()),
        Language::Nl => format!("{} redenen", labels.len()),
    });
    if s.chars().count() < SUMMARY_LIMIT {
        return s;
    }
    let mut cut: String = s.chars().take(SUMMARY_LIMIT - 2).collect();
    cut.push('…');
    cut
}

/// A calendar date as the reader writes it: ISO in English, day-month-year in Dutch.
fn date_text(d: crate::vocabulary::Date, lang: Language) -> String {
    match lang {
        Language::En => d.to_string(),
        Language::Nl => format!("{:02}-{:02}-{}", d.day(), d.month() as u8, d.year()),
    }
}

/// "10 mg × 2/day": a dose per administration and administrations per day.
fn dose_text(mg: f64, per_day: f64, lang: Language) -> String {
    let n = |v: f64| if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v}") };
    match lang {
        Language::En => format!("{} mg × {}/day", n(mg), n(per_day)),
        Language::Nl => format!("{} mg × {}/dag", n(mg), n(per_day)).replace('.', ","),
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn evidence_text(e: &Evidence, lang: Language) -> String {
    let mut notes = Vec::new();
    if let Some(d) = e.date {
        notes.push(date_text(d, lang));
    }
    match &e.detail {
        EvidenceDetail::None => {}
        EvidenceDetail::ConditionStatus(s) => notes.push(condition_status(s.code(), lang).to_string()),
        EvidenceDetail::MedicationStatus(s) => notes.push(medication_status(s.code(), lang).to_string()),
        EvidenceDetail::Value(v) if !v.is_empty() => notes.insert(0, v.clone()),
        EvidenceDetail::Value(_) => {}
        EvidenceDetail::Age(age) => {
            return match lang {
                Language::En => format!("{age} years"),
                Language::Nl => format!("{age} jaar"),
            };
        }
        EvidenceDetail::Unclassified(why) => notes.push(
            match (why, lang) {
                (UnclassifiedWhy::UnknownCodes, Language::En) => "codes the service cannot place",
                (UnclassifiedWhy::UnknownCodes, Language::Nl) => "codes die de service niet kan plaatsen",
                (UnclassifiedWhy::ServerUnanswered, Language::En) => "the terminology server did not answer",
                (UnclassifiedWhy::ServerUnanswered, Language::Nl) => "de terminologieserver gaf geen antwoord",
                (UnclassifiedWhy::NoCode, Language::En) => "no code and no text",
                (UnclassifiedWhy::NoCode, Language::Nl) => "geen code en geen tekst",
            }
            .to_string(),
        ),
        EvidenceDetail::Planned => notes.push(
            match lang {
                Language::En => "planned",
                Language::Nl => "gepland",
            }
            .to_string(),
        ),
        EvidenceDetail::Dose { mg, per_day } => notes.insert(0, dose_text(*mg, *per_day, lang)),
        EvidenceDetail::FirstOrdered { weeks } => {
            let (what, ago) = match lang {
                Language::En => ("first ordered", format!("{weeks} weeks ago")),
                Language::Nl => ("eerste voorschrift", format!("{weeks} weken geleden")),
            };
            notes.push(ago);
            return format!("{what} ({})", notes.join(", "));
        }
        EvidenceDetail::EarlierOrder { mg, per_day } => {
            notes.push(dose_text(*mg, *per_day, lang));
            let what = match lang {
                Language::En => "earlier order",
                Language::Nl => "eerder voorschrift",
            };
            return format!("{what} ({})", notes.join(", "));
        }
        EvidenceDetail::DaysOnDose { mg, per_day, days, months } => {
            return match lang {
                Language::En => format!("{}: {days} days in the last {months} months", dose_text(*mg, *per_day, lang)),
                Language::Nl => {
                    format!("{}: {days} dagen in de laatste {months} maanden", dose_text(*mg, *per_day, lang))
                }
            };
        }
    }
    if let Some(words) = &e.by_text {
        notes.push(match lang {
            Language::En => format!("recognised from its text \"{}\", not from a code", markdown_escape(words)),
            Language::Nl => format!("herkend aan de tekst \"{}\", niet aan een code", markdown_escape(words)),
        });
    }
    let label = markdown_escape(&e.label);
    if label.is_empty() {
        return notes.join(", ");
    }
    if notes.is_empty() { label } else { format!("{label} ({})", notes.join(", ")) }
}

/// Record text goes into markdown: keep it from becoming markup.
fn markdown_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' | '|' | '\\') {
            out.push('\\');
        }
        out.push(if c == '\n' { ' ' } else { c });
    }
    out
}

fn condition_status(s: &str, lang: Language) -> &str {
    match (lang, s) {
        (Language::Nl, "active") => "actief",
        (Language::Nl, "recurrence") => "recidief",
        (Language::Nl, "relapse") => "terugval",
        (Language::Nl, "inactive") => "inactief",
        (Language::Nl, "remission") => "in remissie",
        (Language::Nl, "resolved") => "genezen",
        _ => s,
    }
}

fn medication_status(s: &str, lang: Language) -> &str {
    match (lang, s) {
        (Language::En, "draft") => "ordered now",
        (Language::Nl, "draft") => "nu voorgeschreven",
        (Language::Nl, "active") => "actief",
        (Language::Nl, "on-hold") => "gepauzeerd",
        (Language::Nl, "completed") => "afgerond",
        (Language::Nl, "stopped") => "gestopt",
        _ => s,
    }
}

/// A link to the rule's explanation, and with suggestions one to the patient-preference rows.
fn links(ctx: &CardContext<'_>, rule: &crate::knowledge::Rule, with_suggestions: bool) -> Vec<Link> {
    let Some(base) = &ctx.rules_url else { return Vec::new() };
    let (rule_label, preferences_label) = match ctx.language {
        Language::En => ("How this check works", "Patient preferences: biologics vs JAK inhibitors"),
        Language::Nl => ("Hoe deze controle werkt", "Patiëntvoorkeuren: biologicals vs JAK-remmers"),
    };
    let mut links =
        vec![Link { label: rule_label.into(), url: format!("{base}#{}", rule.id), kind: "absolute".into() }];
    if with_suggestions {
        links.push(Link {
            label: preferences_label.into(),
            url: format!("{base}#patient-preferences"),
            kind: "absolute".into(),
        });
    }
    links
}

/// The alternatives a card considers: for a seed-A drug ordered for atopic dermatitis, the
/// drugs the rule (or its reasons) name, else — on a warning or critical card — every seed-A
/// alternative. Only suitable ones become suggestions; the others are named with the reason
/// they are not offered. `None`: the card offers nothing and says nothing about alternatives.
fn considered_alternatives<'r, 'k>(
    finding: &Finding<'_>,
    review: &'r OrderReview<'k>,
    warns: bool,
) -> Option<Vec<&'r Candidate<'k>>> {
    let alternatives = review.alternatives.as_ref()?;
    let mut named = finding.rule.suggest.unwrap_or_default();
    for found in &finding.reasons {
        named.union(found.reason.suggest);
    }
    if !named.is_empty() {
        Some(alternatives.iter().filter(|c| named.contains(c.drug)).collect())
    } else if warns && finding.rule.suggest_alternatives {
        Some(alternatives.iter().collect())
    } else {
        None
    }
}

fn alternatives_text(k: &Knowledge, candidates: &[&Candidate<'_>], lang: Language) -> String {
    let names = |pick: &dyn Fn(&Standing<'_>) -> bool| {
        candidates.iter().filter(|c| pick(&c.standing)).map(|c| drug_name(k.drug(c.drug))).collect::<Vec<_>>()
    };
    let mut out = String::new();
    let suitable = names(&|s| matches!(s, Standing::Suitable));
    out.push_str(&if suitable.is_empty() {
        match lang {
            Language::En => "**No alternative suggested.**".to_string(),
            Language::Nl => "**Geen alternatief voorgesteld.**".to_string(),
        }
    } else {
        match lang {
            Language::En => format!(
                "**Alternatives without a ↓ or ↓↓ finding for this patient** (decision matrix): {}.",
                suitable.join(", ")
            ),
            Language::Nl => {
                format!("**Alternatieven zonder ↓ of ↓↓ voor deze patiënt** (keuzematrix): {}.", suitable.join(", "))
            }
        }
    });
    out.push_str("\n\n");
    // Why the others are not offered: a prescriber must be able to tell "unsuitable" from "not
    // checked".
    let against: Vec<String> = candidates
        .iter()
        .filter_map(|c| match &c.standing {
            Standing::AdvisedAgainst(rules) => Some(format!(
                "{} — {}",
                drug_name(k.drug(c.drug)),
                rules.iter().map(|r| r.title.get(lang)).collect::<Vec<_>>().join("; ")
            )),
            _ => None,
        })
        .collect();
    if !against.is_empty() {
        out.push_str(&match lang {
            Language::En => format!("- Not suggested, ↓ or ↓↓ for this patient too: {}\n", against.join("; ")),
            Language::Nl => format!("- Niet voorgesteld, ook ↓ of ↓↓ voor deze patiënt: {}\n", against.join("; ")),
        });
    }
    let unchecked = names(&|s| matches!(s, Standing::Unchecked(_)));
    if !unchecked.is_empty() {
        let mut gaps: Vec<&str> = Vec::new();
        for c in candidates {
            if let Standing::Unchecked(reasons) = &c.standing {
                for r in reasons {
                    let label = r.label.get(lang);
                    if !gaps.contains(&label) {
                        gaps.push(label);
                    }
                }
            }
        }
        out.push_str(&match lang {
            Language::En => format!(
                "- Not suggested until the missing data is recorded: {} ({})\n",
                unchecked.join(", "),
                gaps.join("; ")
            ),
            Language::Nl => format!(
                "- Niet voorgesteld zolang gegevens ontbreken: {} ({})\n",
                unchecked.join(", "),
                gaps.join("; ")
            ),
        });
    }
    let prescribed = names(&|s| matches!(s, Standing::AlreadyPrescribed));
    if !prescribed.is_empty() {
        out.push_str(&match lang {
            Language::En => format!("- Not suggested, already prescribed: {}\n", prescribed.join(", ")),
            Language::Nl => format!("- Niet voorgesteld, al voorgeschreven: {}\n", prescribed.join(", ")),
        });
    }
    if !out.ends_with("\n\n") {
        out.push('\n');
    }
    out
}

fn suggestion(ctx: &CardContext<'_>, order: &ReviewedOrder, ordered: DrugId, alternative: DrugId) -> Suggestion {
    let k = ctx.knowledge;
    let from = k.drug(ordered);
    let to = k.drug(alternative);
    let codings: Vec<_> = to
        .codes
        .iter()
        .filter(|c| !c.unverified)
        .map(|c| json!({"system": c.system_uri, "code": c.code, "display": c.display}))
        .collect();
    let mut concept = json!({ "text": drug_name(to) });
    if !codings.is_empty() {
        concept["coding"] = json!(codings);
    }
    let resource = json!({
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "order",
        "subject": { "reference": format!("Patient/{}", ctx.patient_id) },
        "medicationCodeableConcept": concept,
    });
    let (label, delete, create) = match ctx.language {
        Language::En => (
            format!("Order {} instead of {}", drug_name(to), from.key),
            format!("Remove the draft order for {}", drug_name(from)),
            format!("Create a draft order for {} (dose to be completed)", drug_name(to)),
        ),
        Language::Nl => (
            format!("{} voorschrijven in plaats van {}", capitalize(&drug_name(to)), from.key),
            format!("Concept-order voor {} verwijderen", drug_name(from)),
            format!("Concept-order voor {} aanmaken (dosering nog invullen)", drug_name(to)),
        ),
    };
    Suggestion {
        label,
        uuid: uuid::Uuid::new_v4().to_string(),
        is_recommended: None,
        actions: {
            // A draft without an id cannot be named in `resourceId`: then the prescriber
            // removes it, and the suggestion only creates the alternative.
            let mut actions = Vec::with_capacity(2);
            if order.deletable {
                actions.push(Action {
                    kind: ActionType::Delete,
                    description: delete,
                    resource: None,
                    resource_id: Some(order.reference.clone()),
                });
            }
            actions.push(Action {
                kind: ActionType::Create,
                description: create,
                resource: Some(resource),
                resource_id: None,
            });
            actions
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_stay_under_the_limit_by_dropping_reasons() {
        let labels = [
            "age 65 or older",
            "history of atherosclerotic cardiovascular disease",
            "current or former smoker",
            "hypertension, diabetes or dyslipidaemia",
        ];
        let s = summary(
            "{drug}: only if no suitable alternative — {reasons}",
            "baricitinib (Olumiant)",
            &labels,
            Language::En,
        );
        assert!(s.chars().count() < SUMMARY_LIMIT, "{s}");
        assert!(s.starts_with("Baricitinib (Olumiant): only if"), "{s}");
        assert!(s.contains(" +"), "{s}");
    }
}
