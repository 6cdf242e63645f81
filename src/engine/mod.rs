//! The rule engine: patient facts + an order under review → findings. It selects the rules that
//! review the order and evaluates their reasons with the rule-language interpreter; it knows
//! nothing of HTTP, FHIR JSON or card text. Suggestions are `alternatives`.

mod alternatives;
mod finding;

pub use crate::language::eval::{Evidence, EvidenceDetail};
pub use alternatives::as_if_ordered;
pub use finding::*;

use crate::facts::{OrderSubject, PatientFacts, ReviewedOrder};
use crate::knowledge::{Knowledge, Rule, RuleTarget};
use crate::language::eval::Evaluation;
use crate::vocabulary::Jurisdiction;

pub struct Engine<'k> {
    knowledge: &'k Knowledge,
    jurisdiction: Jurisdiction,
}

impl<'k> Engine<'k> {
    pub fn new(knowledge: &'k Knowledge, jurisdiction: Jurisdiction) -> Self {
        Engine { knowledge, jurisdiction }
    }

    /// Does any rule review this order? (Otherwise it costs nothing: no fetch, no card.)
    pub fn in_scope(&self, order: &ReviewedOrder) -> bool {
        self.knowledge.rules.iter().any(|r| r.runs_in(self.jurisdiction) && targets(r, order))
    }

    pub fn review(&self, facts: &PatientFacts, order: &ReviewedOrder) -> OrderReview<'k> {
        let findings = self.findings(facts, order);
        let alternatives = self.alternatives(facts, order);
        OrderReview { findings, alternatives }
    }

    /// Every rule that fires for the order, in catalogue order.
    pub fn findings(&self, facts: &PatientFacts, order: &ReviewedOrder) -> Vec<Finding<'k>> {
        let ctx = Evaluation { knowledge: self.knowledge, facts, order };
        let mut findings = Vec::new();
        for rule in &self.knowledge.rules {
            if !rule.runs_in(self.jurisdiction) || !targets(rule, order) || (rule.start_only && !order.new_start) {
                continue;
            }
            // A gated rule (AD or IBD context) runs only when its gate holds.
            if rule.only_if.as_ref().is_some_and(|gate| ctx.eval(gate).is_none()) {
                continue;
            }
            let mut reasons = Vec::new();
            for reason in &rule.reasons {
                let for_drug =
                    reason.applies_to.is_empty() || order.drug().is_some_and(|d| reason.applies_to.contains(d));
                if !for_drug || (reason.start_only && !order.new_start) || !reason.runs_in(self.jurisdiction) {
                    continue;
                }
                if let Some(evidence) = ctx.eval(&reason.when) {
                    reasons.push(FoundReason { reason, evidence });
                }
            }
            // Annotations qualify a finding; they never make one.
            let strongest = reasons.iter().filter(|r| !r.reason.annotation).map(|r| r.reason.recommendation).max();
            if let Some(strongest) = strongest {
                findings.push(Finding { rule, recommendation: strongest, reasons });
            }
        }
        findings
    }
}

fn targets(rule: &Rule, order: &ReviewedOrder) -> bool {
    match (rule.target, &order.subject) {
        (RuleTarget::Drugs(set), OrderSubject::Drug { drug, .. }) => set.contains(*drug),
        (RuleTarget::OrderedItem(vs), OrderSubject::Item(concept)) => concept.class.value_sets.contains(vs),
        _ => false,
    }
}
