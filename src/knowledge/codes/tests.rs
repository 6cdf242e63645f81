use super::*;

fn index() -> (CodeIndex, ValueSetId, ValueSetId) {
    let mut idx = CodeIndex::default();
    let icd = idx.add_system(&["http://hl7.org/fhir/sid/icd-10".into()], CodeForm::Icd, Coverage::Complete);
    let malignancy = ValueSetId(0);
    let live = ValueSetId(1);
    idx.add_prefix(icd, "C", malignancy, false);
    idx.add_prefix(icd, "C44", malignancy, true);
    idx.add_text("yellow fever", Some(live), None);
    idx.add_text("Stamaril", Some(live), None);
    idx.finish();
    (idx, malignancy, live)
}

#[test]
fn icd_prefix_ranges_honour_exclusions_and_dots() {
    let (idx, malignancy, _) = index();
    let uri = "http://hl7.org/fhir/sid/icd-10";
    assert!(idx.classify(uri, "C50.9").value_sets.contains(malignancy));
    assert!(idx.classify(uri, "c509").value_sets.contains(malignancy));
    assert!(!idx.classify(uri, "C44.1").value_sets.contains(malignancy));
    assert!(!idx.classify(uri, "D03.9").value_sets.contains(malignancy));
    assert!(!idx.classify("http://example.org/other", "C50").value_sets.contains(malignancy));
}

#[test]
fn text_matches_whole_words_and_phrases_only() {
    let (idx, _, live) = index();
    assert!(idx.classify_text("Vaccin tegen Yellow-Fever (Stamaril®)").value_sets.contains(live));
    assert!(idx.classify_text("STAMARIL inj").value_sets.contains(live));
    assert!(!idx.classify_text("yellowish fever chart").value_sets.contains(live));
}

#[test]
fn snomed_members_are_integers_and_inclusions_close_over_sets() {
    let mut idx = CodeIndex::default();
    let sct = idx.add_system(
        &["http://snomed.info/sct".into()],
        CodeForm::Sctid,
        Coverage::SnomedNamespaces(vec!["1000124".into()]),
    );
    let (hypertension, diabetes, risk, outer) = (ValueSetId(0), ValueSetId(1), ValueSetId(2), ValueSetId(3));
    idx.add_code(sct, "38341003", Some(hypertension), None);
    idx.add_code(sct, "44054006", Some(diabetes), None);
    idx.add_code(sct, "428041000124106", Some(diabetes), None);
    idx.add_inclusion(risk, hypertension);
    idx.add_inclusion(risk, diabetes);
    idx.add_inclusion(outer, risk);
    idx.finish();
    let uri = "http://snomed.info/sct";
    let found = idx.classify(uri, " 44054006 ").value_sets;
    assert!(found.contains(diabetes) && found.contains(risk) && found.contains(outer));
    assert!(!found.contains(hypertension));
    assert_eq!(idx.sctid_count(), 3);
    // Placement: members and core codes are known; an uncovered extension is not.
    assert_eq!(idx.placement(uri, "38341003"), Placement::Known);
    assert_eq!(idx.placement(uri, "22298006"), Placement::Expanded);
    assert_eq!(idx.placement(uri, "11000146104"), Placement::Unknown);
    assert_eq!(idx.placement(uri, "not-a-code"), Placement::Unknown);
    assert_eq!(idx.placement("urn:oid:1.2.3", "x"), Placement::Unknown);
}
