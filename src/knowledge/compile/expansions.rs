//! The terminology part of loading: how systems are covered, value sets defined by meaning
//! (ECL, shipped expansions, inclusions), recognition by text and generic yes/no answers.
//! Every problem is reported with its file and entry, like the rest of the loader.

use std::collections::{BTreeMap, HashMap};

use super::diagnostics::Diagnostics;
use crate::knowledge::codes::{CodeForm, CodeIndex, Coverage, SystemId, ValueSetId};
use crate::knowledge::ecl::{Constraint, check_sctid};
use crate::knowledge::expansion::ExpansionFile;
use crate::knowledge::spec::{
    EclFile, GenericAnswer, SystemSpec, TerminologySourcesFile, TextRecognitionFile, ValueSetSpec,
};
use crate::knowledge::{ByText, ShippedExpansion, TerminologySource, TextCues};

pub(super) const SOURCES_FILE: &str = "terminology/sources.toml";
pub(super) const EXPANSIONS_DIR: &str = "terminology/expansions";
/// Codes a recipe deliberately removed from an expansion, with why: `code, display, reason, from`.
pub(super) const REMOVED_DIR: &str = "terminology/removed";
pub(super) const TEXT_FILE: &str = "text-recognition.toml";
pub(super) const ECL_FILE: &str = "terminology/ecl.toml";

/// The ECL definitions by value-set key, parsed; each problem named.
pub(super) fn definitions(diag: &mut Diagnostics) -> BTreeMap<String, Constraint> {
    let Some(file) = diag.read::<EclFile>(ECL_FILE) else { return BTreeMap::new() };
    let mut out = BTreeMap::new();
    for (key, spec) in file.0 {
        match Constraint::parse(&spec.ecl) {
            Ok(c) => {
                out.insert(key, c);
            }
            Err(e) => diag.error(ECL_FILE, format!("[{key}]"), e),
        }
    }
    out
}

/// Every definition must belong to a value set.
pub(super) fn check_definitions_used(
    diag: &mut Diagnostics,
    definitions: &BTreeMap<String, Constraint>,
    vs_ids: &HashMap<String, ValueSetId>,
) {
    for key in definitions.keys() {
        if !vs_ids.contains_key(key) {
            diag.error(ECL_FILE, format!("[{key}]"), "no value set has this key");
        }
    }
}

/// A system's code form and coverage, from `systems.toml`.
pub(super) fn system_form(diag: &mut Diagnostics, name: &str, spec: &SystemSpec) -> (CodeForm, Coverage) {
    let entry = format!("system `{name}`");
    let form = match spec.normalize.as_deref() {
        None => CodeForm::Plain,
        Some("icd") => CodeForm::Icd,
        Some("sctid") => CodeForm::Sctid,
        Some(other) => {
            diag.error("systems.toml", &entry, format!("unknown normalize `{other}` (icd, sctid)"));
            CodeForm::Plain
        }
    };
    let coverage = match (spec.coverage.as_deref(), form) {
        (None | Some("partial"), _) => Coverage::Partial,
        (Some("complete"), CodeForm::Sctid) => Coverage::SnomedNamespaces(spec.extension_namespaces.clone()),
        (Some("complete"), _) => Coverage::Complete,
        (Some(other), _) => {
            diag.error("systems.toml", &entry, format!("unknown coverage `{other}` (complete, partial)"));
            Coverage::Partial
        }
    };
    if !spec.extension_namespaces.is_empty() && !matches!(coverage, Coverage::SnomedNamespaces(_)) {
        diag.error(
            "systems.toml",
            &entry,
            "extension_namespaces need normalize = \"sctid\" and coverage = \"complete\"",
        );
    }
    for ns in &spec.extension_namespaces {
        if ns.len() != 7 || !ns.bytes().all(|b| b.is_ascii_digit()) {
            diag.error("systems.toml", &entry, format!("`{ns}` is not a 7-digit SNOMED CT namespace"));
        }
    }
    (form, coverage)
}

/// The published sources expansions may cite: `terminology/sources.toml` and every other
/// `terminology/sources.*.toml` (the drug sources, a hospital's terminology server).
pub(super) fn sources(diag: &mut Diagnostics) -> BTreeMap<String, TerminologySource> {
    let mut out = BTreeMap::new();
    let mut files = vec![SOURCES_FILE.to_string()];
    for extra in diag.list("terminology") {
        let name = extra.rsplit('/').next().unwrap_or("");
        if name.starts_with("sources.") && extra != SOURCES_FILE {
            files.push(extra);
        }
    }
    for rel in &files {
        let rel = rel.as_str();
        let Some(file) = diag.read::<TerminologySourcesFile>(rel) else { continue };
        for (key, s) in file.sources {
            for (what, v) in [("title", &s.title), ("url", &s.url), ("version", &s.version), ("via", &s.via)] {
                if v.trim().is_empty() {
                    diag.error(rel, format!("source `{key}`"), format!("has no {what}"));
                }
            }
            if out.contains_key(&key) {
                diag.error(rel, format!("source `{key}`"), "defined twice");
            }
            out.insert(
                key.clone(),
                TerminologySource { key, title: s.title, url: s.url, version: s.version, via: s.via },
            );
        }
    }
    out
}

/// The guards of recognition by text.
pub(super) fn text_cues(diag: &mut Diagnostics, codes: &mut CodeIndex) -> TextCues {
    let Some(file) = diag.read::<TextRecognitionFile>(TEXT_FILE) else { return TextCues::default() };
    if file.source.trim().is_empty() {
        diag.error(TEXT_FILE, "", "has no source");
    }
    let mut cues = Vec::new();
    for (i, cue) in file.cues.iter().enumerate() {
        if cue.words.iter().any(|w| crate::knowledge::normalize_text(w).is_empty()) || cue.words.is_empty() {
            diag.error(TEXT_FILE, format!("cue {}", i + 1), "needs words (letters or digits)");
        }
        codes.recognizer_mut().add_cue(cue.kind, cue.place, &cue.words);
        cues.push((cue.kind, cue.place, cue.words.clone()));
    }
    TextCues { source: file.source, cues }
}

/// What a value set's terminology fields gave: for the review pages and later links.
#[derive(Default)]
pub(super) struct ValueSetTerminology {
    pub ecl: Option<Constraint>,
    pub expansions: Vec<ShippedExpansion>,
    pub by_text: Option<ByText>,
}

/// What the codes of an expansion are added as.
#[derive(Clone, Copy)]
pub(super) enum Member {
    ValueSet(ValueSetId),
    Drug(crate::vocabulary::DrugId),
}

/// Read `terminology/expansions/<name>.tsv` (any system) and add its codes; its removed list,
/// if any, too: SNOMED CT codes left out of the value set, and for other systems codes known
/// not to be members (so that their code settles what they are and no name is read).
pub(super) fn load_expansion(
    diag: &mut Diagnostics,
    name: &str,
    target: Member,
    codes: &mut CodeIndex,
    system_ids: &HashMap<String, SystemId>,
    system_uris: &BTreeMap<String, String>,
    sources: &BTreeMap<String, TerminologySource>,
) -> Option<ShippedExpansion> {
    let rel = format!("{EXPANSIONS_DIR}/{name}.tsv");
    let expansion = match ExpansionFile::parse(&diag.read_text(&rel)?) {
        Ok(e) => e,
        Err(errors) => {
            errors.into_iter().for_each(|e| diag.error(&rel, "", e));
            return None;
        }
    };
    let system_uri = expansion.header("system").unwrap_or_default().to_string();
    let Some(system) = codes.system(&system_uri) else {
        diag.error(&rel, "", format!("`# system: {system_uri}` is not a system of systems.toml"));
        return None;
    };
    let canonical = system_uris
        .iter()
        .find(|(n, _)| system_ids.get(*n) == Some(&system))
        .map(|(_, u)| u.as_str())
        .unwrap_or_default();
    if system_uri != canonical {
        diag.error(&rel, "", format!("`# system:` must be the canonical URI {canonical}"));
    }
    let stem = name.split('.').next().unwrap_or(name);
    if expansion.header("expansion") != Some(stem) {
        diag.error(&rel, "", format!("`# expansion:` must name `{stem}`"));
    }
    let sctid = codes.form(system) == CodeForm::Sctid;
    let mut used: Vec<String> = Vec::new();
    let mut bad = 0usize;
    for m in &expansion.members {
        let valid = if sctid { check_sctid(&m.code).map(|_| ()) } else { Ok(()) };
        if let Err(e) = valid {
            bad += 1;
            if bad <= 5 {
                diag.error(&rel, format!("code {}", m.code), e);
            }
            continue;
        }
        for s in &m.from {
            if !sources.contains_key(s) {
                diag.error(
                    &rel,
                    format!("code {}", m.code),
                    format!("source `{s}` is not in terminology/sources*.toml"),
                );
            } else if !used.contains(s) {
                used.push(s.clone());
            }
        }
        match target {
            Member::ValueSet(vs) => codes.add_code(system, &m.code, Some(vs), None),
            Member::Drug(drug) => codes.add_code(system, &m.code, None, Some(drug)),
        }
    }
    if bad > 5 {
        diag.error(&rel, "", format!("{} more codes are not valid codes of the system", bad - 5));
    }
    let removed = format!("{REMOVED_DIR}/{name}.tsv");
    if diag.exists(&removed)
        && let Some(text) = diag.read_text(&removed)
    {
        for (n, line) in text.lines().enumerate().skip(1) {
            let code = line.split('\t').next().unwrap_or("").trim();
            match (code.is_empty(), target) {
                (true, _) => {
                    if !line.trim().is_empty() {
                        diag.error(&removed, format!("line {}", n + 1), "not `code<TAB>display<TAB>reason<TAB>from`")
                    }
                }
                (false, Member::ValueSet(vs)) if sctid && check_sctid(code).is_ok() => codes.add_exclusion(code, vs),
                (false, _) if sctid => diag.error(&removed, format!("line {}", n + 1), "not a SNOMED CT concept id"),
                (false, _) => codes.add_code(system, code, None, None),
            }
        }
    }
    let header = |k: &str| expansion.header(k).unwrap_or_default().to_string();
    Some(ShippedExpansion {
        file: rel,
        size: expansion.members.len(),
        system: header("system"),
        version: header("version"),
        date: header("date"),
        method: header("method"),
        sources: used,
    })
}

/// Load the ECL definition, the shipped expansion and the text phrases of one value set.
#[allow(clippy::too_many_arguments)]
pub(super) fn value_set_terminology(
    diag: &mut Diagnostics,
    file: &str,
    key: &str,
    id: ValueSetId,
    spec: &ValueSetSpec,
    codes: &mut CodeIndex,
    system_ids: &HashMap<String, SystemId>,
    system_uris: &BTreeMap<String, String>,
    sources: &BTreeMap<String, TerminologySource>,
    definitions: &BTreeMap<String, Constraint>,
) -> ValueSetTerminology {
    let entry = format!("value set `{key}`");
    let mut out = ValueSetTerminology { ecl: definitions.get(key).cloned(), ..Default::default() };
    // What the definition leaves out on purpose stays out, whatever a condition's words say.
    if let Some(ecl) = &out.ecl {
        for focus in &ecl.exclude {
            codes.add_exclusion(&focus.id.to_string(), id);
        }
    }
    for name in &spec.expansion {
        let target = Member::ValueSet(id);
        if let Some(shipped) = load_expansion(diag, name, target, codes, system_ids, system_uris, sources) {
            if codes.form_of(&shipped.system) == Some(CodeForm::Sctid) && out.ecl.is_none() {
                diag.error(
                    file,
                    &entry,
                    format!("a SNOMED CT expansion needs the definition it expands ([{key}] in {ECL_FILE})"),
                );
            }
            if !name.starts_with(key) {
                diag.error(file, &entry, format!("expansion `{name}` should be named after the value set (`{key}…`)"));
            }
            out.expansions.push(shipped);
        }
    }
    if let Some(by_text) = &spec.by_text {
        if by_text.source.trim().is_empty() {
            diag.error(file, format!("{entry}, by_text"), "has no source");
        }
        if by_text.phrases.is_empty() {
            diag.error(file, format!("{entry}, by_text"), "lists no phrases");
        }
        for p in &by_text.phrases {
            codes.recognizer_mut().add_phrase(p, id, false);
        }
        for p in &by_text.not {
            codes.recognizer_mut().add_phrase(p, id, true);
        }
        out.by_text =
            Some(ByText { phrases: by_text.phrases.clone(), not: by_text.not.clone(), source: by_text.source.clone() });
    }
    out
}

/// Links between value sets, resolved once all are defined: inclusions (checked for cycles),
/// and the yes/no meanings of questions.
pub(super) struct ValueSetLinks {
    pub yes_means: Option<ValueSetId>,
    pub no_means: Option<ValueSetId>,
}

pub(super) fn value_set_links(
    diag: &mut Diagnostics,
    file: &str,
    key: &str,
    id: ValueSetId,
    spec: &ValueSetSpec,
    vs_ids: &HashMap<String, ValueSetId>,
    codes: &mut CodeIndex,
) -> ValueSetLinks {
    let entry = format!("value set `{key}`");
    for member in &spec.include {
        match vs_ids.get(member) {
            Some(m) if *m == id => diag.error(file, &entry, "includes itself"),
            Some(m) => codes.add_inclusion(id, *m),
            None => diag.error(file, &entry, format!("includes `{member}`, which is not defined")),
        }
    }
    let mut resolve = |what: &str, name: &Option<String>| {
        let name = name.as_ref()?;
        match vs_ids.get(name) {
            Some(v) => Some(*v),
            None => {
                diag.error(file, &entry, format!("{what} `{name}`, which is not defined"));
                None
            }
        }
    };
    ValueSetLinks { yes_means: resolve("yes_means", &spec.yes_means), no_means: resolve("no_means", &spec.no_means) }
}

/// The value sets holding the generic yes and no answers; one each at most.
pub(super) fn generic_answers(
    diag: &mut Diagnostics,
    specs: &[(String, String, GenericAnswer)],
    vs_ids: &HashMap<String, ValueSetId>,
) -> (Option<ValueSetId>, Option<ValueSetId>) {
    let mut yes = None;
    let mut no = None;
    for (file, key, answer) in specs {
        let slot = match answer {
            GenericAnswer::Yes => &mut yes,
            GenericAnswer::No => &mut no,
        };
        if slot.is_some() {
            diag.error(file, format!("value set `{key}`"), "a second value set of generic answers of the same kind");
        }
        *slot = vs_ids.get(key).copied();
    }
    (yes, no)
}

/// Inclusions must not loop: a set that (transitively) includes itself has no meaning.
pub(super) fn check_inclusion_cycles(diag: &mut Diagnostics, files: &[(String, String, Vec<String>)]) {
    let by_key: HashMap<&str, (&str, &[String])> =
        files.iter().map(|(f, k, inc)| (k.as_str(), (f.as_str(), inc.as_slice()))).collect();
    for (file, key, _) in files {
        let mut stack = vec![key.as_str()];
        let mut seen = vec![key.as_str()];
        while let Some(k) = stack.pop() {
            for next in by_key.get(k).map(|(_, inc)| *inc).unwrap_or_default() {
                if next == key {
                    diag.error(file, format!("value set `{key}`"), "its inclusions lead back to itself");
                    stack.clear();
                    break;
                }
                if !seen.contains(&next.as_str()) {
                    seen.push(next);
                    stack.push(next);
                }
            }
        }
    }
}
