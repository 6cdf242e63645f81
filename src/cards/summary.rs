//! The card summary: the rule's template filled in, shorter than CDS Hooks' 140 characters.

use super::capitalize;
use crate::knowledge::fill_placeholders;

/// CDS Hooks: a summary is shorter than 140 characters.
pub const SUMMARY_LIMIT: usize = 140;

/// Fill the summary template, keeping it under the 140-character limit: reasons are dropped
/// from the end ("+2") before anything is cut; `all_reasons` ("3 reasons") stands for them all
/// when even one does not fit.
pub fn summary(template: &str, subject: &str, labels: &[&str], all_reasons: &str) -> String {
    let fill = |reasons: &str| capitalize(&fill_placeholders(template, &[("drug", subject), ("reasons", reasons)]));
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
    let s = fill(all_reasons);
    if s.chars().count() < SUMMARY_LIMIT {
        return s;
    }
    let mut cut: String = s.chars().take(SUMMARY_LIMIT - 2).collect();
    cut.push('…');
    cut
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
            "4 reasons",
        );
        assert!(s.chars().count() < SUMMARY_LIMIT, "{s}");
        assert!(s.starts_with("Baricitinib (Olumiant): only if"), "{s}");
        assert!(s.contains(" +"), "{s}");
    }

    #[test]
    fn an_order_named_with_braces_is_not_read_as_the_template() {
        // An order's name from record text that happens to hold a placeholder stays as written.
        assert_eq!(summary("{drug}: {reasons}", "vaccin {reasons}", &["live"], "1 reason"), "Vaccin {reasons}: live");
    }

    #[test]
    fn a_summary_nothing_fits_in_names_the_count_then_is_cut() {
        let long = "x".repeat(200);
        assert_eq!(summary("{drug}: {reasons}", "d", &[&long], "1 reason"), "D: 1 reason");
        let s = summary(&"y".repeat(300), "d", &["a"], "1 reason");
        assert!(s.ends_with('…') && s.chars().count() == SUMMARY_LIMIT - 1, "{s}");
    }
}
