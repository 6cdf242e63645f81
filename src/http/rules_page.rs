//! `GET /rules`: the knowledge as a clinician reviews it — the decision matrix per drug as the
//! service understands it, every rule with its reasons, sources and English and Dutch texts, the
//! value sets and drug codes. Plain server-rendered HTML; no script.

use maud::{DOCTYPE, Markup, html};

use crate::cards::indicator;
use crate::knowledge::{Criterion, Knowledge, Rule, RuleTarget, describe};
use crate::protocol::Indicator;
use crate::vocabulary::{Jurisdiction, Recommendation};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;max-width:80rem;color:#222}\
table{border-collapse:collapse;margin:0.5rem 0}td,th{border:1px solid #bbb;padding:0.25rem 0.5rem;vertical-align:top}\
th{background:#eee;text-align:left}.unverified{color:#a40;font-weight:bold}.critical{background:#fcc}\
.warning{background:#fec}.info{background:#def}code{font-size:0.9em}section{margin-bottom:2rem}";

fn arrow_class(r: Recommendation) -> &'static str {
    match indicator(r) {
        Indicator::Critical => "critical",
        Indicator::Warning => "warning",
        Indicator::Info => "info",
    }
}

/// The arrows a rule can give a drug: its own, and any stronger or weaker reason's.
fn cell(rule: &Rule, drug: crate::vocabulary::DrugId) -> Option<(String, Recommendation)> {
    let applies = match rule.target {
        RuleTarget::Drugs(set) => set.contains(drug),
        RuleTarget::OrderedItem(_) => {
            return Some((format!("{} (vaccine order)", rule.recommendation.arrow()), rule.recommendation));
        }
    };
    if !applies {
        return None;
    }
    let mut arrows: Vec<Recommendation> = rule
        .reasons
        .iter()
        .filter(|r| !r.annotation && (r.applies_to.is_empty() || r.applies_to.contains(drug)))
        .map(|r| r.recommendation)
        .collect();
    if arrows.is_empty() {
        return None;
    }
    arrows.sort();
    arrows.dedup();
    arrows.reverse();
    let text = arrows.iter().map(|a| a.arrow()).collect::<Vec<_>>().join(" / ");
    Some((text, arrows[0]))
}

fn flags(rule: &Rule) -> String {
    let mut f = Vec::new();
    if rule.start_only {
        f.push("start only".to_string());
    }
    if !rule.jurisdictions.is_empty() {
        f.push(rule.jurisdictions.iter().map(|j| j.code()).collect::<Vec<_>>().join(", ") + " only");
    }
    f.join("; ")
}

fn criterion(k: &Knowledge, c: &Criterion) -> Markup {
    html! { span { (describe(k, c)) } }
}

pub fn render(k: &Knowledge, jurisdiction: Jurisdiction) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "advanced-therapy-cds — rules" }
                style { (STYLE) }
            }
            body {
                h1 { "What advanced-therapy-cds checks" }
                p {
                    (k.rules.len()) " rules, " (k.value_sets.len()) " value sets, " (k.drugs.len()) " drugs; deployment jurisdiction "
                    strong { (jurisdiction.code()) } ". "
                    span.unverified { (k.unverified.len()) " entries are marked unverified" }
                    " (taken from memory or not found in a checked source)."
                    @if !k.not_implemented.is_empty() {
                        " Not implemented yet: " (k.not_implemented.join(", ")) "."
                    }
                }
                p { "Legend: ↓↓ recommend against (critical card) · ↓ suggest not to use (warning) · ! act first, e.g. screen or adjust the dose (warning) · 0 no recommendation possible (info) · i information (info) · — the rule does not apply to this drug (no card)." }
                nav {
                    a href="#matrix" { "Decision matrix" } " · "
                    a href="#patient-preferences" { "Patient preferences" } " · "
                    a href="#rules" { "Rules" } " · "
                    a href="#definitions" { "Definitions" } " · "
                    a href="#value-sets" { "Value sets" } " · "
                    a href="#drugs" { "Drugs" } " · "
                    a href="#alternatives" { "Alternatives" } " · "
                    a href="#messages" { "Card wording" }
                }
                section id="matrix" {
                    h2 { "Decision matrix per drug, as the service applies it" }
                    table {
                        tr {
                            th { "rule" }
                            @for d in &k.drugs { th { (d.key) br; small { (d.brand) } } }
                        }
                        @for rule in &k.rules {
                            tr {
                                td { a href={ "#" (rule.id) } { (rule.title.en) } br; small { code { (rule.id) } " " (flags(rule)) } }
                                @for d in &k.drugs {
                                    @match cell(rule, d.id) {
                                        Some((text, strongest)) => td class=(arrow_class(strongest)) { (text) },
                                        None => td { "—" },
                                    }
                                }
                            }
                        }
                    }
                }
                section id="patient-preferences" {
                    h2 { "Patient preferences (biologics vs JAK inhibitors)" }
                    p { "Not warnings: points to weigh together with the patient. " small { "Source: " (k.preferences_source) } }
                    table {
                        tr { th { "preference" } th { "voorkeur" } @for c in k.classes.values() { th { (c.name.en) } } }
                        @for p in &k.preferences {
                            tr {
                                td { (p.text.en) } td { (p.text.nl) }
                                @for c in k.classes.keys() { td { (p.arrows.get(c).map(String::as_str).unwrap_or("")) } }
                            }
                        }
                    }
                }
                section id="alternatives" {
                    h2 { "Alternatives (alternatives.toml)" }
                    p { "An order of a drug of a set, for the set's indication, gets every other drug of the set reviewed as if ordered instead; one is suggested only without a finding of these strengths and without missing data that withholds it." }
                    table {
                        tr { th { "set" } th { "indication" } th { "drugs" } th { "not suggested with" } th { "source" } }
                        @for set in &k.alternative_sets {
                            tr {
                                td { (set.title.en) br; small { (set.title.nl) } }
                                td { code { (k.value_set(set.indication).key) } }
                                td { @for d in k.drugs.iter().filter(|d| set.drugs.contains(d.id)) { (d.key) " " } }
                                td { @for r in &set.withhold_on { (r.arrow()) " " } }
                                td { small { (set.source) } }
                            }
                        }
                    }
                }
                section id="messages" {
                    h2 { "Card wording (messages.toml)" }
                    p { small { "Source: " (k.messages.source) } }
                    table {
                        tr { th { "message" } th { "English" } th { "Nederlands" } }
                        @for (key, text) in &k.messages.texts {
                            tr { td { code { (key) } } td { (text.en) } td { (text.nl) } }
                        }
                    }
                }
                section id="rules" {
                    h2 { "Rules" }
                    @for rule in &k.rules { (rule_section(k, rule)) }
                }
                section id="definitions" {
                    h2 { "Definitions (named criteria)" }
                    table {
                        tr { th { "name" } th { "meaning" } th { "checks" } th { "source" } }
                        @for d in &k.definitions {
                            tr id={ "def-" (d.key) } { td { code { (d.key) } } td { (d.description) } td { (criterion(k, &d.when)) } td { small { (d.source) } @if d.unverified { " " span.unverified { "unverified" } } } }
                        }
                    }
                }
                section id="value-sets" {
                    h2 { "Value sets" }
                    table {
                        tr { th { "value set" } th { "codes" } th { "source" } }
                        @for v in &k.value_sets {
                            tr id={ "vs-" (v.key) } {
                                td { code { (v.key) } br; (v.title) @if v.unverified { br; span.unverified { "unverified" } } }
                                td {
                                    @for (system, codes) in &v.codes { div { strong { (system) } ": " (codes.join(", ")) } }
                                    @for (system, codes) in &v.prefixes { div { strong { (system) } " (codes starting with): " (codes.join(", ")) } }
                                    @for (system, codes) in &v.exclude_prefixes { div { strong { (system) } " except codes starting with: " (codes.join(", ")) } }
                                    @if !v.text.is_empty() { div { strong { "names in text" } ": " (v.text.join(", ")) } }
                                    @if !v.drugs.is_empty() { div { strong { "drugs" } ": " (v.drugs.join(", ")) } }
                                    @if !v.include.is_empty() { div { strong { "includes the value sets" } ": " (v.include.join(", ")) } }
                                    @if let Some(ecl) = &v.ecl { div.definition { strong { "SNOMED CT by meaning (ECL)" } ": " code { (ecl.to_string()) } } }
                                    @for x in &v.expansions {
                                        div.expansion {
                                            strong { "shipped expansion" } ": " (x.size) " SNOMED CT codes (" code { (x.file) } "); "
                                            (x.version) "; built " (x.date) "; " (x.method) "; from "
                                            @for (i, s) in x.sources.iter().enumerate() {
                                                @if i > 0 { ", " }
                                                @match k.terminology_sources.get(s) {
                                                    Some(src) => { span title=(format!("{} {} — {}", src.url, src.version, src.via)) { (src.title) } }
                                                    None => { (s) }
                                                }
                                            }
                                        }
                                    }
                                    @if let Some(t) = &v.by_text {
                                        div.by-text { strong { "recognised by text when no code is" } ": " (t.phrases.join(", "))
                                            @if !t.not.is_empty() { "; not: " (t.not.join(", ")) }
                                            " " small { "(" (t.source) ")" } }
                                    }
                                    @if let Some(y) = v.yes_means { div { strong { "a generic yes means" } ": " (k.value_set(y).key) } }
                                    @if let Some(n) = v.no_means { div { strong { "a generic no means" } ": " (k.value_set(n).key) } }
                                }
                                td { small { (v.source) } }
                            }
                        }
                    }
                    h3 id="text-recognition" { "Recognition by text: the guards" }
                    p { small { (k.text_cues.source) } }
                    table {
                        tr { th { "cue" } th { "where" } th { "words" } }
                        @for (kind, place, words) in &k.text_cues.cues {
                            tr { td { (format!("{kind:?}").to_lowercase()) } td { (format!("{place:?}").to_lowercase()) } td { (words.join(", ")) } }
                        }
                    }
                    h3 id="terminology-sources" { "Published sources of the shipped expansions" }
                    table {
                        tr { th { "source" } th { "title" } th { "canonical URL and version" } th { "read from" } }
                        @for s in k.terminology_sources.values() {
                            tr { td { code { (s.key) } } td { (s.title) } td { (s.url) br; small { (s.version) } } td { small { (s.via) } } }
                        }
                    }
                }
                section id="drugs" {
                    h2 { "Drugs and their codes" }
                    table {
                        tr { th { "drug" } th { "class" } th { "codes" } th { "names matched in text" } }
                        @for d in &k.drugs {
                            tr id={ "drug-" (d.key) } {
                                td { (d.key) " (" (d.brand) ")" }
                                td { (k.class_name(&d.class, crate::vocabulary::Language::En)) @if let Some(set) = k.alternative_set_of(d.id) { br; small { "in " (set.title.en) } } }
                                td {
                                    @for c in &d.codes {
                                        div {
                                            code { (c.code) } " " (c.display) " " small { "(" (c.system_uri) "; " (c.source) ")" }
                                            @if c.unverified { " " span.unverified { "unverified" } }
                                        }
                                    }
                                }
                                td { (d.names.join(", ")) }
                            }
                        }
                    }
                    h3 { "Units" }
                    table {
                        tr { th { "quantity" } th { "compared in" } th { "units understood" } th { "source" } }
                        @for q in &k.quantities {
                            tr { td { (q.key) } td { (q.unit) } td { (q.factors.keys().cloned().collect::<std::collections::BTreeSet<_>>().into_iter().collect::<Vec<_>>().join(", ")) } td { small { (q.source) } } }
                        }
                    }
                }
            }
        }
    }
}

fn rule_section(k: &Knowledge, rule: &Rule) -> Markup {
    let applies: Vec<&str> = match rule.target {
        RuleTarget::Drugs(set) => k.drugs.iter().filter(|d| set.contains(d.id)).map(|d| d.key.as_str()).collect(),
        RuleTarget::OrderedItem(_) => vec!["orders of a live vaccine"],
    };
    let source = k.sources.get(&rule.card_source);
    html! {
        article id=(rule.id) {
            h3 { (rule.title.en) " / " (rule.title.nl) " " small { code { (rule.id) } } }
            table {
                tr { th { "applies to" } td { (applies.join(", ")) } }
                tr { th { "strength" } td class=(arrow_class(rule.recommendation)) { (rule.recommendation.arrow()) " → " (format!("{:?}", indicator(rule.recommendation)).to_lowercase()) " card" } }
                @if !flags(rule).is_empty() { tr { th { "when" } td { (flags(rule)) } } }
                @if let Some(gate) = &rule.only_if { tr { th { "only if" } td { (criterion(k, gate)) } } }
                tr { th { "source" } td { (rule.source) } }
                tr { th { "card cites" } td {
                    @if let Some(s) = source {
                        @if let Some(url) = &s.url { a href=(url) { (s.label) } } @else { (s.label) }
                        @if s.unverified { " " span.unverified { "unverified" } }
                    }
                } }
                tr { th { "summary (en)" } td { (rule.summary.en) } }
                tr { th { "samenvatting (nl)" } td { (rule.summary.nl) } }
                tr { th { "advice (en)" } td { (rule.advice.en) } }
                tr { th { "advies (nl)" } td { (rule.advice.nl) } }
                @for d in &k.drugs {
                    @if let Some(a) = rule.drug_advice.get(&d.id) {
                        tr {
                            th { (d.key) }
                            td { (a.text.en) br; (a.text.nl) br; small { "Source: " (a.source) } @if a.unverified { " " span.unverified { "unverified" } } }
                        }
                    }
                }
            }
            table {
                tr { th { "reason" } th { "label (en / nl)" } th { "checks" } th { "source" } }
                @for r in &rule.reasons {
                    tr id={ (rule.id) "--" (r.id) } {
                        td {
                            code { (r.id) }
                            @if r.annotation { br; small { "annotation: shown, never fires alone" } }
                            @if r.recommendation != rule.recommendation { br; small { "strength " (r.recommendation.arrow()) } }
                            @if r.start_only { br; small { "start only" } }
                            @if !r.jurisdictions.is_empty() { br; small { (r.jurisdictions.iter().map(|j| j.code()).collect::<Vec<_>>().join(", ")) " only" } }
                            @if let RuleTarget::Drugs(set) = rule.target {
                                @if r.applies_to != set && !r.applies_to.is_empty() {
                                    br; small { "for " (k.drugs.iter().filter(|d| r.applies_to.contains(d.id)).map(|d| d.key.as_str()).collect::<Vec<_>>().join(", ")) }
                                }
                            }
                            @if !r.withholds_alternative.is_empty() {
                                br; small { "while missing, not suggested as an alternative: " (k.drugs.iter().filter(|d| r.withholds_alternative.contains(d.id)).map(|d| d.key.as_str()).collect::<Vec<_>>().join(", ")) }
                            }
                        }
                        td { (r.label.en) br; (r.label.nl) @if let Some(a) = &r.advice { br; small { (a.en) } } }
                        td { (criterion(k, &r.when)) }
                        td { small { (r.source) } @if r.unverified { " " span.unverified { "unverified" } } }
                    }
                }
            }
        }
    }
}
