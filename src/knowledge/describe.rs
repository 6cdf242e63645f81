//! The rule language in words, for reviewers: what a compiled criterion checks, naming value
//! sets by their titles. Used by the rules page; never by the engine.

use super::*;

fn vs(k: &Knowledge, id: ValueSetId) -> String {
    let v = k.value_set(id);
    format!("{} [{}]", v.title, v.key)
}

fn months(m: Option<u32>) -> String {
    m.map(|m| format!(" in the last {m} months")).unwrap_or_default()
}

fn status(s: ConditionStatusFilter) -> &'static str {
    match s {
        ConditionStatusFilter::Active => "active ",
        ConditionStatusFilter::History => "past (inactive, in remission or resolved) ",
        ConditionStatusFilter::Resolved => "resolved ",
        ConditionStatusFilter::NotResolved => "not resolved (active, inactive or in remission) ",
        ConditionStatusFilter::Any => "",
    }
}

/// A one-paragraph English description of a criterion.
pub fn describe(k: &Knowledge, c: &Criterion) -> String {
    match c {
        Criterion::All(list) => {
            format!("all of: ({})", list.iter().map(|c| describe(k, c)).collect::<Vec<_>>().join("; "))
        }
        Criterion::Any(list) => {
            format!("any of: ({})", list.iter().map(|c| describe(k, c)).collect::<Vec<_>>().join("; "))
        }
        Criterion::Not(inner) => format!("not ({})", describe(k, inner)),
        Criterion::Age { at_least, below } => match (at_least, below) {
            (Some(a), Some(b)) => format!("age {a} to {}", b - 1),
            (Some(a), None) => format!("age {a} or older"),
            (None, Some(b)) => format!("age below {b}"),
            (None, None) => "any age".into(),
        },
        Criterion::Sex(s) => format!("sex recorded as {s:?}").to_lowercase(),
        Criterion::Condition(q) => {
            let mut s = format!(
                "{}{} condition: {}",
                if q.min_count > 1 { format!("at least {} ", q.min_count) } else { "a ".into() },
                status(q.status).trim_end(),
                vs(k, q.value_set)
            );
            if let Some(sev) = q.severity_in {
                s.push_str(&format!(", with severity in {}", vs(k, sev)));
            }
            s.push_str(&months(q.within_months));
            if let Some(f) = &q.unless_followed_by {
                s.push_str(&format!(", unless followed by {}", describe(k, f)));
            }
            s
        }
        Criterion::Observation(q) => {
            let mut s = format!(
                "{} observation of {}{}",
                if q.which == super::ObservationPick::Latest { "the latest" } else { "any" },
                vs(k, q.value_set),
                months(q.within_months)
            );
            if let Some(a) = q.answer_in {
                s.push_str(&format!(" answering {}", vs(k, a)));
            }
            if let Some(a) = q.answer_not_in {
                s.push_str(&format!(" not answering {}", vs(k, a)));
            }
            if q.with_value {
                s.push_str(" with a value");
            }
            if q.date_value_from_today {
                s.push_str(" whose date is today or later");
            }
            match q.numeric {
                Some(NumericTest::BelowToday { quantity, below }) => {
                    s.push_str(&format!(", counted on to today below {below} {}", k.quantity(quantity).unit));
                }
                Some(NumericTest::Compare { quantity, below, at_least }) => {
                    let unit = &k.quantity(quantity).unit;
                    if let Some(a) = at_least {
                        s.push_str(&format!(", at least {a} {unit}"));
                    }
                    if let Some(b) = below {
                        s.push_str(&format!(", below {b} {unit}"));
                    }
                }
                Some(NumericTest::UnitNotUnderstood(quantity)) => {
                    s.push_str(&format!(", in a unit not known for {}", k.quantity(quantity).key));
                }
                None => {}
            }
            if let Some(f) = &q.unless_followed_by {
                s.push_str(&format!(", unless followed by {}", describe(k, f)));
            }
            s
        }
        Criterion::Medication(q) => format!(
            "a medication of {}{} with status {}{}",
            vs(k, q.value_set),
            q.not_in.map(|n| format!(" and not of {}", vs(k, n))).unwrap_or_default(),
            q.statuses.iter().map(|s| format!("{s:?}").to_lowercase()).collect::<Vec<_>>().join("/"),
            q.min_days.map(|d| format!(", taken for at least {d} days")).unwrap_or_default()
        ),
        Criterion::Immunization(q) => match q.within_days {
            Some(d) => format!("an immunization with {} in the last {d} days", vs(k, q.value_set)),
            None => format!("an immunization with {} ever", vs(k, q.value_set)),
        },
        Criterion::PlannedImmunization(q) => match q.within_days {
            Some(d) => format!(
                "a planned immunization with {} within {d} days (draft order or recommendation)",
                vs(k, q.value_set)
            ),
            None => format!("a planned immunization with {}", vs(k, q.value_set)),
        },
        Criterion::AgeUnknown => "no usable birth date".into(),
        Criterion::RecordProblems => "parts of the record could not be read or are incomplete".into(),
        Criterion::UnclassifiedConditions => {
            "conditions whose codes the service cannot place (no terminology server answer, no recognisable text)"
                .into()
        }
        Criterion::UnidentifiedMedications => {
            "medicines in use with neither a name nor a code the service can place".into()
        }
        Criterion::OrderUnreadable => "the order itself could not be read".into(),
        Criterion::NewStart => "the order is a new start".into(),
        Criterion::Indication(v) => format!("the order is for {}", vs(k, *v)),
        Criterion::Dose { mg, per_day } => format!("the ordered dose is {mg} mg, {per_day} times a day"),
        Criterion::DoseUnreadable => "the ordered dose cannot be read".into(),
        Criterion::DoseMissing => "the order gives no dose".into(),
        Criterion::DoseRead => "the ordered dose can be read".into(),
        Criterion::WeeksOnDrug { more_than } => {
            format!("more than {more_than} weeks since the first order of the ordered drug")
        }
        Criterion::PreviouslyOnDose { mg, per_day } => {
            format!("an earlier order of the ordered drug at {mg} mg, {per_day} times a day")
        }
        Criterion::DaysOnDose { mg, per_day, after, within_months, more_than } => format!(
            "more than {more_than} days on {mg} mg, {per_day} times a day in the last {within_months} months{}",
            after.map(|(m, p)| format!(", after having been on {m} mg {p} times a day")).unwrap_or_default()
        ),
        Criterion::OrderedDrug(set) => format!(
            "the ordered drug is {}",
            k.drugs.iter().filter(|d| set.contains(d.id)).map(|d| d.key.as_str()).collect::<Vec<_>>().join(" or ")
        ),
    }
}
