//! Ids and sets of ids: what a code or a text is classified as.

use crate::vocabulary::DrugId;

/// Index of a code system in `systems.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SystemId(pub u16);

/// Index of a value set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueSetId(pub u16);

/// Upper bound on value sets; the loader refuses more.
pub const MAX_VALUE_SETS: usize = 512;

/// A set of value sets, as a bit mask: membership tests cost one AND.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ValueSetMask([u64; MAX_VALUE_SETS / 64]);

impl ValueSetMask {
    pub fn insert(&mut self, id: ValueSetId) {
        self.0[id.0 as usize / 64] |= 1 << (id.0 % 64);
    }

    pub fn contains(&self, id: ValueSetId) -> bool {
        self.0[id.0 as usize / 64] & (1 << (id.0 % 64)) != 0
    }

    pub fn union(&mut self, other: &ValueSetMask) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a |= b;
        }
    }

    pub fn minus(&mut self, other: &ValueSetMask) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a &= !b;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }
}

/// What a coding or a text is known to mean.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Classification {
    pub value_sets: ValueSetMask,
    pub drug: Option<DrugId>,
}

impl Classification {
    pub fn merge(&mut self, other: &Classification) {
        self.value_sets.union(&other.value_sets);
        if self.drug.is_none() {
            self.drug = other.drug;
        }
    }
}
