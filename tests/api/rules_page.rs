//! `GET /rules`: the knowledge as a clinician reviews it renders every rule (issue 4, item 10).

use advanced_therapy_cds::knowledge::{Knowledge, RuleTarget};

use crate::support::{TestApp, root};

#[tokio::test]
async fn the_rules_page_shows_every_rule_reason_text_value_set_and_drug() {
    let app = TestApp::start().await;
    let resp = app.client.get(app.url("/rules")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = resp.text().await.unwrap();
    let k = Knowledge::load(&root().join("cds-services")).unwrap();
    assert_eq!(page.matches("<article id=").count(), k.rules.len(), "one article per rule");
    for rule in &k.rules {
        assert!(page.contains(&format!("<article id=\"{}\"", rule.id)), "rule {}", rule.id);
        // Titles and texts in both languages (HTML-escaped as the page writes them).
        for text in [&rule.title.en, &rule.title.nl] {
            assert!(page.contains(&escape(text)), "{}: title {text:?}", rule.id);
        }
        // What the card says, in both languages: summary, advice, per-drug advice.
        for text in [&rule.summary.en, &rule.summary.nl, &rule.advice.en, &rule.advice.nl] {
            assert!(page.contains(&escape(text)), "{}: text {text:?}", rule.id);
        }
        for advice in rule.drug_advice.values() {
            for text in [&advice.text.en, &advice.text.nl, &advice.source] {
                assert!(page.contains(&escape(text)), "{}: drug advice {text:?}", rule.id);
            }
        }
        for reason in &rule.reasons {
            assert!(page.contains(&format!("id=\"{}--{}\"", rule.id, reason.id)), "{} reason {}", rule.id, reason.id);
            for text in [&reason.label.en, &reason.label.nl, &reason.source] {
                assert!(page.contains(&escape(text)), "{} reason {}: {text:?}", rule.id, reason.id);
            }
        }
        assert!(page.contains(&escape(&rule.source)), "{} source", rule.id);
    }
    for vs in &k.value_sets {
        assert!(page.contains(&format!("id=\"vs-{}\"", vs.key)), "value set {}", vs.key);
        assert!(page.contains(&escape(&vs.source)), "value set {} source", vs.key);
    }
    // Value sets by meaning: the definition, the expansion's size, version and sources, the text
    // recognition and its guards, and every published source.
    let vs_row = |key: &str| {
        let start = page.find(&format!("id=\"vs-{key}\"")).unwrap();
        page[start..start + page[start..].find("</tr>").unwrap()].to_string()
    };
    let mut expansions = 0;
    for vs in &k.value_sets {
        let row = vs_row(&vs.key);
        if let Some(ecl) = &vs.ecl {
            assert!(row.contains(&escape(&ecl.to_string())), "value set {}: its ECL definition", vs.key);
        }
        for x in &vs.expansions {
            expansions += 1;
            assert!(row.contains(&format!("{} SNOMED CT codes", x.size)), "value set {}: expansion size", vs.key);
            assert!(row.contains(&escape(&x.version)), "value set {}: expansion version", vs.key);
            for s in &x.sources {
                assert!(row.contains(&escape(&k.terminology_sources[s].title)), "value set {}: source {s}", vs.key);
            }
        }
        if let Some(t) = &vs.by_text {
            assert!(
                row.contains("recognised by text") && row.contains(&escape(&t.phrases[0])),
                "value set {}: by text",
                vs.key
            );
        }
    }
    assert!(expansions >= 40, "{expansions} value sets show a shipped expansion");
    assert!(
        page.contains("id=\"text-recognition\"") && page.contains("familieanamnese"),
        "the guards of recognition by text"
    );
    for s in k.terminology_sources.values() {
        assert!(page.contains(&escape(&s.url)), "published source {} listed", s.key);
    }
    // Every reason, definition and value set marked unverified is marked so in its own row.
    let row = |id: &str| {
        let start = page.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no row {id}"));
        &page[start..start + page[start..].find("</tr>").unwrap()]
    };
    let marked = |id: &str| row(id).contains("class=\"unverified\"");
    for rule in &k.rules {
        for reason in &rule.reasons {
            let id = format!("{}--{}", rule.id, reason.id);
            assert_eq!(marked(&id), reason.unverified, "reason {id}: unverified mark");
        }
    }
    for d in &k.definitions {
        assert_eq!(marked(&format!("def-{}", d.key)), d.unverified, "definition {}: unverified mark", d.key);
    }
    for vs in &k.value_sets {
        assert_eq!(marked(&format!("vs-{}", vs.key)), vs.unverified, "value set {}: unverified mark", vs.key);
    }
    for d in &k.drugs {
        assert!(page.contains(&format!("id=\"drug-{}\"", d.key)), "drug {}", d.key);
    }
    assert!(page.contains("id=\"patient-preferences\""));
    // The matrix: baricitinib's row for age etc. shows ↓; dupilumab shows — for JAK rules.
    let matrix = &page[page.find("id=\"matrix\"").unwrap()..page.find("id=\"patient-preferences\"").unwrap()];
    let jak_rules = k
        .rules
        .iter()
        .filter(|r| matches!(r.target, RuleTarget::Drugs(set) if !set.contains(k.drug_by_key("dupilumab").unwrap().id)))
        .count();
    assert!(matrix.matches("<td>—</td>").count() >= jak_rules, "JAK-only rules show — for dupilumab");
    assert!(matrix.contains("↓↓") && matrix.contains("↓") && matrix.contains(">0<"));
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
