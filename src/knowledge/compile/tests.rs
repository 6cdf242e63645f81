//! The knowledge compiler's sections on small inline files: each problem it reports, named by
//! file and entry, and that a good file passes clean.

use std::collections::BTreeMap;

use super::diagnostics::Diagnostics;
use super::{rules, service};
use crate::knowledge::MESSAGE_KEYS;
use crate::knowledge::spec::{MessagesFile, RuleSpec};

fn diagnostics() -> Diagnostics {
    Diagnostics { dir: std::env::temp_dir(), errors: Vec::new() }
}

fn messages(entries: &[(&str, &str, &str)]) -> MessagesFile {
    MessagesFile {
        source: "test".into(),
        messages: entries
            .iter()
            .map(|(k, en, nl)| {
                (k.to_string(), BTreeMap::from([("en".into(), en.to_string()), ("nl".into(), nl.to_string())]))
            })
            .collect(),
    }
}

fn errors(d: &Diagnostics) -> Vec<String> {
    d.errors.iter().map(|e| e.to_string()).collect()
}

#[test]
fn the_message_catalogue_holds_every_key_in_both_languages_with_the_same_placeholders() {
    let all: Vec<(&str, &str, &str)> = MESSAGE_KEYS.iter().map(|k| (*k, "x", "y")).collect();
    let mut d = diagnostics();
    let m = service::messages(&mut d, &messages(&all));
    assert!(d.errors.is_empty(), "{:?}", errors(&d));
    assert_eq!(m.texts.len(), MESSAGE_KEYS.len());

    let mut broken: Vec<(&str, &str, &str)> = all.iter().filter(|(k, ..)| *k != "card.found").copied().collect();
    broken.push(("card.unknown", "a", "b"));
    broken.retain(|(k, ..)| *k != "dose");
    broken.push(("dose", "{mg} mg × {per_day}/day", "{mg} mg per dag"));
    broken.retain(|(k, ..)| *k != "link.rule");
    broken.push(("link.rule", "How this check works", " "));
    let mut d = diagnostics();
    service::messages(&mut d, &messages(&broken));
    let e = errors(&d);
    for expected in [
        "messages.toml: message `card.unknown`: is not a message the cards use",
        "messages.toml: message `card.found`: is missing: the cards use it",
        "messages.toml: message `dose`: the English and Dutch texts fill in different {placeholders}",
        "messages.toml: message `link.rule`: text: no Dutch text (nl)",
    ] {
        assert!(e.iter().any(|x| x == expected), "{expected} not in {e:#?}");
    }
    assert_eq!(e.len(), 4, "{e:#?}");
}

fn rule(toml_text: &str) -> RuleSpec {
    toml::from_str(toml_text).expect("a rule file")
}

#[test]
fn a_rule_that_fires_on_continuations_must_say_what_to_do_with_the_treatment() {
    let text = |continuation: &str| {
        format!(
            r#"
id = "jak.serious-infection"
applies_to = ["jak"]
recommendation = "against-strong"
source = "s"
card_source = "seed-a"
[text.en]
title = "t"
summary = "{{drug}}: {{reasons}}"
advice = "a"
{continuation}
[text.nl]
title = "t"
summary = "{{drug}}: {{reasons}}"
advice = "a"
[[reasons]]
id = "r"
when = {{ new_start = true }}
source = "s"
label = {{ en = "l", nl = "l" }}
"#
        )
    };
    let mut d = diagnostics();
    let spec = rule(&text(""));
    assert!(rules::continuation_texts(&mut d, "rules/x.toml", "rule `x`", &spec).is_none());
    assert_eq!(
        errors(&d),
        [
            "rules/x.toml: rule `x`: fires on a continuation: give [text.*] continuation, what to do with the ongoing treatment"
        ]
    );
    let mut d = diagnostics();
    let spec = rule(&text(r#"continuation = "interrupt it""#));
    assert!(rules::continuation_texts(&mut d, "rules/x.toml", "rule `x`", &spec).is_none());
    assert_eq!(errors(&d), ["rules/x.toml: rule `x`: [text.en] and [text.nl] continuation: give both or neither"]);
}

#[test]
fn every_reason_of_the_shipped_knowledge_has_its_own_index_and_knows_whether_it_reads_the_order() {
    let k = crate::knowledge::Knowledge::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cds-services"))
        .unwrap();
    // The engine keeps what a reason found by this index: two reasons sharing one would share evidence.
    let reasons: Vec<_> = k.rules.iter().flat_map(|r| &r.reasons).collect();
    for (position, reason) in reasons.iter().enumerate() {
        assert_eq!(reason.index, position, "{}", reason.id);
        assert_eq!(reason.reads_order, reason.when.reads_order(), "{}", reason.id);
    }
    // Both kinds occur: age and history are the patient's, dose and indication the order's.
    assert!(reasons.iter().any(|r| r.reads_order) && reasons.iter().any(|r| !r.reads_order));
}
