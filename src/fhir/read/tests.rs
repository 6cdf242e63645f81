use super::*;

fn raw(s: &str) -> Box<RawValue> {
    RawValue::from_string(s.to_string()).unwrap()
}

#[test]
fn a_malformed_resource_is_named_and_the_rest_kept() {
    let json = raw(r#"{"resourceType":"Bundle","type":"searchset","entry":[
        {"resource":{"resourceType":"Condition","id":"ok","subject":{"reference":"Patient/p1"},"code":{"text":"x"}}},
        {"resource":{"resourceType":"Condition","id":"bad","subject":{"reference":"Patient/p1"},"recordedDate":"1950-13-45"}}]}"#);
    let mut record = PatientRecord::default();
    let reading = read_key("conditions", &json, "p1", &mut record, usize::MAX, None).unwrap();
    assert_eq!(reading.resources, 1);
    assert_eq!(record.conditions.len(), 1);
    assert!(matches!(&record.problems[0], RecordProblem::Unreadable { resource, .. } if resource == "Condition/bad"));
}

#[test]
fn wrong_type_and_other_patient_are_refused() {
    let mut record = PatientRecord::default();
    let obs = raw(r#"{"resourceType":"Observation","id":"o","status":"final","code":{"text":"x"}}"#);
    assert!(read_key("conditions", &obs, "p1", &mut record, usize::MAX, None).unwrap_err().0.contains("Observation/o"));
    let other = raw(r#"{"resourceType":"Condition","id":"c","subject":{"reference":"Patient/p2"}}"#);
    assert!(
        read_key("conditions", &other, "p1", &mut record, usize::MAX, None).unwrap_err().0.contains("another patient")
    );
}

#[test]
fn operation_outcome_is_a_failure_with_its_message() {
    let mut record = PatientRecord::default();
    let oo = raw(
        r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"timeout","diagnostics":"search took too long"}]}"#,
    );
    let reading = read_key("observations", &oo, "p1", &mut record, usize::MAX, None).unwrap();
    assert_eq!(reading.failure.as_deref(), Some("error timeout: search took too long"));
}

#[test]
fn glances_stop_while_most_resources_are_of_use_and_go_on_while_few_are() {
    let glances = |of_use: &dyn Fn(usize) -> bool| {
        let mut g = Glancing::for_bundle(100);
        (0..100)
            .filter(|&i| {
                g.worth_it() && {
                    g.saw(of_use(i));
                    true
                }
            })
            .count()
    };
    // All of use: the first eight, then one in seventeen as a probe.
    assert_eq!(glances(&|_| true), 8 + 92 / 17);
    // None of use: every one is glanced (and left unparsed).
    assert_eq!(glances(&|_| false), 100);
    // The break-even is 40 % of use (a glance costs 0.6 of a typed parse): one in three of use
    // is glanced throughout, one in two is not.
    assert_eq!(glances(&|i| i % 3 == 2), 100);
    let half = glances(&|i| i % 2 == 0);
    assert!(half < 50, "{half}");
    // Of use at first, then none: the probes find it, and glancing resumes.
    let late = glances(&|i| i < 20);
    assert!(late > 60 && late < 100, "{late}");
    // A short Bundle is read in full.
    assert!(!Glancing::for_bundle(16).worth_it() && Glancing::for_bundle(17).worth_it());
}

#[test]
fn an_unreadable_resource_of_no_use_is_counted_not_named_wherever_it_stands() {
    // Of use: a code "used"; of no use: anything else.
    let relevance = Relevance(std::sync::Arc::new(|g: &Glance<'_>| {
        g.code.as_ref().is_some_and(|c| c.coding.iter().any(|c| c.code.as_deref() == Some("used")))
    }));
    let condition = |id: &str, code: &str, patient: &str| {
        format!(
            r#"{{"resource":{{"resourceType":"Condition","id":"{id}","subject":{{"reference":"Patient/{patient}"}},"code":{{"coding":[{{"system":"s","code":"{code}"}}]}},"recordedDate":"1950-13-45"}}}}"#
        )
    };
    // A short Bundle (parsed without glances) and a long one whose glances stopped (all of use).
    for filler in [2, 40] {
        let mut entries: Vec<String> = (0..filler)
            .map(|i| format!(r#"{{"resource":{{"resourceType":"Condition","id":"c{i}","subject":{{"reference":"Patient/p1"}},"code":{{"coding":[{{"system":"s","code":"used"}}]}}}}}}"#))
            .collect();
        entries.push(condition("bad-of-no-use", "other", "p1"));
        entries.push(condition("bad-of-use", "used", "p1"));
        let json = raw(&format!(r#"{{"resourceType":"Bundle","entry":[{}]}}"#, entries.join(",")));
        let mut record = PatientRecord::default();
        read_key("conditions", &json, "p1", &mut record, usize::MAX, Some(&relevance)).unwrap();
        assert_eq!((record.conditions.len(), record.not_used), (filler, 1), "{filler} before");
        let named: Vec<_> = record.problems.iter().map(|p| format!("{p:?}")).collect();
        assert!(named.len() == 1 && named[0].contains("Condition/bad-of-use"), "{filler}: {named:?}");
        // Unreadable, of no use, and about another patient: still refused.
        let other = raw(&format!(r#"{{"resourceType":"Bundle","entry":[{}]}}"#, condition("x", "other", "p2")));
        let mut record = PatientRecord::default();
        assert!(
            read_key("conditions", &other, "p1", &mut record, usize::MAX, Some(&relevance))
                .unwrap_err()
                .0
                .contains("another patient")
        );
    }
}

#[test]
fn a_peek_reads_type_and_id_wherever_they_stand_and_stops_there() {
    let both = |json: &str, want_id: bool| {
        let p = peek(json, want_id)?;
        Some((p.resource_type.map(|t| t.into_owned()), p.id.map(|i| i.into_owned())))
    };
    let some = |t: &str, id: Option<&str>| Some((Some(t.to_string()), id.map(str::to_string)));
    assert_eq!(both(r#"{"resourceType":"Condition","id":"c1","code":{}}"#, true), some("Condition", Some("c1")));
    assert_eq!(
        both(r#"{"meta":{"x":[1,2]},"id":"c\"2","resourceType":"Condition"}"#, true),
        some("Condition", Some("c\"2"))
    );
    assert_eq!(both(r#"{"resourceType":"Patient","active":true}"#, true), some("Patient", None));
    assert_eq!(both(r#"{"resourceType":"Bundle","entry":[]}"#, false), some("Bundle", None));
    // It stops at what it wants: what follows is not read (the body was checked as JSON before).
    assert_eq!(both(r#"{"resourceType":"Bundle","entry":[oops"#, false), some("Bundle", None));
    assert_eq!(both(r#"{"id":"x","resourceType":"Observation"}"#, true), some("Observation", Some("x")));
    assert_eq!(both(r#"{"id":"x"}"#, true), Some((None, Some("x".to_string()))));
    assert_eq!(both(r#"["resourceType","Patient"]"#, true), None);
    assert_eq!(both(r#"{"resourceType":7}"#, false), None);
}
