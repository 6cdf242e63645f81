use super::*;

fn read(t: &str) -> DoseReading {
    read_text(t)
}

#[test]
fn texts_that_are_read() {
    let cases = [
        ("10 mg 2x daags", 10.0, 2.0),
        ("10 mg twice daily", 10.0, 2.0),
        ("1 dd 200 mg", 200.0, 1.0),
        ("2dd 5mg", 5.0, 2.0),
        ("15 mg 1x per dag", 15.0, 1.0),
        ("45 mg once daily", 45.0, 1.0),
        ("4 mg eenmaal daags", 4.0, 1.0),
        ("5 mg BID", 5.0, 2.0),
        ("200 mg once a day", 200.0, 1.0),
        ("tofacitinib 10 mg tweemaal per dag", 10.0, 2.0),
        ("30 mg 1x/dag", 30.0, 1.0),
        ("2,5 mg om de 12 uur", 2.5, 2.0),
        ("100 mg every 24 hours", 100.0, 1.0),
        ("10 mg 1x daily", 10.0, 1.0),
        ("5 mg 2 x per dag", 5.0, 2.0),
        ("4 mg daily", 4.0, 1.0),
        ("1 tablet 5 mg 2x daags", 5.0, 2.0),
        ("Xeljanz 5 mg tablet 2x daags", 5.0, 2.0),
        ("10 mg om de dag", 10.0, 0.5),
        ("10 mg om de andere dag", 10.0, 0.5),
        ("10 mg every other day", 10.0, 0.5),
        ("10 mg om de 12 uur", 10.0, 2.0),
        ("10 mg elke dag", 10.0, 1.0),
    ];
    for (text, mg, per_day) in cases {
        assert_eq!(read(text), DoseReading::Read { mg, per_day }, "{text}");
    }
}

#[test]
fn texts_that_are_refused() {
    for text in [
        "1 tablet per dag",
        "10 mg",
        "2x daags",
        "600 mg oplaaddosis, daarna 300 mg elke 2 weken",
        "10 mg 's ochtends en 5 mg 's avonds",
        "volgens schema",
        "10 mg 2x daags of 5 mg 2x daags",
        // Tablet counts other than one: the mg is per tablet, the dose a multiple of it.
        "2 tabletten van 5 mg 2x daags",
        "½ tablet van 10 mg 1x daags",
        "1/2 tablet 10 mg 1x daags",
        "twee tabletten 5 mg 2x daags",
        "2 filmomhulde tabletten van 5 mg 2x daags",
        "two film-coated tablets 5 mg twice daily",
        "2 tbl 5 mg 2x daags",
        "2 tab 5 mg bid",
        "drie tabletten van 5 mg 1x daags",
        // A time of day is not a frequency.
        "10 mg om 8 uur",
    ] {
        assert!(matches!(read(text), DoseReading::Unreadable(_)), "{text}");
    }
}

#[test]
fn product_strength_is_read_from_its_name_once() {
    assert_eq!(strength_from_text("OLUMIANT TABLET FILMOMHULD 4MG"), Some(4.0));
    assert_eq!(strength_from_text("Xeljanz 5 mg filmomhulde tablet"), Some(5.0));
    assert_eq!(strength_from_text("PREDNISOLON TABLET 2,5MG"), Some(2.5));
    // A concentration, or two strengths, is no strength per unit.
    assert_eq!(strength_from_text("KETOZOLIN SHAMPOO 20MG/ML"), None);
    assert_eq!(strength_from_text("ACETYLSALICYLZUUR/PARACETAMOL 250MG 250MG"), None);
    assert_eq!(strength_from_text("Rinvoq tablet"), None);
}

/// The zib MedicationAgreement dose: "1 stuk" (G-Standaard unit 245 with the UCUM unity as
/// its translation) of the product, the product's strength from its name.
#[test]
fn a_dose_in_stuk_is_that_many_units_of_the_product() {
    let dosage = |count: f64, code: &str, system: &str, text: &str| -> Option<Dosage> {
        serde_json::from_value(serde_json::json!({
            "text": text,
            "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
            "doseAndRate": [{"doseQuantity": {"value": count, "unit": "stuk", "system": system, "code": code}}]
        }))
        .ok()
    };
    let g_standaard = dosage(1.0, "245", GSTANDAARD_UNITS, "2 maal daags 1 stuk");
    assert_eq!(crate::facts::dose::read(&[g_standaard], Some(5.0)), DoseReading::Read { mg: 5.0, per_day: 2.0 });
    let ucum = dosage(2.0, "1", "http://unitsofmeasure.org", "2 maal daags 2 stuks");
    assert_eq!(
        crate::facts::dose::read(std::slice::from_ref(&ucum), Some(5.0)),
        DoseReading::Read { mg: 10.0, per_day: 2.0 }
    );
    // Without the product's strength two pieces are no mass.
    assert!(matches!(crate::facts::dose::read(&[ucum], None), DoseReading::Unreadable(_)));
    // A text that names another dose than the pieces give is not chosen between.
    let disagree = dosage(2.0, "245", GSTANDAARD_UNITS, "Xeljanz 5 mg 2x daags");
    assert!(matches!(crate::facts::dose::read(&[disagree], Some(10.0)), DoseReading::Unreadable(_)));
}
