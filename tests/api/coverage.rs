//! The coverage report: which rule × drug cells of the catalogue have a fixture, written to
//! fixtures/COVERAGE.md (linked from the README). The test fails when a cell a rule applies to
//! has no fixture firing it with the rule's indicator, or when the committed report is stale.

use std::collections::BTreeMap;
use std::fmt::Write;

use advanced_therapy_cds::cards::indicator;
use advanced_therapy_cds::knowledge::{Knowledge, RuleTarget};
use serde_json::Value;

use crate::support::{fixture_json, root};

#[test]
fn every_rule_fires_for_every_drug_it_applies_to_and_the_report_is_current() {
    let knowledge = Knowledge::load(&root().join("cds-services")).unwrap();
    let cases = fixture_json("cases.json");
    let cases = cases["cases"].as_array().unwrap();
    // (rule, drug) → indicators seen firing; (drug) → number of fixtures.
    let mut fired: BTreeMap<(String, String), BTreeMap<String, usize>> = BTreeMap::new();
    let mut per_drug: BTreeMap<String, usize> = BTreeMap::new();
    for case in cases {
        let Some(drug) = case["drug"].as_str() else { continue };
        *per_drug.entry(drug.to_string()).or_default() += 1;
        for card in case["cards"].as_array().unwrap() {
            let key = (card["rule"].as_str().unwrap().to_string(), drug.to_string());
            *fired.entry(key).or_default().entry(card["indicator"].as_str().unwrap().to_string()).or_default() += 1;
        }
    }
    let mut missing = Vec::new();
    let mut report = String::new();
    writeln!(report, "# Fixture coverage: rule × drug\n").unwrap();
    writeln!(
        report,
        "Written by `cargo test` (tests/api/coverage.rs) from fixtures/cases.json; do not edit. A cell gives the\n\
         indicator of the fixtures in which the rule fires for that drug, with their number; `—` marks a drug the\n\
         rule does not apply to (its fixtures must not show the card); **missing** marks a cell without a fixture.\n\
         Fixtures per drug: {}.\n",
        per_drug.iter().map(|(d, n)| format!("{d} {n}")).collect::<Vec<_>>().join(", ")
    )
    .unwrap();
    let drugs: Vec<_> = knowledge.drugs.iter().collect();
    writeln!(report, "| rule | {} |", drugs.iter().map(|d| d.key.as_str()).collect::<Vec<_>>().join(" | ")).unwrap();
    writeln!(report, "|---|{}", "---|".repeat(drugs.len())).unwrap();
    for rule in &knowledge.rules {
        let expected = indicator(rule.recommendation).as_str();
        let mut row = format!("| `{}` ({expected}) |", rule.id);
        for drug in &drugs {
            let applies = match rule.target {
                RuleTarget::Drugs(set) => set.contains(drug.id),
                // A live vaccine ordered during therapy with any of the seven drugs.
                RuleTarget::OrderedItem(_) => true,
            };
            let seen = fired.get(&(rule.id.clone(), drug.key.clone()));
            let cell = match (applies, seen) {
                (true, Some(seen)) => {
                    if !seen.contains_key(expected) {
                        missing.push(format!(
                            "{} × {}: fires only as {:?}, never as {expected}",
                            rule.id,
                            drug.key,
                            seen.keys()
                        ));
                    }
                    seen.iter().map(|(i, n)| format!("{i} ×{n}")).collect::<Vec<_>>().join(", ")
                }
                (true, None) => {
                    // Belgian-only parts are covered by the jurisdiction fixtures.
                    missing.push(format!("{} × {}", rule.id, drug.key));
                    "**missing**".to_string()
                }
                (false, Some(seen)) => {
                    missing
                        .push(format!("{} × {}: fires although the rule does not apply ({seen:?})", rule.id, drug.key));
                    "**wrong**".to_string()
                }
                (false, None) => "—".to_string(),
            };
            row.push_str(&format!(" {cell} |"));
        }
        writeln!(report, "{row}").unwrap();
    }
    if !knowledge.not_implemented.is_empty() {
        writeln!(report, "\nNot implemented yet: {}.", knowledge.not_implemented.join(", ")).unwrap();
    }
    let path = root().join("fixtures/COVERAGE.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != report {
        std::fs::write(&path, &report).unwrap();
    }
    assert!(missing.is_empty(), "cells without a fixture:\n{}", missing.join("\n"));
    assert_eq!(committed, report, "fixtures/COVERAGE.md was stale; it has been rewritten: commit it");
    // The report counts every case: nothing silently skipped.
    let counted: usize = per_drug.values().sum();
    let without_drug = cases.iter().filter(|c| c["drug"].is_null()).count();
    assert_eq!(counted + without_drug, cases.len());
    let _: &Value = &cases[0];
}
