//! Suggestions (replace the draft by an alternative: delete it, create the other) and links.

use serde_json::json;

use super::{CardContext, capitalize, drug_name};
use crate::facts::ReviewedOrder;
use crate::protocol::{Action, ActionType, Link, Suggestion};
use crate::vocabulary::DrugId;

/// A link to the rule's explanation, with suggestions one to the patient-preference rows, and on
/// an order of the decision matrix one to this call's matrix page.
pub(super) fn links(
    ctx: &CardContext<'_>,
    rule: &crate::knowledge::Rule,
    with_suggestions: bool,
    on_matrix: bool,
) -> Vec<Link> {
    let Some(base) = &ctx.rules_url else { return Vec::new() };
    let m = &ctx.knowledge.messages;
    let (rule_label, preferences_label) = (m.get("link.rule", ctx.language), m.get("link.preferences", ctx.language));
    let mut links =
        vec![Link { label: rule_label.into(), url: format!("{base}#{}", rule.id), kind: "absolute".into() }];
    if with_suggestions {
        links.push(Link {
            label: preferences_label.into(),
            url: format!("{base}#patient-preferences"),
            kind: "absolute".into(),
        });
    }
    if let Some(url) = ctx.matrix_url.as_ref().filter(|_| on_matrix) {
        links.push(Link {
            label: m.get("link.matrix", ctx.language).into(),
            url: url.clone(),
            kind: "absolute".into(),
        });
    }
    links
}

pub(super) fn suggestion(
    ctx: &CardContext<'_>,
    order: &ReviewedOrder,
    ordered: DrugId,
    alternative: DrugId,
) -> Suggestion {
    let k = ctx.knowledge;
    let from = k.drug(ordered);
    let to = k.drug(alternative);
    let codings: Vec<_> = to
        .codes
        .iter()
        .filter(|c| !c.unverified)
        .map(|c| json!({"system": c.system_uri, "code": c.code, "display": c.display}))
        .collect();
    let mut concept = json!({ "text": drug_name(to) });
    if !codings.is_empty() {
        concept["coding"] = json!(codings);
    }
    let resource = json!({
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "order",
        "subject": { "reference": format!("Patient/{}", ctx.patient_id) },
        "medicationCodeableConcept": concept,
    });
    let m = &k.messages;
    let (to_name, from_name) = (drug_name(to), drug_name(from));
    let label = capitalize(&m.fill("suggestion.label", ctx.language, &[("to", &to_name), ("from", &from.key)]));
    let delete = m.fill("suggestion.delete", ctx.language, &[("from", &from_name)]);
    let create = m.fill("suggestion.create", ctx.language, &[("to", &to_name)]);
    Suggestion {
        label,
        uuid: uuid::Uuid::new_v4().to_string(),
        is_recommended: None,
        actions: {
            // A draft without an id cannot be named in `resourceId`: then the prescriber
            // removes it, and the suggestion only creates the alternative.
            let mut actions = Vec::with_capacity(2);
            if order.deletable {
                actions.push(Action {
                    kind: ActionType::Delete,
                    description: delete,
                    resource: None,
                    resource_id: Some(order.reference.clone()),
                });
            }
            actions.push(Action {
                kind: ActionType::Create,
                description: create,
                resource: Some(resource),
                resource_id: None,
            });
            actions
        },
    }
}
