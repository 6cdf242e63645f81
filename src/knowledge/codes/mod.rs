//! Terminology lookups: which value sets (and which of the seven drugs) a coding or a text
//! belongs to. Everything is hashed once at start-up; a lookup never scans a list.

use super::text_match::{TextFinding, TextRecognizer};
use crate::knowledge::spec::OutrankText;
use crate::vocabulary::DrugId;

/// Every coding and word of a request is looked up here: a fast hash (foldhash, randomly
/// seeded) rather than SipHash. The tables are filled from the knowledge only, never from
/// requests, so there is nothing for a caller to flood.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

mod mask;
mod normalize;
#[cfg(test)]
mod tests;
mod text;

pub use mask::*;
pub use normalize::normalize_text;
use normalize::{icd_shaped, normalize};

#[derive(Debug, Default)]
struct PrefixEntry {
    include: ValueSetMask,
    exclude: ValueSetMask,
}

/// How a system's codes are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CodeForm {
    /// As written (trimmed).
    #[default]
    Plain,
    /// ICD-10 style: without dots, upper case ("C50.9" = "C509").
    Icd,
    /// SNOMED CT identifiers: kept as integers (expansions hold thousands of them).
    Sctid,
}

/// How far the value sets cover a system: whether a code of it that no value set lists is
/// known to be outside every concept, or merely not known.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Coverage {
    /// A code no value set lists says nothing (the system is not classified completely).
    #[default]
    Partial,
    /// Every concept lists all its codes of this system (ICD-10 by ranges).
    Complete,
    /// SNOMED CT: complete for the international core and these extension namespaces (the
    /// editions the shipped expansions were made from); other extensions' codes are unknown.
    SnomedNamespaces(Vec<String>),
}

#[derive(Debug, Default)]
struct SystemIndex {
    form: CodeForm,
    coverage: Coverage,
    exact: HashMap<Box<str>, Classification>,
    /// SNOMED CT members (`CodeForm::Sctid`): id → index into `CodeIndex::masks`, sorted by
    /// id once loading is done.
    sctids: Vec<(u64, u32)>,
    prefixes: HashMap<Box<str>, PrefixEntry>,
    longest_prefix: usize,
    /// Prefixes of codes too broad to place (normalised).
    too_broad: Vec<Box<str>>,
}

/// Whether the knowledge can say what a coding means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// The code is in some value set, or in a system the value sets cover by complete ranges
    /// (ICD-10): its meaning, possibly "none of the concepts", is settled.
    Known,
    /// A SNOMED CT code of an edition the shipped expansions cover, in none of them: most
    /// likely none of the concepts, but published expansions are never complete, so the words
    /// of a condition may still name a critical concept.
    Expanded,
    /// The system is unknown, or covered only partly and the code is in no value set: it may
    /// mean anything (a terminology server or the text must tell).
    Unknown,
}

/// The compiled terminology of the knowledge base.
#[derive(Debug, Default)]
pub struct CodeIndex {
    by_uri: HashMap<Box<str>, SystemId>,
    systems: Vec<SystemIndex>,
    text: HashMap<Box<str>, Classification>,
    longest_phrase: usize,
    /// Value sets whose words are answers, read only as a whole answer ("C" is a Child-Pugh
    /// class as a valueString, not a letter in a vaccine's name).
    whole_answer_sets: ValueSetMask,
    /// Value sets of ingredient codes that do not tell the form (see `code_outranks_text`).
    any_form_sets: ValueSetMask,
    /// Drug recognition order of systems (ATC, RxNorm, SNOMED CT): lower is tried first.
    drug_priority: Vec<u8>,
    /// Per system: when its codes make a medication's text irrelevant to its value sets.
    codes_outrank_text: Vec<OutrankText>,
    /// The value sets that list each of the seven drugs (by `DrugId`).
    drug_value_sets: Vec<ValueSetMask>,
    /// Distinct value-set masks of SNOMED CT members (most members share a few).
    masks: Vec<ValueSetMask>,
    /// While loading: SNOMED CT member → its mask.
    pending_sctids: Vec<HashMap<u64, ValueSetMask>>,
    /// SNOMED CT codes deliberately left out of value sets (a recipe's documented exclusions,
    /// an ECL `MINUS`): the words of a condition coded so may not add those sets back.
    excluded: HashMap<u64, ValueSetMask>,
    /// Per value set, the value sets that include it (`include = [...]`), transitively.
    implied_by: Vec<ValueSetMask>,
    /// Critical concepts recognised by the words of a condition whose codes say nothing.
    recognizer: TextRecognizer,
}

impl CodeIndex {
    pub(crate) fn add_system(&mut self, uris: &[String], form: CodeForm, coverage: Coverage) -> SystemId {
        let id = SystemId(self.systems.len() as u16);
        for uri in uris {
            self.by_uri.insert(uri.as_str().into(), id);
        }
        self.systems.push(SystemIndex { form, coverage, ..Default::default() });
        self.pending_sctids.push(HashMap::default());
        self.drug_priority.push(u8::MAX);
        self.codes_outrank_text.push(OutrankText::Never);
        id
    }

    /// How the codes of a system URI are compared (`None`: a system the knowledge does not know).
    pub fn form_of(&self, uri: &str) -> Option<CodeForm> {
        self.system(uri).map(|s| self.form(s))
    }

    pub(crate) fn form(&self, system: SystemId) -> CodeForm {
        self.systems[system.0 as usize].form
    }

    /// `value_set` includes the members of `member` (`include = [...]`).
    pub(crate) fn add_inclusion(&mut self, value_set: ValueSetId, member: ValueSetId) {
        let i = member.0 as usize;
        if self.implied_by.len() <= i {
            self.implied_by.resize(i + 1, ValueSetMask::default());
        }
        self.implied_by[i].insert(value_set);
    }

    pub(crate) fn recognizer_mut(&mut self) -> &mut TextRecognizer {
        &mut self.recognizer
    }

    /// Loading is done: SNOMED CT members into sorted integer tables, inclusions closed.
    pub(crate) fn finish(&mut self) {
        for (index, pending) in self.systems.iter_mut().zip(self.pending_sctids.drain(..)) {
            let mut distinct: HashMap<ValueSetMask, u32> = HashMap::default();
            for (i, m) in self.masks.iter().enumerate() {
                distinct.insert(*m, i as u32);
            }
            let mut list: Vec<(u64, u32)> = pending
                .into_iter()
                .map(|(id, mask)| {
                    let next = self.masks.len() as u32;
                    let slot = *distinct.entry(mask).or_insert_with(|| {
                        self.masks.push(mask);
                        next
                    });
                    (id, slot)
                })
                .collect();
            list.sort_unstable_by_key(|(id, _)| *id);
            index.sctids = list;
        }
        // Transitive closure: a set included in a set included in a third is in the third.
        let n = self.implied_by.len();
        loop {
            let mut changed = false;
            for i in 0..n {
                let mut closed = self.implied_by[i];
                for j in 0..n {
                    if self.implied_by[i].contains(ValueSetId(j as u16)) {
                        closed.union(&self.implied_by[j]);
                    }
                }
                if closed != self.implied_by[i] {
                    self.implied_by[i] = closed;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// A SNOMED CT code deliberately left out of `value_set`.
    pub(crate) fn add_exclusion(&mut self, code: &str, value_set: ValueSetId) {
        if let Ok(id) = code.trim().parse::<u64>() {
            self.excluded.entry(id).or_default().insert(value_set);
        }
    }

    /// The value sets a coding was deliberately left out of (empty for other systems).
    pub fn excluded(&self, system_uri: &str, code: &str) -> ValueSetMask {
        let Some(system) = self.system(system_uri) else { return ValueSetMask::default() };
        if self.systems[system.0 as usize].form != CodeForm::Sctid {
            return ValueSetMask::default();
        }
        code.trim().parse::<u64>().ok().and_then(|id| self.excluded.get(&id).copied()).unwrap_or_default()
    }

    /// Add the value sets that include those found.
    fn close(&self, found: &mut ValueSetMask) {
        let mut extra = ValueSetMask::default();
        for (i, implied) in self.implied_by.iter().enumerate() {
            if found.contains(ValueSetId(i as u16)) {
                extra.union(implied);
            }
        }
        found.union(&extra);
    }

    /// How many SNOMED CT members the knowledge holds in all (for the start-up log).
    pub fn sctid_count(&self) -> usize {
        self.systems.iter().map(|s| s.sctids.len()).sum()
    }

    pub(crate) fn add_too_broad(&mut self, system: SystemId, prefix: &str) {
        let index = &mut self.systems[system.0 as usize];
        let key = normalize(prefix, index.form);
        index.too_broad.push(key.into());
    }

    pub(crate) fn set_codes_outrank_text(&mut self, system: SystemId, mode: OutrankText) {
        self.codes_outrank_text[system.0 as usize] = mode;
    }

    /// Whether this coding settles what a medication is, so its text is not read for classes.
    pub fn code_outranks_text(&self, system_uri: &str, code: &str) -> bool {
        let Some(system) = self.system(system_uri) else { return false };
        match self.codes_outrank_text[system.0 as usize] {
            OutrankText::Never => false,
            OutrankText::Always => true,
            OutrankText::WhenKnown => {
                let index = &self.systems[system.0 as usize];
                // A code known only as "an ingredient of any form" leaves the form to the text.
                let telling = |c: &Classification| {
                    let mut sets = c.value_sets;
                    sets.minus(&self.any_form_sets);
                    !sets.is_empty() || c.drug.is_some()
                };
                index.exact.get(normalize(code, index.form).as_str()).is_some_and(telling)
                    || index.sctid(code).is_some()
            }
        }
    }

    pub(crate) fn add_drug_to_value_set(&mut self, drug: DrugId, value_set: ValueSetId) {
        let i = drug.0 as usize;
        if self.drug_value_sets.len() <= i {
            self.drug_value_sets.resize(i + 1, ValueSetMask::default());
        }
        self.drug_value_sets[i].insert(value_set);
    }

    /// The value sets that list this drug (the immunosuppressants a JAK inhibitor must not be
    /// combined with, the earlier advanced therapies, …).
    pub fn value_sets_of_drug(&self, drug: DrugId) -> ValueSetMask {
        self.drug_value_sets.get(drug.0 as usize).copied().unwrap_or_default()
    }

    pub(crate) fn set_drug_priority(&mut self, system: SystemId, priority: u8) {
        self.drug_priority[system.0 as usize] = priority;
    }

    pub fn system(&self, uri: &str) -> Option<SystemId> {
        self.by_uri.get(uri).copied()
    }

    pub(crate) fn add_code(
        &mut self,
        system: SystemId,
        code: &str,
        value_set: Option<ValueSetId>,
        drug: Option<DrugId>,
    ) {
        let index = &mut self.systems[system.0 as usize];
        // SNOMED CT value-set members go to the integer table; drug codes stay by text.
        if let (CodeForm::Sctid, Some(vs), None) = (index.form, value_set, drug)
            && let Ok(id) = code.trim().parse::<u64>()
        {
            self.pending_sctids[system.0 as usize].entry(id).or_default().insert(vs);
            return;
        }
        let key = normalize(code, index.form);
        let entry = index.exact.entry(key.into()).or_default();
        if let Some(vs) = value_set {
            entry.value_sets.insert(vs);
        }
        if drug.is_some() {
            entry.drug = drug;
        }
    }

    pub(crate) fn add_prefix(&mut self, system: SystemId, prefix: &str, value_set: ValueSetId, exclude: bool) {
        let index = &mut self.systems[system.0 as usize];
        let key = normalize(prefix, index.form);
        index.longest_prefix = index.longest_prefix.max(key.len());
        let entry = index.prefixes.entry(key.into()).or_default();
        if exclude {
            entry.exclude.insert(value_set);
        } else {
            entry.include.insert(value_set);
        }
    }

    pub(crate) fn add_text(&mut self, phrase: &str, value_set: Option<ValueSetId>, drug: Option<DrugId>) {
        let key = normalize_text(phrase);
        self.longest_phrase = self.longest_phrase.max(key.split(' ').count());
        let entry = self.text.entry(key.into()).or_default();
        if let Some(vs) = value_set {
            entry.value_sets.insert(vs);
        }
        if drug.is_some() {
            entry.drug = drug;
        }
    }

    /// The meaning of one coding; unknown systems and codes mean nothing (see `placement` for
    /// whether that "nothing" is known or merely not known).
    pub fn classify(&self, system_uri: &str, code: &str) -> Classification {
        let Some(system) = self.system(system_uri) else {
            return Classification::default();
        };
        let mut found = self.classify_in(system, code);
        self.close(&mut found.value_sets);
        found
    }

    /// Whether the knowledge can tell what this coding means (including "nothing it knows").
    pub fn placement(&self, system_uri: &str, code: &str) -> Placement {
        let Some(system) = self.system(system_uri) else { return Placement::Unknown };
        let index = &self.systems[system.0 as usize];
        let found = self.classify_in(system, code);
        if !found.value_sets.is_empty() || found.drug.is_some() {
            return Placement::Known;
        }
        let key = normalize(code, index.form);
        if index.too_broad.iter().any(|p| key.starts_with(&**p)) {
            return Placement::Unknown;
        }
        match &index.coverage {
            Coverage::Partial => Placement::Unknown,
            // A code not even shaped like one of the system's ("1234" as ICPC) is no known
            // "nothing": it is a typing or mapping error the service cannot place.
            Coverage::Complete if index.form == CodeForm::Icd && !icd_shaped(&key) => Placement::Unknown,
            Coverage::Complete => Placement::Known,
            Coverage::SnomedNamespaces(covered) => {
                let code = code.trim();
                if super::ecl::check_sctid(code).is_err() {
                    // Not a concept id at all: nothing can be said of it.
                    return Placement::Unknown;
                }
                match super::ecl::sctid_namespace(code) {
                    None => Placement::Expanded,
                    Some(ns) if covered.iter().any(|c| c == ns) => Placement::Expanded,
                    Some(_) => Placement::Unknown,
                }
            }
        }
    }

    /// Classify the value sets implied by a set found elsewhere (a terminology server's answer).
    pub fn closed(&self, mut found: ValueSetMask) -> ValueSetMask {
        self.close(&mut found);
        found
    }

    /// The critical concepts the words of a condition name, guards applied.
    pub fn recognise_text(&self, text: &str) -> TextFinding {
        let mut found = self.recognizer.recognise(text);
        self.close(&mut found.value_sets);
        found
    }

    fn classify_in(&self, system: SystemId, code: &str) -> Classification {
        let index = &self.systems[system.0 as usize];
        let key = normalize(code, index.form);
        let mut found = index.exact.get(key.as_str()).copied().unwrap_or_default();
        if let Some(slot) = index.sctid(&key) {
            found.value_sets.union(&self.masks[slot as usize]);
        }
        if !index.prefixes.is_empty() {
            let mut include = ValueSetMask::default();
            let mut exclude = ValueSetMask::default();
            for end in 1..=key.len().min(index.longest_prefix) {
                if !key.is_char_boundary(end) {
                    continue;
                }
                if let Some(entry) = index.prefixes.get(&key[..end]) {
                    include.union(&entry.include);
                    exclude.union(&entry.exclude);
                }
            }
            include.minus(&exclude);
            found.value_sets.union(&include);
        }
        found
    }
}

impl SystemIndex {
    /// The mask slot of a SNOMED CT member.
    fn sctid(&self, code: &str) -> Option<u32> {
        if self.form != CodeForm::Sctid || self.sctids.is_empty() {
            return None;
        }
        let id: u64 = code.trim().parse().ok()?;
        self.sctids.binary_search_by_key(&id, |(k, _)| *k).ok().map(|i| self.sctids[i].1)
    }
}
