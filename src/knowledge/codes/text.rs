//! Words: drug and medicine names, answer texts, and where a code system leaves the name to be read.

use super::*;

impl CodeIndex {
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

    pub(crate) fn mark_any_form(&mut self, value_set: ValueSetId) {
        self.any_form_sets.insert(value_set);
    }

    pub(crate) fn mark_whole_answer_only(&mut self, value_set: ValueSetId) {
        self.whole_answer_sets.insert(value_set);
    }

    /// The meaning of a free text: every known word or phrase in it (medications, vaccines).
    pub fn classify_text(&self, text: &str) -> Classification {
        let mut found = self.classify_phrases(text);
        found.value_sets.minus(&self.whole_answer_sets);
        found
    }

    fn classify_phrases(&self, text: &str) -> Classification {
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
