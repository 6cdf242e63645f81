//! Evidence lines: a fact as the prescriber reads it — its label, date, status, value or dose —
//! in the words of the message catalogue, record text escaped so it stays text.

use crate::engine::{Evidence, EvidenceDetail};
use crate::facts::UnclassifiedWhy;
use crate::knowledge::Messages;
use crate::vocabulary::{Date, Language};

/// A calendar date as the reader writes it (ISO in English, day-month-year in Dutch).
fn date_text(m: &Messages, d: Date, lang: Language) -> String {
    let (year, month, day) = (d.year().to_string(), format!("{:02}", d.month() as u8), format!("{:02}", d.day()));
    m.fill("date", lang, &[("year", &year), ("month", &month), ("day", &day)])
}

/// "10 mg × 2/day": a dose per administration and administrations per day.
pub(super) fn dose_text(m: &Messages, mg: f64, per_day: f64, lang: Language) -> String {
    let sep = m.get("number.decimal-separator", lang);
    let n = |v: f64| if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v}").replace('.', sep) };
    m.fill("dose", lang, &[("mg", &n(mg)), ("per_day", &n(per_day))])
}

pub(super) fn evidence_text(m: &Messages, e: &Evidence, lang: Language) -> String {
    evidence_text_with(m, e, lang, markdown_escape)
}

/// The same words for HTML (the page escapes them itself): record text only kept on one line.
pub(super) fn plain_evidence_text(m: &Messages, e: &Evidence, lang: Language) -> String {
    evidence_text_with(m, e, lang, |s| s.replace('\n', " "))
}

fn evidence_text_with(m: &Messages, e: &Evidence, lang: Language, escape: fn(&str) -> String) -> String {
    let mut notes = Vec::new();
    if let Some(d) = e.date {
        notes.push(date_text(m, d, lang));
    }
    match &e.detail {
        EvidenceDetail::None => {}
        EvidenceDetail::ConditionStatus(s) => {
            notes.push(s.message_key().map_or_else(|| s.code().to_string(), |key| m.get(key, lang).to_string()))
        }
        EvidenceDetail::MedicationStatus(s) => notes.push(m.get(s.message_key(), lang).to_string()),
        EvidenceDetail::Value(v) if !v.is_empty() => notes.insert(0, v.clone()),
        EvidenceDetail::Value(_) => {}
        EvidenceDetail::Age(age) => return m.fill("evidence.age", lang, &[("age", &age.to_string())]),
        EvidenceDetail::Unclassified(why) => notes.push(
            m.get(
                match why {
                    UnclassifiedWhy::UnknownCodes => "unclassified.unknown-codes",
                    UnclassifiedWhy::ServerUnanswered => "unclassified.server-unanswered",
                    UnclassifiedWhy::NoCode => "unclassified.no-code",
                },
                lang,
            )
            .to_string(),
        ),
        EvidenceDetail::Planned => notes.push(m.get("evidence.planned", lang).to_string()),
        EvidenceDetail::Dose { mg, per_day } => notes.insert(0, dose_text(m, *mg, *per_day, lang)),
        EvidenceDetail::FirstOrdered { weeks } => {
            notes.push(m.fill("evidence.weeks-ago", lang, &[("weeks", &weeks.to_string())]));
            return m.fill("evidence.first-ordered", lang, &[("notes", &notes.join(", "))]);
        }
        EvidenceDetail::EarlierOrder { mg, per_day } => {
            notes.push(dose_text(m, *mg, *per_day, lang));
            return m.fill("evidence.earlier-order", lang, &[("notes", &notes.join(", "))]);
        }
        EvidenceDetail::DaysOnDose { mg, per_day, days, months } => {
            let dose = dose_text(m, *mg, *per_day, lang);
            return m.fill(
                "evidence.days-on-dose",
                lang,
                &[("dose", &dose), ("days", &days.to_string()), ("months", &months.to_string())],
            );
        }
    }
    if let Some(words) = &e.by_text {
        notes.push(m.fill("evidence.by-text", lang, &[("words", &escape(words))]));
    }
    let label = escape(&e.label);
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
