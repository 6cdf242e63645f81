//! The knowledge files are validated at start-up: a broken file stops the service with an
//! error naming the file and the entry (issue 3, item 5).

use std::path::Path;

use advanced_therapy_cds::knowledge::Knowledge;

use crate::support::{binary, root};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of cds-services/ with one file edited.
fn broken(file: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("cds-services"), dir.path());
    let path = dir.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the edit must change {file}");
    std::fs::write(&path, edited).unwrap();
    dir
}

fn errors_of(dir: &Path) -> String {
    Knowledge::load(dir).expect_err("broken knowledge must not load").to_string()
}

#[test]
fn the_shipped_knowledge_loads() {
    let k = Knowledge::load(&root().join("cds-services")).unwrap();
    for id in [
        "jak.restricted-population",
        "jak.active-malignancy",
        "jak.untreated-tb",
        "jak.pregnancy",
        "biologic.pregnancy",
        "all.live-vaccine",
        "data.unchecked",
    ] {
        assert!(k.rule(id).is_some(), "rule {id} is loaded");
    }
    assert_eq!(k.drugs.len(), 7);
}

#[test]
fn an_unknown_rule_id_names_the_file() {
    let dir = broken("rules/jak.pregnancy.toml", |t| t.replace("id = \"jak.pregnancy\"", "id = \"jak.pregnancy-2\""));
    let e = errors_of(dir.path());
    assert!(e.contains("rules/jak.pregnancy.toml: rule `jak.pregnancy-2`: unknown rule id"), "{e}");
}

#[test]
fn a_service_id_is_a_plain_path_segment_and_unique() {
    // Each id becomes a route of its own: a `{` would make it a pattern.
    let dir = broken("service.toml", |t| t.replace("id = \"advanced-therapy-order-sign\"", "id = \"order-{sign}\""));
    let e = errors_of(dir.path());
    assert!(e.contains("service.toml: service `order-{sign}`: needs an `id` of lowercase letters"), "{e}");
    let dir = broken("service.toml", |t| {
        t.replace("id = \"advanced-therapy-order-sign\"", "id = \"advanced-therapy-order-select\"")
    });
    let e = errors_of(dir.path());
    assert!(e.contains("service.toml: service `advanced-therapy-order-select`: is defined twice"), "{e}");
}

#[test]
fn an_undefined_value_set_names_the_rule_and_reason() {
    let dir =
        broken("rules/jak.active-malignancy.toml", |t| t.replace("in = \"malignancy-excl-nmsc\"", "in = \"cancer\""));
    let e = errors_of(dir.path());
    assert!(
        e.contains("rules/jak.active-malignancy.toml: rule `jak.active-malignancy`, reason `active-malignancy`: value set `cancer` is referenced but not defined"),
        "{e}"
    );
}

#[test]
fn an_entry_without_a_source_is_refused() {
    let dir = broken("value-sets/vaccines.toml", |t| {
        let start = t.find("source = \"CVX: MMR").unwrap();
        let end = start + t[start..].find('\n').unwrap();
        format!("{}source = \"\"{}", &t[..start], &t[end..])
    });
    let e = errors_of(dir.path());
    assert!(e.contains("value-sets/vaccines.toml: value set `live-vaccines`: has no source"), "{e}");

    let dir = broken("rules/all.live-vaccine.toml", |t| {
        t.replace("source = \"Seed A: recent (< 4 weeks) live vaccine\"", "source = \" \"")
    });
    let e = errors_of(dir.path());
    assert!(e.contains("rule `all.live-vaccine`, reason `recent`: has no source"), "{e}");
}

#[test]
fn a_rule_without_dutch_text_is_refused() {
    let dir = broken("rules/biologic.pregnancy.toml", |t| {
        let start = t.find("[text.nl]").unwrap();
        let end = t.find("[[reasons]]").unwrap();
        format!("{}{}", &t[..start], &t[end..])
    });
    let e = errors_of(dir.path());
    assert!(
        e.contains("rules/biologic.pregnancy.toml: rule `biologic.pregnancy`: rule has no Dutch text ([text.nl])"),
        "{e}"
    );

    let dir = broken("rules/jak.pregnancy.toml", |t| {
        t.replace("label = { en = \"pregnant\", nl = \"zwanger\" }", "label = { en = \"pregnant\" }")
    });
    let e = errors_of(dir.path());
    assert!(e.contains("reason `pregnant`: label: no Dutch text (nl)"), "{e}");
}

#[test]
fn every_problem_is_reported_at_once_and_syntax_errors_name_the_file() {
    let dir = broken("definitions.toml", |t| {
        t.replace(
            "which = \"any\", answer_in = \"smoker-answers\"",
            "which = \"newest\", answer_in = \"smoker-answers\"",
        )
    });
    std::fs::write(dir.path().join("rules/jak.untreated-tb.toml"), "id = \"jak.untreated-tb\"\nthis is not toml")
        .unwrap();
    let e = errors_of(dir.path());
    assert!(e.contains("unknown variant `newest`, expected `latest` or `any`"), "{e}");
    assert!(e.contains("rules/jak.untreated-tb.toml: not valid"), "{e}");
}

#[test]
fn a_definition_that_uses_itself_is_refused() {
    let dir = broken("definitions.toml", |t| {
        t.replace(
            "{ condition = { in = \"smoking-history\" } },\n] }\n\n[definitions.smoking-status-known]",
            "{ use = \"smoker\" },\n] }\n\n[definitions.smoking-status-known]",
        )
    });
    let e = errors_of(dir.path());
    assert!(e.contains("refers to itself"), "{e}");
}

#[test]
fn the_service_does_not_start_on_broken_knowledge() {
    let dir = broken("rules/jak.pregnancy.toml", |t| t.replace("id = \"jak.pregnancy\"", "id = \"jak.zwanger\""));
    let data = tempfile::tempdir().unwrap();
    let out = binary()
        .args(["serve", "--bind", "127.0.0.1:0", "--knowledge"])
        .arg(dir.path())
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot start") && stderr.contains("rule `jak.zwanger`: unknown rule id"), "{stderr}");
}

#[test]
fn the_matrix_rows_name_rules_reasons_and_gaps_that_exist() {
    let k = Knowledge::load(&root().join("cds-services")).unwrap();
    let columns: Vec<&str> = k.matrix.drugs.iter().map(|d| k.drug(*d).key.as_str()).collect();
    assert_eq!(columns, ["dupilumab", "tralokinumab", "baricitinib", "upadacitinib", "abrocitinib"]);
    assert_eq!(k.matrix.rows.len(), 17, "seed A's rows: 12 warnings, 2 pregnancy, 3 other indications");
    assert!(k.preferences.iter().any(|p| p.id == "oral"));

    let dir = broken("matrix.toml", |t| {
        t.replace("jak.restricted-population#age-65", "jak.restricted-population#age-66")
            .replace("rules = [\"jak.gi-perforation\"]", "rules = [\"jak.gi\"]")
            .replace("unchecked = [\"no-egfr\"", "unchecked = [\"no-gfr\"")
            .replace(
                "abrocitinib = \"↓↓\" }\nrules = [\"jak.active-malignancy\"]",
                "abrocitinib = \"↓↓↓\" }\nrules = [\"jak.active-malignancy\"]",
            )
    });
    let e = errors_of(dir.path());
    for expected in [
        "matrix.toml: row `age-65`: rule `jak.restricted-population` has no reason `age-66`",
        "matrix.toml: row `gi-perforation`: `jak.gi` is no rule",
        "matrix.toml: row `renal-hepatic`: `no-gfr` is no reason of data.unchecked",
        "matrix.toml: row `active-malignancy`: `↓↓↓` is not a matrix arrow",
    ] {
        assert!(e.contains(expected), "{expected} not in {e}");
    }
}
