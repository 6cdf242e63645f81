//! The alternatives section of a card: which drugs of the alternative set are suggested, and
//! why each other one is not (advised against, not checked, already prescribed).

use super::{drug_name, drug_name_of};
use crate::engine::{Candidate, Finding, OrderReview, Standing};
use crate::knowledge::Knowledge;
use crate::vocabulary::Language;

/// The alternatives a card considers: for a drug of an alternative set ordered for its indication, the
/// drugs the rule (or its reasons) name, else — on a warning or critical card — every alternative of the set. Only suitable ones become suggestions; the others are named with the reason
/// they are not offered. `None`: the card offers nothing and says nothing about alternatives.
pub(super) fn considered_alternatives<'r, 'k>(
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

pub(super) fn alternatives_text(k: &Knowledge, candidates: &[&Candidate<'_>], lang: Language) -> String {
    let names = |pick: &dyn Fn(&Standing<'_>) -> bool| {
        candidates.iter().filter(|c| pick(&c.standing)).map(|c| drug_name_of(k, c.drug)).collect::<Vec<_>>()
    };
    let m = &k.messages;
    let mut out = String::new();
    let suitable = names(&|s| matches!(s, Standing::Suitable));
    out.push_str(&if suitable.is_empty() {
        m.get("alternatives.none", lang).to_string()
    } else {
        m.fill("alternatives.suitable", lang, &[("drugs", &suitable.join(", "))])
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
        out.push_str(&m.fill("alternatives.against", lang, &[("list", &against.join("; "))]));
        out.push('\n');
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
        out.push_str(&m.fill(
            "alternatives.unchecked",
            lang,
            &[("drugs", &unchecked.join(", ")), ("gaps", &gaps.join("; "))],
        ));
        out.push('\n');
    }
    let prescribed = names(&|s| matches!(s, Standing::AlreadyPrescribed));
    if !prescribed.is_empty() {
        out.push_str(&m.fill("alternatives.prescribed", lang, &[("drugs", &prescribed.join(", "))]));
        out.push('\n');
    }
    if !out.ends_with("\n\n") {
        out.push('\n');
    }
    out
}
