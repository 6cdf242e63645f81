//! The decision-matrix page (`GET /matrix/{token}`, issue 17): a stored `MatrixView` rendered in
//! English or Dutch. It only lays out what the view model holds — the clinical reading is done
//! when the call is answered (`cards::matrix`). No inline script or style: the script and the
//! style sheet are files served beside the page (`static/`), so the page's Content-Security-
//! Policy allows nothing but this origin's files.

use maud::{DOCTYPE, Markup, html};

use crate::cards::matrix::{MatrixRowView, MatrixView, RowState};
use crate::knowledge::Messages;
use crate::vocabulary::Language;

pub const SCRIPT: &str = include_str!("matrix.js");
pub const STYLE: &str = include_str!("matrix.css");

/// The message with the words for an arrow, for screen readers (the arrow itself is text too).
fn arrow_words(arrow: &str) -> &'static str {
    match arrow {
        "↑↑" => "matrix.arrow.up2",
        "↑" => "matrix.arrow.up",
        "0" => "matrix.arrow.zero",
        "↓" => "matrix.arrow.down",
        "↓↓" => "matrix.arrow.down2",
        _ => "matrix.arrow.blank",
    }
}

fn arrow_cell(m: &Messages, arrow: &str, lang: Language) -> Markup {
    let words = m.get(arrow_words(arrow), lang);
    let class = if arrow.starts_with('↓') { "arrow down" } else { "arrow" };
    html! {
        td class=(class) {
            @if !arrow.is_empty() { span aria-hidden="true" { (arrow) } }
            span.visually-hidden { (words) }
        }
    }
}

fn join_drugs(names: &[String], lang: Language) -> String {
    match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        n => {
            let and = if lang == Language::Nl { " en " } else { " and " };
            format!("{}{and}{}", names[..n - 1].join(", "), names[n - 1])
        }
    }
}

/// The page. `expires` is the time the page is deleted, as `YYYY-MM-DD HH:MM` UTC.
pub fn render(view: &MatrixView, m: &Messages, lang: Language, expires: &str) -> Markup {
    let other = if lang == Language::Nl { Language::En } else { Language::Nl };
    let free: Vec<String> =
        view.drugs.iter().filter(|d| !d.against).map(|d| format!("{} ({})", d.key, d.brand)).collect();
    let summary = if free.is_empty() {
        m.get("matrix.summary.none", lang).to_string()
    } else {
        m.fill("matrix.summary.some", lang, &[("drugs", &join_drugs(&free, lang))])
    };
    let any_unchecked = view.rows.iter().any(|r| r.state == RowState::Unchecked) || !view.other_unchecked.is_empty();
    // For the patient: the drugs without ↓/↓↓ whose checks could all be done.
    let fitting: Vec<String> =
        view.drugs.iter().filter(|d| !d.against && !d.unchecked).map(|d| d.key.clone()).collect();
    let unchecked: Vec<String> =
        view.drugs.iter().filter(|d| !d.against && d.unchecked).map(|d| d.key.clone()).collect();
    let sections = ["warnings", "pregnancy", "indications"];
    let columns = view.drugs.len() + 2;
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex, nofollow";
                meta name="referrer" content="no-referrer";
                title { (m.get("matrix.title", lang)) }
                link rel="stylesheet" href="static/matrix.css";
                script src="static/matrix.js" defer {}
            }
            body {
                header {
                    p.lang-switch {
                        a href={ "?lang=" (other.code()) } hreflang=(other.code()) lang=(other.code()) { (m.get("matrix.other-language", lang)) }
                    }
                    h1 { (m.get("matrix.title", lang)) }
                    p.subtitle { (m.get("matrix.subtitle", lang)) }
                    @if let Some(age) = view.age { p.meta { (m.fill("matrix.age", lang, &[("age", &age.to_string())])) } }
                    p.summary id="summary" { (summary) }
                    @if !unchecked.is_empty() {
                        p.summary-unchecked { (m.fill("matrix.summary.unchecked-drugs", lang, &[("drugs", &join_drugs(&unchecked, lang))])) }
                    } @else if any_unchecked {
                        p.summary-unchecked { (m.get("matrix.summary.unchecked", lang)) }
                    }
                }
                div.layout {
                    div.table-wrap {
                        table.matrix {
                            caption.visually-hidden { (m.get("matrix.title", lang)) }
                            thead {
                                tr {
                                    th scope="col" { (m.get("matrix.factor", lang)) }
                                    @for d in &view.drugs {
                                        th.drug scope="col" id={ "col-" (d.key) } {
                                            (d.key)
                                            span.brand { (d.brand) }
                                            span.class { (d.class_name.get(lang)) }
                                            @if d.ordered { span.ordered-mark { "● " (m.get("matrix.ordered", lang)) } }
                                        }
                                    }
                                    th.patient-col scope="col" { (m.get("matrix.for-patient", lang)) }
                                }
                            }
                            @for section in sections {
                                tbody {
                                    tr { th.section colspan=(columns) scope="rowgroup" { (m.get(&format!("matrix.section.{section}"), lang)) } }
                                    @for row in view.rows.iter().filter(|r| r.section == section) {
                                        @let (class, state_key) = match row.state {
                                            RowState::Applies => ("applies", "matrix.applies"),
                                            RowState::NotFound => ("not-found", "matrix.not-applies"),
                                            RowState::Unchecked => ("unchecked", "matrix.unchecked"),
                                        };
                                        tr class=(class) id={ "row-" (row.id) } data-state=(class) {
                                            th scope="row" {
                                                (row.label.get(lang))
                                                @if let Some(note) = &row.note { span.note { (note.get(lang)) } }
                                                // On narrow screens the last column moves here.
                                                div.patient-inline { (for_patient(row, m.get(state_key, lang), lang)) }
                                            }
                                            @for a in &row.arrows { (arrow_cell(m, a, lang)) }
                                            td.patient.patient-col { (for_patient(row, m.get(state_key, lang), lang)) }
                                        }
                                    }
                                }
                            }
                            tbody {
                                tr { th.section colspan=(columns) scope="rowgroup" id="preferences" { (m.get("matrix.preferences", lang)) } }
                                @for p in &view.preferences {
                                    tr.preference id={ "pref-row-" (p.id) } {
                                        th scope="row" {
                                            label {
                                                input type="checkbox" id={ "pref-" (p.id) } data-pref=(p.id);
                                                span { (p.label.get(lang)) }
                                            }
                                        }
                                        @for a in &p.arrows { (arrow_cell(m, a, lang)) }
                                        td.patient-col {}
                                    }
                                }
                            }
                        }
                    }
                    aside.side {
                        section.candidates aria-labelledby="candidates-title" {
                            h2 id="candidates-title" { (m.get("matrix.candidates", lang)) }
                            p.help { (m.get("matrix.preferences.help", lang)) }
                            ol id="candidates" aria-live="polite" {
                                @for (i, d) in view.drugs.iter().enumerate() {
                                    li data-drug=(d.key) data-index=(i) data-against=(d.against) data-strongly-against=(d.strongly_against)
                                        data-score=(d.score) data-base=(d.score) data-prefs=(pref_arrows(view, i)) {
                                        strong { (d.key) } " (" (d.brand) ")"
                                        @if d.against { " " span.against-mark { (m.get("matrix.has-down", lang)) } }
                                        span.score {}
                                    }
                                }
                            }
                        }
                        @if !view.other_findings.is_empty() || !view.other_unchecked.is_empty() {
                            section.others {
                                @if !view.other_findings.is_empty() {
                                    h2 { (m.get("matrix.other-findings", lang)) }
                                    ul.other-findings {
                                        @for f in &view.other_findings {
                                            li { (f.title.get(lang)) " (" (f.arrow) "): " (f.drugs.join(", ")) }
                                        }
                                    }
                                }
                                @if !view.other_unchecked.is_empty() {
                                    h2 { (m.get("matrix.other-unchecked", lang)) }
                                    ul.other-unchecked { @for u in &view.other_unchecked { li { (u.get(lang)) } } }
                                }
                            }
                        }
                        section.patient lang="nl" {
                            h2 { (m.get("matrix.patient.title", Language::Nl)) }
                            p { (m.get("matrix.patient.intro", Language::Nl)) }
                            p {
                                @if fitting.is_empty() { (m.get("matrix.patient.no-fit", Language::Nl)) }
                                @else { (m.fill("matrix.patient.fit", Language::Nl, &[("drugs", &join_drugs(&fitting, Language::Nl))])) }
                            }
                            @if any_unchecked { p { (m.get("matrix.patient.unchecked", Language::Nl)) } }
                            p { (m.get("matrix.patient.ask", Language::Nl)) }
                            p { (m.get("matrix.patient.questions", Language::Nl)) }
                        }
                    }
                }
                footer {
                    p { (m.get("matrix.legend", lang)) }
                    p { (m.fill("matrix.source", lang, &[("source", &view.source)])) }
                    p { (m.fill("matrix.expires", lang, &[("time", expires)])) }
                }
            }
        }
    }
}

/// What a row finds for this patient: whether it applies, the evidence, why it could not be
/// checked.
fn for_patient(row: &MatrixRowView, state: &str, lang: Language) -> Markup {
    html! {
        span.state { (state) }
        @if !row.evidence.is_empty() {
            ul.evidence { @for e in &row.evidence { li { (e.get(lang)) } } }
        }
        @if !row.unchecked.is_empty() {
            ul.why-unchecked { @for u in &row.unchecked { li { (u.get(lang)) } } }
        }
    }
}

/// Column `i`'s arrow per preference, `id:arrow` separated by spaces, for the script.
fn pref_arrows(view: &MatrixView, i: usize) -> String {
    view.preferences
        .iter()
        .filter_map(|p| p.arrows.get(i).filter(|a| !a.is_empty()).map(|a| format!("{}:{a}", p.id)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The small page for an unknown or expired token, in both languages.
pub fn gone(m: &Messages, key: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex, nofollow";
                title { (m.get("matrix.title", Language::En)) }
                link rel="stylesheet" href="static/matrix.css";
            }
            body {
                h1 { (m.get("matrix.title", Language::En)) }
                p { (m.get(key, Language::En)) }
                p lang="nl" { (m.get(key, Language::Nl)) }
            }
        }
    }
}
