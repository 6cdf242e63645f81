//! The rule-language compiler, criterion by criterion: what it accepts (and makes of it) and
//! every error it can give, each from a one-line `when` as a knowledge author writes it.

use std::collections::{BTreeMap, HashMap};

use super::CompileContext;
use crate::knowledge::spec::DefinitionSpec;
use crate::knowledge::{Drug, QuantityId, ValueSetId};
use crate::language::ast::*;
use crate::language::syntax::CriterionSpec;
use crate::vocabulary::{DrugId, MedicationStatus, Sex};

fn drug(id: u8, key: &str, class: &str) -> Drug {
    Drug {
        id: DrugId(id),
        key: key.into(),
        class: class.into(),
        brand: String::new(),
        names: Vec::new(),
        source: String::new(),
        codes: Vec::new(),
        expansion: None,
    }
}

fn spec(when: &str) -> CriterionSpec {
    #[derive(serde::Deserialize)]
    struct Wrapper {
        when: CriterionSpec,
    }
    toml::from_str::<Wrapper>(&format!("when = {when}")).unwrap_or_else(|e| panic!("{when}: {e}")).when
}

/// Compile `when` against a small knowledge: value sets `tb` (0) and `tb-treatment` (1), drugs
/// tofacitinib (jak) and dupilumab (biologic), quantity `egfr`, and three definitions.
fn compile(when: &str) -> Result<Criterion, String> {
    let drugs = [drug(0, "tofacitinib", "jak"), drug(1, "dupilumab", "biologic")];
    let vs_ids: HashMap<String, ValueSetId> =
        [("tb".to_string(), ValueSetId(0)), ("tb-treatment".to_string(), ValueSetId(1))].into();
    let definition = |w: &str| DefinitionSpec {
        description: String::new(),
        source: String::new(),
        when: spec(w),
        unverified: false,
    };
    let definitions: BTreeMap<String, DefinitionSpec> = [
        ("treated".to_string(), definition(r#"{ medication = { in = "tb-treatment", status = ["completed"] } }"#)),
        ("loop".to_string(), definition(r#"{ use = "loop" }"#)),
        ("broken".to_string(), definition(r#"{ condition = { in = "cancer" } }"#)),
    ]
    .into();
    let quantities: HashMap<String, QuantityId> = [("egfr".to_string(), QuantityId(0))].into();
    let ctx = CompileContext { drugs: &drugs, vs_ids: &vs_ids, definitions: &definitions, quantities: &quantities };
    ctx.compile(&spec(when), &mut Vec::new())
}

#[test]
fn what_the_compiler_accepts_and_makes_of_it() {
    let ok = |when: &str| compile(when).unwrap_or_else(|e| panic!("{when}: {e}"));
    assert!(matches!(ok(r#"{ sex = "female" }"#), Criterion::Sex(Sex::Female)));
    assert!(matches!(ok("{ age = { at_least = 65 } }"), Criterion::Age { at_least: Some(65), below: None }));
    match ok(r#"{ condition = { in = "tb", status = "not-resolved", min_count = 0 } }"#) {
        // A count of 0 would always hold: it means 1.
        Criterion::Condition(q) => {
            assert_eq!((q.value_set, q.status, q.min_count), (ValueSetId(0), ConditionStatusFilter::NotResolved, 1))
        }
        other => panic!("{other:?}"),
    }
    match ok(r#"{ observation = { in = "tb", quantity = "egfr", below = 30.0 } }"#) {
        Criterion::Observation(q) => {
            assert_eq!(q.which, ObservationPick::Latest, "latest is the default");
            assert!(matches!(q.numeric, Some(NumericTest::Compare { below: Some(b), .. }) if b == 30.0));
        }
        other => panic!("{other:?}"),
    }
    match ok(r#"{ observation = { in = "tb", which = "any", unless_followed_by = { use = "treated" } } }"#) {
        Criterion::Observation(q) => {
            assert_eq!(q.which, ObservationPick::Any);
            assert!(
                matches!(q.unless_followed_by.as_deref(), Some(Criterion::Medication(_))),
                "definitions are inlined"
            );
        }
        other => panic!("{other:?}"),
    }
    match ok(r#"{ medication = { in = "tb-treatment", status = ["active", "draft"], not_in = "tb" } }"#) {
        Criterion::Medication(q) => {
            assert_eq!(q.statuses, vec![MedicationStatus::Active, MedicationStatus::Draft]);
            assert_eq!(q.not_in, Some(ValueSetId(0)));
        }
        other => panic!("{other:?}"),
    }
    match ok(r#"{ ordered_drug = ["jak"] }"#) {
        Criterion::OrderedDrug(set) => {
            assert!(set.contains(DrugId(0)) && !set.contains(DrugId(1)), "a class names its drugs")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(ok("{ new_start = true }"), Criterion::NewStart));
    assert!(
        matches!(ok(r#"{ all = [ { new_start = true }, { not = { dose_missing = true } } ] }"#), Criterion::All(l) if l.len() == 2)
    );
}

#[test]
fn every_error_the_compiler_gives() {
    let table = [
        (r#"{ condition = { in = "cancer" } }"#, "value set `cancer` is referenced but not defined"),
        (r#"{ condition = { in = "tb", within_months = 0 } }"#, "within_months must be at least 1"),
        (
            r#"{ observation = { in = "tb", below = 30.0 } }"#,
            "below / at_least / below_today / unit_not_understood need a `quantity`",
        ),
        (
            r#"{ observation = { in = "tb", quantity = "crp", below = 5.0 } }"#,
            "quantity `crp` is not defined in units.toml",
        ),
        (
            r#"{ observation = { in = "tb", quantity = "egfr" } }"#,
            "quantity `egfr` without below / at_least / below_today / unit_not_understood",
        ),
        (
            r#"{ observation = { in = "tb", quantity = "egfr", below = 30.0, unit_not_understood = true } }"#,
            "give one of: bounds, below_today, unit_not_understood",
        ),
        (
            r#"{ condition = { in = "tb", unless_followed_by = { new_start = true } } }"#,
            "unless_followed_by needs a dated fact (condition, observation, medication, immunization)",
        ),
        ("{ all = [] }", "`all`/`any` with an empty list"),
        ("{ any = [] }", "`all`/`any` with an empty list"),
        (r#"{ use = "loop" }"#, "in definition `loop`: definition `loop` refers to itself (loop → loop)"),
        (r#"{ use = "nowhere" }"#, "definition `nowhere` is used but not defined"),
        (r#"{ use = "broken" }"#, "in definition `broken`: value set `cancer` is referenced but not defined"),
        ("{ age = {} }", "age needs at_least and/or below"),
        (r#"{ medication = { in = "tb", status = [] } }"#, "medication needs at least one status"),
        (
            "{ days_on_dose = { mg = 10.0, per_day = 2.0, within_months = 0, more_than = 182 } }",
            "days_on_dose needs within_months of at least 1",
        ),
        (r#"{ ordered_drug = ["aspirin"] }"#, "ordered_drug `aspirin` is neither a drug nor a class"),
        ("{ dose = { mg = 0.0, per_day = 2.0 } }", "dose needs mg and per_day above 0"),
        ("{ new_start = false }", "write `= true`, or use `not`"),
        ("{ dose_read = false }", "write `= true`, or use `not`"),
    ];
    for (when, message) in table {
        match compile(when) {
            Err(e) => assert_eq!(e, message, "{when}"),
            Ok(c) => panic!("{when} compiled: {c:?}"),
        }
    }
}

#[test]
fn words_outside_the_language_are_refused_by_the_syntax_naming_what_is_allowed() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Wrapper {
        when: CriterionSpec,
    }
    for (when, expected) in [
        (r#"{ sex = "f" }"#, "expected one of `female`, `male`, `other`, `unknown`"),
        (
            r#"{ condition = { in = "tb", status = "cured" } }"#,
            "expected one of `active`, `history`, `resolved`, `not-resolved`, `any`",
        ),
        (r#"{ observation = { in = "tb", which = "newest" } }"#, "expected `latest` or `any`"),
        (
            r#"{ medication = { in = "tb", status = ["given"] } }"#,
            "expected one of `active`, `on-hold`, `completed`, `stopped`, `draft`",
        ),
        (r#"{ bmi = { below = 30 } }"#, "unknown variant `bmi`"),
    ] {
        let e = toml::from_str::<Wrapper>(&format!("when = {when}")).unwrap_err().to_string();
        assert!(e.contains(expected), "{when}: {e}");
    }
}
