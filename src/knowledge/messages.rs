//! The message catalogue (`cds-services/messages.toml`): every sentence of a card that is not
//! a rule's, in each language, checked at start-up. `MESSAGE_KEYS` is the contract with the
//! card renderer: each key it uses must be in the file, and the file holds no other.

use std::collections::BTreeMap;

use super::Localized;
use crate::vocabulary::Language;

/// Every message the cards use.
pub const MESSAGE_KEYS: &[&str] = &[
    "card.found",
    "card.recognised-by-text",
    "card.source",
    "summary.reasons",
    "date",
    "number.decimal-separator",
    "dose",
    "evidence.age",
    "evidence.planned",
    "evidence.first-ordered",
    "evidence.weeks-ago",
    "evidence.earlier-order",
    "evidence.days-on-dose",
    "evidence.by-text",
    "unclassified.unknown-codes",
    "unclassified.server-unanswered",
    "unclassified.no-code",
    "condition-status.active",
    "condition-status.recurrence",
    "condition-status.relapse",
    "condition-status.inactive",
    "condition-status.remission",
    "condition-status.resolved",
    "medication-status.active",
    "medication-status.on-hold",
    "medication-status.completed",
    "medication-status.stopped",
    "medication-status.draft",
    "link.rule",
    "link.preferences",
    "link.matrix",
    "alternatives.none",
    "alternatives.suitable",
    "alternatives.against",
    "alternatives.unchecked",
    "alternatives.prescribed",
    "suggestion.label",
    "suggestion.delete",
    "suggestion.create",
    "matrix.title",
    "matrix.subtitle",
    "matrix.age",
    "matrix.ordered",
    "matrix.summary.some",
    "matrix.summary.none",
    "matrix.summary.unchecked",
    "matrix.summary.unchecked-drugs",
    "matrix.factor",
    "matrix.for-patient",
    "matrix.section.warnings",
    "matrix.section.pregnancy",
    "matrix.section.indications",
    "matrix.applies",
    "matrix.not-applies",
    "matrix.unchecked",
    "matrix.arrow.up2",
    "matrix.arrow.up",
    "matrix.arrow.zero",
    "matrix.arrow.down",
    "matrix.arrow.down2",
    "matrix.arrow.blank",
    "matrix.legend",
    "matrix.preferences",
    "matrix.preferences.help",
    "matrix.candidates",
    "matrix.has-down",
    "matrix.other-unchecked",
    "matrix.other-findings",
    "matrix.expires",
    "matrix.source",
    "matrix.other-language",
    "matrix.patient.title",
    "matrix.patient.intro",
    "matrix.patient.fit",
    "matrix.patient.no-fit",
    "matrix.patient.unchecked",
    "matrix.patient.ask",
    "matrix.patient.questions",
    "matrix.gone",
    "matrix.not-found",
];

/// The catalogue, by key.
#[derive(Debug, Clone, Default)]
pub struct Messages {
    pub source: String,
    pub texts: BTreeMap<String, Localized>,
}

impl Messages {
    /// The message as written. A key outside `MESSAGE_KEYS` is a programming error, caught by
    /// the start-up check and the tests.
    pub fn get<'a>(&'a self, key: &'a str, language: Language) -> &'a str {
        self.texts.get(key).map(|t| t.get(language)).unwrap_or(key)
    }

    /// The message with its `{placeholders}` filled in (`fill_placeholders`).
    pub fn fill(&self, key: &str, language: Language, values: &[(&str, &str)]) -> String {
        fill_placeholders(self.get(key, language), values)
    }
}

/// `template` with its `{placeholders}` filled in from `values`, in one pass: a value (record
/// text, an order's name) is put in as it is, never read as a template itself, and no search is
/// set up per placeholder (issue 16: a call fills several messages). Braces that name no value stay.
pub(crate) fn fill_placeholders(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + values.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after
            .find('}')
            .and_then(|close| values.iter().find(|(name, _)| *name == &after[..close]).map(|(_, v)| (*v, close)));
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `{names}` a text fills in, sorted.
pub(crate) fn placeholders(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = text
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_the_names_in_braces() {
        assert_eq!(placeholders("{drug}: {reasons} and {drug}"), vec!["drug", "reasons"]);
        assert!(placeholders("no {} braces {not a name}").is_empty());
    }

    #[test]
    fn fill_puts_each_value_in_once_and_leaves_other_braces() {
        let m = Messages {
            source: String::new(),
            texts: [("t".to_string(), Localized { en: "{a} and {b}, {{a}} {c} {".into(), nl: "{b}".into() })].into(),
        };
        // A value holding a placeholder's name (record text) is not read as a template.
        assert_eq!(m.fill("t", Language::En, &[("a", "{b}"), ("b", "2")]), "{b} and 2, {{b}} {c} {");
        assert_eq!(m.fill("t", Language::Nl, &[("b", "x")]), "x");
    }
}
