//! The rule engine: patient facts + an order under review → findings. It selects the rules that
//! review the order and evaluates their reasons with the rule-language interpreter; it knows
//! nothing of HTTP, FHIR JSON or card text. Suggestions are `alternatives`.

mod alternatives;
mod finding;

pub use crate::language::eval::{Evidence, EvidenceDetail};
pub use alternatives::as_if_ordered;
pub use finding::*;

use crate::facts::{OrderSubject, PatientFacts, ReviewedOrder};
use crate::knowledge::{Knowledge, Reason, Rule, RuleTarget};
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
        // The order and each alternative are reviewed on the same facts: what a reason finds
        // without reading the order is found once.
        let mut found = PatientFindings::default();
        let findings = self.findings_with(facts, order, &mut found);
        let alternatives = self.alternatives(facts, order, &mut found);
        OrderReview { findings, alternatives }
    }

    /// Every rule that fires for the order, in catalogue order.
    pub fn findings(&self, facts: &PatientFacts, order: &ReviewedOrder) -> Vec<Finding<'k>> {
        self.findings_with(facts, order, &mut PatientFindings::default())
    }

    /// `findings`, taking what reasons that do not read the order found from `found` (filled
    /// for these `facts` only).
    fn findings_with(
        &self,
        facts: &PatientFacts,
        order: &ReviewedOrder,
        found: &mut PatientFindings,
    ) -> Vec<Finding<'k>> {
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
                let evidence = if reason.reads_order {
                    ctx.eval(&reason.when)
                } else {
                    found.get_or_eval(reason, || ctx.eval(&reason.when))
                };
                if let Some(evidence) = evidence {
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

/// What each reason that does not read the order found for one patient's facts (`None`: it
/// does not hold), by `Reason::index`. Lives for one review.
#[derive(Default)]
struct PatientFindings(Vec<Option<Option<Vec<Evidence>>>>);

impl PatientFindings {
    fn get_or_eval(&mut self, reason: &Reason, eval: impl FnOnce() -> Option<Vec<Evidence>>) -> Option<Vec<Evidence>> {
        if self.0.len() <= reason.index {
            self.0.resize(reason.index + 1, None);
        }
        self.0[reason.index].get_or_insert_with(eval).clone()
    }
}

fn targets(rule: &Rule, order: &ReviewedOrder) -> bool {
    match (rule.target, &order.subject) {
        (RuleTarget::Drugs(set), OrderSubject::Drug { drug, .. }) => set.contains(*drug),
        (RuleTarget::OrderedItem(vs), OrderSubject::Item(concept)) => concept.class.value_sets.contains(vs),
        _ => false,
    }
}
