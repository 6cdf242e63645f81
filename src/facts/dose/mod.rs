//! Reading an order's dose: mg per administration and administrations per day, from the
//! structured `dosageInstruction` or, failing that, from its text ("10 mg 2x daags", "10 mg
//! twice daily", "1 dd 200 mg"). A dose that cannot be read with certainty is reported as
//! unreadable, never guessed.

use fhir_sdk::r4b::types::{Dosage, DosageDoseAndRateDose, Quantity, TimingRepeat};

/// What the order says about its dose.
#[derive(Debug, Clone, PartialEq)]
pub enum DoseReading {
    Read {
        mg: f64,
        per_day: f64,
    },
    /// There is dose information, but not one this reader is sure of (the text is kept).
    Unreadable(String),
    /// The order gives no dose at all.
    Missing,
}

impl DoseReading {
    pub fn matches(&self, mg: f64, per_day: f64) -> bool {
        match self {
            DoseReading::Read { mg: m, per_day: p } => (m - mg).abs() < 1e-6 && (p - per_day).abs() < 1e-6,
            _ => false,
        }
    }
}

/// The dose of a MedicationRequest's dosage instructions. `strength_mg` is the mg in one unit of
/// the product (one tablet, "1 stuk"), when the product says it unambiguously: a dose given as a
/// count of units is that many times it.
pub fn read(instructions: &[Option<Dosage>], strength_mg: Option<f64>) -> DoseReading {
    let dosages: Vec<&Dosage> = instructions.iter().flatten().collect();
    match dosages.as_slice() {
        [] => DoseReading::Missing,
        [one] => read_one(one, strength_mg),
        several => {
            // Several instructions (a taper, a loading dose): only when they all say the same.
            let readings: Vec<DoseReading> = several.iter().map(|d| read_one(d, strength_mg)).collect();
            if readings.iter().all(|r| r == &readings[0]) {
                readings[0].clone()
            } else {
                DoseReading::Unreadable(several.iter().filter_map(|d| d.text.clone()).collect::<Vec<_>>().join(" / "))
            }
        }
    }
}

fn read_one(d: &Dosage, strength_mg: Option<f64>) -> DoseReading {
    // Why the structured dose cannot be read, with the text beside it.
    let refuse = |why: String| {
        DoseReading::Unreadable(format!("{why}{}", d.text.as_deref().map(|t| format!(": {t}")).unwrap_or_default()))
    };
    // A dose range ("1-2 tablets", "5-10 mg") is no one dose.
    if d.dose_and_rate.iter().flatten().any(|r| matches!(r.dose, Some(DosageDoseAndRateDose::Range(_)))) {
        return refuse("a dose range".into());
    }
    // A count of units of a product whose strength is known: "1 stuk" of a 4 mg tablet is 4 mg
    // (the Dutch G-Standaard doses in the product's base unit, code 245 'stuk').
    if let (Some(strength), Some(q)) = (strength_mg, dose_quantity(d))
        && let Some(count) = q.value
        && is_piece(q)
        && let Some(per_day) = d.timing.as_ref().and_then(timing_per_day)
    {
        let mg = count * strength;
        return match d.text.as_deref().map(read_text) {
            Some(DoseReading::Read { mg: t, per_day: p }) if !DoseReading::Read { mg, per_day }.matches(t, p) => {
                let unit = quantity_unit(q).unwrap_or("unit");
                refuse(format!("{count} {unit} per dose × {strength} mg"))
            }
            _ => DoseReading::Read { mg, per_day },
        };
    }
    // A dose in tablets or capsules: the mg per unit comes from the text, which says it for one
    // unit ("Xeljanz 5 mg", "1 tablet"); for two tablets it would be half the dose, so only a
    // single unit is read on.
    // (A count without a unit is no mass either.)
    if let Some((count, unit)) = dose_quantity(d).and_then(|q| Some((q.value?, quantity_unit(q).unwrap_or("unit"))))
        && to_mg(count, unit).is_none()
        && (count - 1.0).abs() > 1e-9
    {
        return refuse(format!("{count} {unit} per dose"));
    }
    let structured = structured(d);
    let text = d.text.as_deref().map(read_text);
    match (structured, text) {
        // Structured data wins; a readable text that disagrees makes the order unreadable.
        (Some(s), Some(DoseReading::Read { mg, per_day })) if !s.matches(mg, per_day) => {
            DoseReading::Unreadable(d.text.clone().unwrap_or_default())
        }
        (Some(s), _) => s,
        (None, Some(t)) => t,
        (None, None) => {
            if d.dose_and_rate.iter().flatten().next().is_some() || d.timing.is_some() {
                DoseReading::Unreadable("structured dose without mg or frequency".into())
            } else {
                DoseReading::Missing
            }
        }
    }
}

/// The first structured dose quantity of a dosage.
fn dose_quantity(d: &Dosage) -> Option<&Quantity> {
    d.dose_and_rate.iter().flatten().find_map(|r| match &r.dose {
        Some(DosageDoseAndRateDose::Quantity(q)) => Some(q),
        _ => None,
    })
}

/// A quantity's unit: its code, else its human unit.
fn quantity_unit(q: &Quantity) -> Option<&str> {
    q.code.as_deref().or(q.unit.as_deref())
}

fn structured(d: &Dosage) -> Option<DoseReading> {
    let dose = dose_quantity(d)?;
    let value = dose.value?;
    let unit = quantity_unit(dose)?;
    let mg = to_mg(value, unit)?;
    let per_day = timing_per_day(d.timing.as_ref()?)?;
    Some(DoseReading::Read { mg, per_day })
}

fn timing_per_day(timing: &fhir_sdk::r4b::types::Timing) -> Option<f64> {
    match &timing.repeat {
        Some(repeat) => per_day(repeat),
        None => timing
            .code
            .as_ref()
            .and_then(|c| c.coding.iter().flatten().find_map(|c| c.code.as_deref().and_then(abbreviation))),
    }
}

/// The G-Standaard unit table (`…4.4.1.900.2`), whose code 245 is 'stuk' (one unit of the product).
const GSTANDAARD_UNITS: &str = "urn:oid:2.16.840.1.113883.2.4.4.1.900.2";

/// A dose counted in units of the product: "stuk", tablets, capsules, or the UCUM unity "1".
fn is_piece(q: &Quantity) -> bool {
    if q.system.as_deref() == Some(GSTANDAARD_UNITS) && q.code.as_deref() == Some("245") {
        return true;
    }
    [q.code.as_deref(), q.unit.as_deref()].into_iter().flatten().any(|u| {
        let u = u.trim().to_lowercase();
        let u = u.trim_matches(['{', '}']);
        u == "1" || is_dose_unit(u)
    })
}

/// The mg in one unit of a product, from its name ("OLUMIANT TABLET FILMOMHULD 4MG", "Xeljanz
/// 5 mg filmomhulde tablet"): exactly one mass strength must be named.
pub fn strength_from_text(text: &str) -> Option<f64> {
    let lower = text.to_lowercase().replace(',', ".");
    let words: Vec<&str> =
        lower.split(|c: char| c.is_whitespace() || c == '(' || c == ')').filter(|w| !w.is_empty()).collect();
    let mut found = Vec::new();
    for (i, w) in words.iter().enumerate() {
        // A concentration ("20mg/ml", "100 mg/ml") is no strength per unit.
        let unit_next = words.get(i + 1).copied().unwrap_or("");
        for unit in ["mg", "g", "µg", "ug", "mcg"] {
            if let Some(n) = w.strip_suffix(unit).and_then(number) {
                found.push(to_mg(n, unit));
            } else if let (Some(n), true) = (number(w), unit_next == unit) {
                found.push(to_mg(n, unit));
            }
        }
        if w.contains("/ml") || w.contains("/g") || unit_next.starts_with("mg/") {
            return None;
        }
    }
    match found.as_slice() {
        [Some(mg)] => Some(*mg),
        _ => None,
    }
}

fn per_day(r: &TimingRepeat) -> Option<f64> {
    let frequency = f64::from(r.frequency.map(u32::from).unwrap_or(1));
    let period = r.period?;
    let days = match r.period_unit.as_deref()? {
        "h" => period / 24.0,
        "d" => period,
        "wk" => period * 7.0,
        "mo" => period * 30.0,
        _ => return None,
    };
    (days > 0.0).then(|| frequency / days)
}

/// A mass in mg (mg, g, µg), `None` for any other unit.
pub fn mass_mg(value: f64, unit: &str) -> Option<f64> {
    to_mg(value, unit)
}

fn to_mg(value: f64, unit: &str) -> Option<f64> {
    match unit.trim().to_lowercase().as_str() {
        "mg" | "milligram" | "milligrams" => Some(value),
        "g" | "gram" => Some(value * 1000.0),
        "ug" | "µg" | "mcg" | "microgram" => Some(value / 1000.0),
        _ => None,
    }
}

/// HL7 timing abbreviations (GTSAbbreviation) and their Latin/Dutch cousins in texts.
fn abbreviation(code: &str) -> Option<f64> {
    Some(match code.to_lowercase().trim_matches('.').replace('.', "").as_str() {
        "qd" | "od" | "daily" => 1.0,
        "bid" | "bd" => 2.0,
        "tid" | "tds" => 3.0,
        "qid" | "qds" => 4.0,
        "q12h" => 2.0,
        "q24h" => 1.0,
        "q8h" => 3.0,
        _ => return None,
    })
}

/// Read a dose text. Exactly one mg amount and exactly one frequency must be found, and no
/// count of tablets or capsules other than one ("2 tabletten van 5 mg" is 10 mg, not 5).
pub fn read_text(text: &str) -> DoseReading {
    let lower = text.to_lowercase().replace(',', ".");
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    // The count may stand a few words before the form: "2 filmomhulde tabletten", "2 x 1 tablet".
    // A number followed by a mass unit is a strength ("5 mg tablet"), not a count.
    let counted_more_than_once = |i: usize| {
        (i.saturating_sub(3)..i).any(|j| {
            let strength = words.get(j + 1).is_some_and(|n| ["mg", "g", "µg", "ug", "mcg"].contains(n));
            counts(words[j]) && !is_one(words[j]) && !strength
        })
    };
    if words.iter().enumerate().any(|(i, w)| is_dose_unit(w) && counted_more_than_once(i)) {
        return DoseReading::Unreadable(text.to_string());
    }
    let mut amounts = Vec::new();
    let mut frequencies = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let next = words.get(i + 1).copied().unwrap_or("");
        // "10 mg", "10mg"
        if let Some(n) = w.strip_suffix("mg").and_then(number) {
            amounts.push(n);
        } else if let (Some(n), "mg") = (number(w), next) {
            amounts.push(n);
            i += 1;
        }
        // "2x daags", "2 x per dag", "2x/dag", "2 dd", "1dd"
        else if let Some(n) = w.strip_suffix("dd").and_then(number) {
            frequencies.push(n);
        } else if let (Some(n), "dd") = (number(w), next) {
            frequencies.push(n);
            i += 1;
        } else if let Some((n, glued)) = w
            .strip_suffix('x')
            .and_then(number)
            .map(|n| (n, true))
            .or_else(|| (next == "x").then(|| number(w)).flatten().map(|n| (n, false)))
        {
            // "2x daags", "2 x per dag", "1x daily", "2x a day"
            let after = if glued { i + 1 } else { i + 2 };
            let a = words.get(after).copied().unwrap_or("");
            let b = words.get(after + 1).copied().unwrap_or("");
            let daily = |s: &str| ["daags", "dag", "daily", "day", "/dag", "/d", "/day"].contains(&s);
            if daily(a) {
                frequencies.push(n);
                i = after;
            } else if ["per", "a"].contains(&a) && daily(b) {
                frequencies.push(n);
                i = after + 1;
            }
        } else if let Some(n) = w.strip_suffix("x/dag").or_else(|| w.strip_suffix("x/d")).and_then(number) {
            frequencies.push(n);
        } else if let Some((f, consumed)) = word_frequency(w, &words[i + 1..]) {
            frequencies.push(f);
            i += consumed;
        } else if let Some(f) = abbreviation(w) {
            frequencies.push(f);
        }
        i += 1;
    }
    match (amounts.as_slice(), frequencies.as_slice()) {
        ([mg], [per_day]) => DoseReading::Read { mg: *mg, per_day: *per_day },
        _ => DoseReading::Unreadable(text.to_string()),
    }
}

/// A form that is counted per dose: tablet(ten), tbl, tab(s), capsule(s), pil(len), stuk(s), …
fn is_dose_unit(w: &str) -> bool {
    let w = w.trim_end_matches(['.', ',', ':']);
    ["tablet", "tabl", "tbl", "caps", "pil", "stuk", "dragee", "zakje", "sachet"].iter().any(|u| w.starts_with(u))
        || ["tab", "tabs", "tab(s)"].contains(&w)
}

fn is_one(w: &str) -> bool {
    ["1", "een", "één", "one", "a"].contains(&w)
}

/// A word that can count tablets: a number, a fraction, or a number word.
fn counts(w: &str) -> bool {
    number(w).is_some()
        || w.contains('/')
        || w.contains('½')
        || w.contains('¼')
        || ["half", "halve", "anderhalve", "twee", "drie", "vier", "vijf", "zes", "two", "three", "four", "five", "six"]
            .contains(&w)
}

fn number(s: &str) -> Option<f64> {
    let n: f64 = s.parse().ok()?;
    (n.is_finite() && n > 0.0).then_some(n)
}

/// "once daily", "twice a day", "three times daily", "eenmaal daags", "tweemaal per dag",
/// "every 12 hours", "elke 12 uur".
/// Returns the administrations per day and how many following words it used.
fn word_frequency(w: &str, rest: &[&str]) -> Option<(f64, usize)> {
    let daily = |s: &str| ["daily", "daags", "dag", "day"].contains(&s);
    // "om de 12 uur": skip the article. "om 8 uur" is a time of day ("at 8"), not a frequency.
    if w == "om" && rest.first() != Some(&"de") {
        return None;
    }
    let skip = usize::from(w == "om");
    let rest = &rest[skip..];
    let next = rest.first().copied().unwrap_or("");
    let next2 = rest.get(1).copied().unwrap_or("");
    let count = match w {
        "once" | "eenmaal" | "éénmaal" | "1maal" => 1.0,
        "twice" | "tweemaal" | "2maal" => 2.0,
        "thrice" | "driemaal" | "3maal" => 3.0,
        // "om de dag", "om de andere dag", "every other day": every second day.
        "om" => {
            return match (next, next2) {
                ("12", "uur") => Some((2.0, skip + 2)),
                ("24", "uur") => Some((1.0, skip + 2)),
                ("8", "uur") => Some((3.0, skip + 2)),
                ("dag", _) => Some((0.5, skip + 1)),
                ("andere", "dag") | ("twee", "dagen") | ("2", "dagen") => Some((0.5, skip + 2)),
                _ => None,
            };
        }
        "every" | "elke" | "iedere" => {
            return match (next, next2) {
                ("12", "hours" | "uur") => Some((2.0, 2)),
                ("24", "hours" | "uur") => Some((1.0, 2)),
                ("8", "hours" | "uur") => Some((3.0, 2)),
                ("other", "day") | ("2", "days") | ("two", "days") => Some((0.5, 2)),
                ("day", _) | ("dag", _) => Some((1.0, 1)),
                _ => None,
            };
        }
        _ => return None,
    };
    // "once daily", "twice a day", "tweemaal per dag", "eenmaal daags"
    if daily(next) {
        Some((count, 1))
    } else if ["a", "per"].contains(&next) && daily(next2) {
        Some((count, 2))
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
