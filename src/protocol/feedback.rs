//! CDS Hooks 2.0 feedback (`POST /cds-services/{id}/feedback`): parsed and checked entry by entry.

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::request::RequestError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Overridden,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Overridden => "overridden",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OverrideCoding {
    pub code: String,
    pub system: String,
    pub display: Option<String>,
}

/// One checked feedback entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    pub card: String,
    pub outcome: Outcome,
    pub accepted_suggestions: Vec<String>,
    pub override_reason: Option<OverrideCoding>,
    pub user_comment: Option<String>,
    pub outcome_timestamp: OffsetDateTime,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireBody {
    feedback: Option<Vec<WireFeedback>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireFeedback {
    card: Option<String>,
    outcome: Option<String>,
    #[serde(default)]
    accepted_suggestions: Option<Vec<WireAccepted>>,
    #[serde(default)]
    override_reason: Option<WireOverrideReason>,
    outcome_timestamp: Option<String>,
}

#[derive(Deserialize)]
struct WireAccepted {
    id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireOverrideReason {
    reason: Option<WireCoding>,
    user_comment: Option<String>,
}

#[derive(Deserialize)]
struct WireCoding {
    code: Option<String>,
    system: Option<String>,
    display: Option<String>,
}

/// Parse a feedback body; the first problem found is reported with the entry's position.
pub fn parse_feedback(body: &[u8]) -> Result<Vec<Feedback>, RequestError> {
    let wire: WireBody = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => RequestError::WrongShape(e.to_string()),
        _ => RequestError::MalformedJson(e.to_string()),
    })?;
    let entries = wire.feedback.ok_or(RequestError::Missing("feedback"))?;
    if entries.is_empty() {
        return Err(RequestError::Invalid("`feedback` is an empty array".into()));
    }
    entries.into_iter().enumerate().map(|(i, e)| check(i, e)).collect()
}

fn check(i: usize, e: WireFeedback) -> Result<Feedback, RequestError> {
    let at = |msg: &str| RequestError::Invalid(format!("feedback[{i}]: {msg}"));
    let card = e.card.filter(|c| !c.is_empty()).ok_or_else(|| at("`card` (the card's uuid) is required"))?;
    let outcome = match e.outcome.as_deref() {
        Some("accepted") => Outcome::Accepted,
        Some("overridden") => Outcome::Overridden,
        Some(other) => {
            return Err(at(&format!("`outcome` must be `accepted` or `overridden`, not `{other}`")));
        }
        None => return Err(at("`outcome` is required")),
    };
    let mut accepted_suggestions = Vec::new();
    for (j, s) in e.accepted_suggestions.unwrap_or_default().into_iter().enumerate() {
        match s.id.filter(|id| !id.is_empty()) {
            Some(id) => accepted_suggestions.push(id),
            None => return Err(at(&format!("`acceptedSuggestions[{j}].id` is required"))),
        }
    }
    if outcome == Outcome::Accepted && accepted_suggestions.is_empty() {
        return Err(at("an `accepted` outcome needs `acceptedSuggestions`"));
    }
    if outcome == Outcome::Overridden && !accepted_suggestions.is_empty() {
        return Err(at("an `overridden` outcome cannot have `acceptedSuggestions`"));
    }
    let (override_reason, user_comment) = match e.override_reason {
        None => (None, None),
        Some(r) => {
            let coding = match r.reason {
                None => None,
                Some(c) => match (c.code.filter(|s| !s.is_empty()), c.system.filter(|s| !s.is_empty())) {
                    (Some(code), Some(system)) => Some(OverrideCoding { code, system, display: c.display }),
                    _ => return Err(at("`overrideReason.reason` needs `code` and `system`")),
                },
            };
            if coding.is_none() && r.user_comment.is_none() {
                return Err(at("`overrideReason` needs a `reason` or a `userComment`"));
            }
            (coding, r.user_comment)
        }
    };
    let stamp = e.outcome_timestamp.ok_or_else(|| at("`outcomeTimestamp` is required"))?;
    let outcome_timestamp = OffsetDateTime::parse(&stamp, &Rfc3339)
        .map_err(|_| at("`outcomeTimestamp` must be an RFC 3339 date-time, e.g. 2021-12-11T10:05:31Z"))?;
    if !outcome_timestamp.offset().is_utc() {
        return Err(at("`outcomeTimestamp` must be in UTC (ending in Z)"));
    }
    // Text that a database must store as text: no NUL or other control characters (a comment
    // may have line breaks and tabs).
    let printable = |field: &str, value: &str, multiline: bool| {
        if value.chars().any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'))) {
            return Err(at(&format!("`{field}` holds a control character (such as \\u0000)")));
        }
        Ok(())
    };
    printable("card", &card, false)?;
    for id in &accepted_suggestions {
        printable("acceptedSuggestions[].id", id, false)?;
    }
    if let Some(c) = &override_reason {
        printable("overrideReason.reason.code", &c.code, false)?;
        printable("overrideReason.reason.system", &c.system, false)?;
        printable("overrideReason.reason.display", c.display.as_deref().unwrap_or(""), false)?;
    }
    printable("overrideReason.userComment", user_comment.as_deref().unwrap_or(""), true)?;
    Ok(Feedback { card, outcome, accepted_suggestions, override_reason, user_comment, outcome_timestamp })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specification_examples_parse() {
        for f in
            ["feedback-accepted.json", "feedback-overridden-with-reason.json", "feedback-overridden-no-reason.json"]
        {
            let path = format!("{}/fixtures/cds-hooks-spec/{f}", env!("CARGO_MANIFEST_DIR"));
            let body = std::fs::read(&path).unwrap();
            let parsed = parse_feedback(&body).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert_eq!(parsed.len(), 1);
        }
    }

    #[test]
    fn accepted_without_suggestions_is_refused() {
        let body = br#"{"feedback":[{"card":"c","outcome":"accepted","outcomeTimestamp":"2021-12-11T10:05:31Z"}]}"#;
        let e = parse_feedback(body).unwrap_err().to_string();
        assert!(e.contains("acceptedSuggestions"), "{e}");
    }

    #[test]
    fn local_time_is_refused() {
        let body =
            br#"{"feedback":[{"card":"c","outcome":"overridden","outcomeTimestamp":"2021-12-11T10:05:31+02:00"}]}"#;
        assert!(parse_feedback(body).unwrap_err().to_string().contains("UTC"));
    }
}
