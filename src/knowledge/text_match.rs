//! Recognising a critical concept by the words of a condition whose codes say nothing: the last
//! resort of "recognition by meaning". Phrases come from the value sets (`[value_sets.x.by_text]`)
//! and the guards from `text-recognition.toml`; this module only applies them.
//!
//! A phrase counts when no guard voids it:
//! - *negation* and *suspicion* cues before it in the same clause ("geen", "verdenking",
//!   "suspected") or after it ("uitgesloten", "ruled out") void it;
//! - *family history* and *screening* cues anywhere in the text void every phrase of it;
//! - a *history* cue before it ("status na", "history of") keeps the match but marks it as
//!   history, not an active condition.
//!
//! A phrase may start with `*` to match the end of a word: Dutch writes compounds
//! ("mammacarcinoom", "longkanker"). A `not` phrase of the value set overlapping a match voids
//! it ("basaalcelcarcinoom" is no malignancy of that set).

use std::collections::HashMap;

use super::codes::{ValueSetId, ValueSetMask};

/// What a guard word does to a phrase near it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CueKind {
    Negation,
    Suspicion,
    Screening,
    Family,
    History,
}

/// Where a cue must stand to act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CuePlace {
    /// Before the phrase, in the same clause.
    Before,
    /// After the phrase, in the same clause.
    After,
    /// Anywhere in the text.
    Anywhere,
}

#[derive(Debug, Clone)]
struct Cue {
    kind: CueKind,
    place: CuePlace,
    words: Vec<String>,
}

#[derive(Debug, Clone)]
struct Phrase {
    value_set: ValueSetId,
    /// A `not` phrase: a match overlapping it is void.
    excludes: bool,
}

/// The compiled phrases and guards.
#[derive(Debug, Default)]
pub struct TextRecognizer {
    phrases: HashMap<Vec<String>, Vec<Phrase>>,
    /// `*suffix` patterns, matched against single words.
    suffixes: Vec<(String, Phrase)>,
    longest: usize,
    cues: Vec<Cue>,
}

/// What a text was recognised as.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextFinding {
    pub value_sets: ValueSetMask,
    /// A history cue stood before every match: the condition is past, not active.
    pub history: bool,
    /// The words that matched, for the card ("recognised from the text …").
    pub phrase: String,
}

impl TextFinding {
    pub fn is_empty(&self) -> bool {
        self.value_sets.is_empty()
    }
}

fn words(text: &str) -> Vec<String> {
    super::codes::normalize_text(text).split(' ').filter(|w| !w.is_empty()).map(str::to_string).collect()
}

impl TextRecognizer {
    pub fn add_phrase(&mut self, phrase: &str, value_set: ValueSetId, excludes: bool) {
        let entry = Phrase { value_set, excludes };
        if let Some(suffix) = phrase.trim().strip_prefix('*') {
            self.suffixes.push((super::codes::normalize_text(suffix), entry));
            return;
        }
        let key = words(phrase);
        if key.is_empty() {
            return;
        }
        self.longest = self.longest.max(key.len());
        self.phrases.entry(key).or_default().push(entry);
    }

    pub fn add_cue(&mut self, kind: CueKind, place: CuePlace, words_of_cue: &[String]) {
        self.cues.push(Cue { kind, place, words: words_of_cue.iter().map(|w| words(w).join(" ")).collect() });
    }

    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty() && self.suffixes.is_empty()
    }

    /// The concepts a free text names, guards applied.
    pub fn recognise(&self, text: &str) -> TextFinding {
        let mut found = TextFinding::default();
        if self.is_empty() || text.trim().is_empty() {
            return found;
        }
        let all = words(text).join(" ");
        let anywhere = |kind: CueKind| {
            self.cues
                .iter()
                .filter(|c| c.kind == kind && c.place == CuePlace::Anywhere)
                .any(|c| c.words.iter().any(|w| contains_words(&all, w)))
        };
        if anywhere(CueKind::Family) || anywhere(CueKind::Screening) {
            return found;
        }
        let mut all_history = true;
        let mut matched = Vec::new();
        // Clauses: a cue acts within its clause only ("carcinoom, geen metastasen").
        for clause in text.split(['.', ';', ',', '\n']) {
            let tokens = words(clause);
            for (start, end, vs) in self.matches(&tokens) {
                let before = tokens[..start].join(" ");
                let after = tokens[end..].join(" ");
                let cue_at = |kind: CueKind| {
                    self.cues.iter().filter(|c| c.kind == kind).any(|c| {
                        c.words.iter().any(|w| match c.place {
                            CuePlace::Before => contains_words(&before, w),
                            CuePlace::After => contains_words(&after, w),
                            CuePlace::Anywhere => false,
                        })
                    })
                };
                if cue_at(CueKind::Negation) || cue_at(CueKind::Suspicion) {
                    continue;
                }
                all_history &= cue_at(CueKind::History);
                found.value_sets.insert(vs);
                matched.push(tokens[start..end].join(" "));
            }
        }
        if !found.is_empty() {
            found.history = all_history;
            matched.dedup();
            found.phrase = matched.join(", ");
        }
        found
    }

    /// (start, end, value set) of every phrase in `tokens` that no `not` phrase overlaps.
    fn matches(&self, tokens: &[String]) -> Vec<(usize, usize, ValueSetId)> {
        let mut hits: Vec<(usize, usize, &Phrase)> = Vec::new();
        for start in 0..tokens.len() {
            for len in 1..=self.longest.min(tokens.len() - start) {
                if let Some(list) = self.phrases.get(&tokens[start..start + len]) {
                    hits.extend(list.iter().map(|p| (start, start + len, p)));
                }
            }
            for (suffix, p) in &self.suffixes {
                if tokens[start].ends_with(suffix.as_str()) {
                    hits.push((start, start + 1, p));
                }
            }
        }
        hits.iter()
            .filter(|(_, _, p)| !p.excludes)
            .filter(|(s, e, p)| {
                !hits.iter().any(|(xs, xe, x)| x.excludes && x.value_set == p.value_set && xs < e && s < xe)
            })
            .map(|(s, e, p)| (*s, *e, p.value_set))
            .collect()
    }
}

/// `needle` (normalised words) occurs in `haystack` (normalised words) on word boundaries.
fn contains_words(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    let mut from = 0;
    while let Some(i) = haystack[from..].find(needle) {
        let at = from + i;
        let end = at + needle.len();
        let left = at == 0 || haystack.as_bytes()[at - 1] == b' ';
        let right = end == haystack.len() || haystack.as_bytes()[end] == b' ';
        if left && right {
            return true;
        }
        from = at + 1;
        while !haystack.is_char_boundary(from) {
            from += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recognizer() -> (TextRecognizer, ValueSetId, ValueSetId) {
        let mut r = TextRecognizer::default();
        let malignancy = ValueSetId(3);
        let sepsis = ValueSetId(4);
        for p in ["*carcinoom", "carcinoma", "*lymfoom", "lymphoma", "*kanker"] {
            r.add_phrase(p, malignancy, false);
        }
        for p in ["basaalcelcarcinoom", "basal cell carcinoma", "huidkanker"] {
            r.add_phrase(p, malignancy, true);
        }
        r.add_phrase("sepsis", sepsis, false);
        let cue = |r: &mut TextRecognizer, kind, place, words: &[&str]| {
            r.add_cue(kind, place, &words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
        };
        cue(&mut r, CueKind::Negation, CuePlace::Before, &["geen", "no", "geen aanwijzingen voor"]);
        cue(&mut r, CueKind::Negation, CuePlace::After, &["uitgesloten", "ruled out"]);
        cue(&mut r, CueKind::Suspicion, CuePlace::Before, &["verdenking", "suspected"]);
        cue(&mut r, CueKind::Family, CuePlace::Anywhere, &["familieanamnese", "family history"]);
        cue(&mut r, CueKind::Screening, CuePlace::Anywhere, &["screening"]);
        cue(&mut r, CueKind::History, CuePlace::Before, &["status na", "history of"]);
        (r, malignancy, sepsis)
    }

    #[test]
    fn phrases_and_dutch_compounds_are_recognised() {
        let (r, malignancy, sepsis) = recognizer();
        for text in ["Mammacarcinoom", "Non-Hodgkin-lymfoom", "Longkanker links", "Carcinoma of colon"] {
            let f = r.recognise(text);
            assert!(f.value_sets.contains(malignancy) && !f.history, "{text}");
        }
        assert!(r.recognise("Urosepsis? nee: sepsis bij E. coli").value_sets.contains(sepsis));
        assert_eq!(r.recognise("Mammacarcinoom").phrase, "mammacarcinoom");
    }

    #[test]
    fn guards_void_or_qualify_a_match() {
        let (r, malignancy, _) = recognizer();
        for void in [
            "Geen aanwijzingen voor maligniteit of carcinoom",
            "Verdenking longcarcinoom",
            "Coloncarcinoom uitgesloten",
            "Familieanamnese: vader coloncarcinoom",
            "Screening op mammacarcinoom",
            "Basaalcelcarcinoom neus",
            "Basal cell carcinoma of skin",
            "Huidkanker",
        ] {
            assert!(!r.recognise(void).value_sets.contains(malignancy), "{void}");
        }
        // A cue acts in its clause only.
        assert!(r.recognise("Mammacarcinoom, geen metastasen").value_sets.contains(malignancy));
        let past = r.recognise("Status na mammacarcinoom 2015");
        assert!(past.value_sets.contains(malignancy) && past.history);
        // Whole words: "nog" is not "no".
        assert!(!r.recognise("Nog lymphoma in follow-up").history);
    }
}
