//! Terminology lookups: which value sets (and which of the seven drugs) a coding or a text
//! belongs to. Everything is hashed once at start-up; a lookup never scans a list.

use crate::knowledge::spec::OutrankText;
use crate::vocabulary::DrugId;

/// Every coding and word of a request is looked up here: a fast hash (foldhash, randomly
/// seeded) rather than SipHash. The tables are filled from the knowledge only, never from
/// requests, so there is nothing for a caller to flood.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Index of a code system in `systems.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SystemId(pub u16);

/// Index of a value set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueSetId(pub u16);

/// Upper bound on value sets; the loader refuses more.
pub const MAX_VALUE_SETS: usize = 512;

/// A set of value sets, as a bit mask: membership tests cost one AND.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

#[derive(Debug, Default)]
struct PrefixEntry {
    include: ValueSetMask,
    exclude: ValueSetMask,
}

#[derive(Debug, Default)]
struct SystemIndex {
    /// ICD-10 style: compare without dots, upper case.
    icd_normalized: bool,
    exact: HashMap<Box<str>, Classification>,
    prefixes: HashMap<Box<str>, PrefixEntry>,
    longest_prefix: usize,
}

/// The compiled terminology of the knowledge base.
#[derive(Debug, Default)]
pub struct CodeIndex {
    by_uri: HashMap<Box<str>, SystemId>,
    systems: Vec<SystemIndex>,
    text: HashMap<Box<str>, Classification>,
    longest_phrase: usize,
    /// Drug recognition order of systems (ATC, RxNorm, SNOMED CT): lower is tried first.
    drug_priority: Vec<u8>,
    /// Per system: when its codes make a medication's text irrelevant to its value sets.
    codes_outrank_text: Vec<OutrankText>,
    /// The value sets that list each of the seven drugs (by `DrugId`).
    drug_value_sets: Vec<ValueSetMask>,
}

impl CodeIndex {
    pub(crate) fn add_system(&mut self, uris: &[String], icd_normalized: bool) -> SystemId {
        let id = SystemId(self.systems.len() as u16);
        for uri in uris {
            self.by_uri.insert(uri.as_str().into(), id);
        }
        self.systems.push(SystemIndex { icd_normalized, ..Default::default() });
        self.drug_priority.push(u8::MAX);
        self.codes_outrank_text.push(OutrankText::Never);
        id
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
                index.exact.contains_key(normalize(code, index.icd_normalized).as_str())
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
        let key = normalize(code, index.icd_normalized);
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
        let key = normalize(prefix, index.icd_normalized);
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

    /// The meaning of one coding; unknown systems and codes mean nothing.
    pub fn classify(&self, system_uri: &str, code: &str) -> Classification {
        let Some(system) = self.system(system_uri) else {
            return Classification::default();
        };
        let index = &self.systems[system.0 as usize];
        let key = normalize(code, index.icd_normalized);
        let mut found = index.exact.get(key.as_str()).copied().unwrap_or_default();
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

    /// Drug recognition priority of a coding's system (lower first); `None` if it names no drug.
    pub fn drug_priority(&self, system_uri: &str) -> Option<u8> {
        let system = self.system(system_uri)?;
        let p = self.drug_priority[system.0 as usize];
        (p != u8::MAX).then_some(p)
    }

    /// The meaning of a short text taken whole ("C" as the answer of a Child-Pugh class): only a
    /// phrase that is the entire text counts, so "not pregnant" never reads as "pregnant".
    pub fn classify_whole_text(&self, text: &str) -> Classification {
        self.text.get(normalize_text(text).as_str()).copied().unwrap_or_default()
    }

    /// The meaning of a free text: every known word or phrase in it (medications, vaccines).
    pub fn classify_text(&self, text: &str) -> Classification {
        let mut found = Classification::default();
        if self.text.is_empty() {
            return found;
        }
        let normalized = normalize_text(text);
        let words: Vec<&str> = normalized.split(' ').filter(|w| !w.is_empty()).collect();
        let mut phrase = String::new();
        for start in 0..words.len() {
            phrase.clear();
            for (n, word) in words[start..].iter().take(self.longest_phrase).enumerate() {
                if n > 0 {
                    phrase.push(' ');
                }
                phrase.push_str(word);
                if let Some(hit) = self.text.get(phrase.as_str()) {
                    found.merge(hit);
                }
            }
        }
        found
    }
}

fn normalize(code: &str, icd: bool) -> String {
    let code = code.trim();
    if icd { code.chars().filter(|c| *c != '.').flat_map(char::to_uppercase).collect() } else { code.to_string() }
}

/// Lower case, letters and digits only, single spaces: "M-M-RvaxPro®" → "m m rvaxpro".
pub fn normalize_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    for c in text.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> (CodeIndex, ValueSetId, ValueSetId) {
        let mut idx = CodeIndex::default();
        let icd = idx.add_system(&["http://hl7.org/fhir/sid/icd-10".into()], true);
        let malignancy = ValueSetId(0);
        let live = ValueSetId(1);
        idx.add_prefix(icd, "C", malignancy, false);
        idx.add_prefix(icd, "C44", malignancy, true);
        idx.add_text("yellow fever", Some(live), None);
        idx.add_text("Stamaril", Some(live), None);
        (idx, malignancy, live)
    }

    #[test]
    fn icd_prefix_ranges_honour_exclusions_and_dots() {
        let (idx, malignancy, _) = index();
        let uri = "http://hl7.org/fhir/sid/icd-10";
        assert!(idx.classify(uri, "C50.9").value_sets.contains(malignancy));
        assert!(idx.classify(uri, "c509").value_sets.contains(malignancy));
        assert!(!idx.classify(uri, "C44.1").value_sets.contains(malignancy));
        assert!(!idx.classify(uri, "D03.9").value_sets.contains(malignancy));
        assert!(!idx.classify("http://example.org/other", "C50").value_sets.contains(malignancy));
    }

    #[test]
    fn text_matches_whole_words_and_phrases_only() {
        let (idx, _, live) = index();
        assert!(idx.classify_text("Vaccin tegen Yellow-Fever (Stamaril®)").value_sets.contains(live));
        assert!(idx.classify_text("STAMARIL inj").value_sets.contains(live));
        assert!(!idx.classify_text("yellowish fever chart").value_sets.contains(live));
    }
}
