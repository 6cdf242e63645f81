//! What the engine concludes for an order: findings (rules that fire, with the reasons and the
//! evidence), and how the alternatives stand.

use crate::knowledge::{Reason, Rule};
use crate::language::eval::Evidence;
use crate::vocabulary::{DrugId, Recommendation};

/// A reason of a rule that holds for this patient and order.
#[derive(Debug, Clone)]
pub struct FoundReason<'k> {
    pub reason: &'k Reason,
    pub evidence: Vec<Evidence>,
}

/// A rule that fires for an order: becomes one card.
#[derive(Debug, Clone)]
pub struct Finding<'k> {
    pub rule: &'k Rule,
    pub recommendation: Recommendation,
    pub reasons: Vec<FoundReason<'k>>,
}

/// The review of one order: its findings, and — for a drug of an alternative set (a decision
/// matrix) ordered for its indication — how each other drug of the set stands as an alternative for this patient.
#[derive(Debug, Clone)]
pub struct OrderReview<'k> {
    pub findings: Vec<Finding<'k>>,
    pub alternatives: Option<Vec<Candidate<'k>>>,
}

/// A drug of the alternative set considered in place of the ordered one.
#[derive(Debug, Clone)]
pub struct Candidate<'k> {
    pub drug: DrugId,
    pub standing: Standing<'k>,
    /// Its findings as if it had been ordered instead (none when already prescribed: it was not
    /// reviewed). The decision matrix shows them without reviewing the drug again.
    pub findings: Vec<Finding<'k>>,
}

/// Whether a candidate may be suggested, and if not, why (the card says so).
#[derive(Debug, Clone)]
pub enum Standing<'k> {
    /// No ↓/↓↓ finding, and every check behind one could be done.
    Suitable,
    /// It has a ↓/↓↓ finding of its own for this patient.
    AdvisedAgainst(Vec<&'k Rule>),
    /// Data one of its ↓/↓↓ checks needs is missing: suggesting it would be a guess.
    Unchecked(Vec<&'k Reason>),
    /// The patient is already on it, or it is ordered in this session.
    AlreadyPrescribed,
}

impl Candidate<'_> {
    pub fn suitable(&self) -> bool {
        matches!(self.standing, Standing::Suitable)
    }
}
