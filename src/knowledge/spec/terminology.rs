//! The terminology files: code systems, value sets, ECL definitions, expansion sources, text cues.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `systems.toml`: short names for code systems and the URIs that mean them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemsFile {
    pub systems: BTreeMap<String, SystemSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemSpec {
    pub uris: Vec<String>,
    /// The URI written into resources this service creates.
    pub canonical: String,
    /// `icd`: ICD-10 codes are compared without dots and in upper case ("C50.9" = "C509").
    /// `sctid`: SNOMED CT identifiers, kept as integers and checked by their check digit.
    #[serde(default)]
    pub normalize: Option<String>,
    /// `complete`: every concept lists all its codes of this system (ICD-10 ranges, SNOMED CT
    /// expansions), so a code no value set lists is known to be outside every concept.
    /// `partial` (default): such a code says nothing, and a condition coded only so is
    /// reported as not classified unless a terminology server or its text tells.
    #[serde(default)]
    pub coverage: Option<String>,
    /// SNOMED CT with `coverage = "complete"`: the extension namespaces the expansions cover
    /// besides the international core (the editions they were made from).
    #[serde(default)]
    pub extension_namespaces: Vec<String>,
    /// A medication or vaccine coded in this system is read from its codes alone: its free text
    /// is not searched for names (a topical tacrolimus coded by ATC is not "tacrolimus").
    #[serde(default)]
    pub codes_outrank_text: OutrankText,
    pub source: String,
    /// The system's codes or their meanings could not all be checked in a published source.
    #[serde(default)]
    pub unverified: bool,
    /// Codes (prefixes) too broad to say whether they fall under a concept (ICPC S77: any skin
    /// malignancy, melanoma or not): never read as "nothing" — their words may tell, else the
    /// condition is named as not classified.
    #[serde(default)]
    pub too_broad: Vec<String>,
}

/// When a code in a system settles what a medication or vaccine is, so that its text is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(from = "OutrankSetting")]
pub enum OutrankText {
    /// Never: the text is read too.
    #[default]
    Never,
    /// Any code: the value sets cover the system's classes completely (ATC, CVX), so a code
    /// they do not list is not in those classes.
    Always,
    /// Only a code the knowledge lists: the value sets list a few of the system's codes for a
    /// concept (RxNorm ingredients, not its thousands of product codes), so an unlisted code
    /// says nothing and the text is read.
    WhenKnown,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OutrankSetting {
    Flag(bool),
    Mode(OutrankMode),
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
enum OutrankMode {
    WhenKnown,
}

impl From<OutrankSetting> for OutrankText {
    fn from(s: OutrankSetting) -> Self {
        match s {
            OutrankSetting::Flag(false) => OutrankText::Never,
            OutrankSetting::Flag(true) => OutrankText::Always,
            OutrankSetting::Mode(OutrankMode::WhenKnown) => OutrankText::WhenKnown,
        }
    }
}

/// `value-sets/*.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueSetsFile {
    pub value_sets: BTreeMap<String, ValueSetSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueSetSpec {
    pub title: String,
    pub source: String,
    #[serde(default)]
    pub unverified: bool,
    /// Codes by system short name (see `systems.toml`).
    #[serde(default)]
    pub codes: BTreeMap<String, Vec<String>>,
    /// Code prefixes by system: a whole range such as ICD-10 "C" (all malignancies).
    #[serde(default)]
    pub prefixes: BTreeMap<String, Vec<String>>,
    /// Prefixes carved out of `prefixes` (e.g. ICD-10 "C44", non-melanoma skin cancer).
    #[serde(default)]
    pub exclude_prefixes: BTreeMap<String, Vec<String>>,
    /// Whole words or phrases matched in free text (medications and vaccines only).
    #[serde(default)]
    pub text: Vec<String>,
    /// Drugs of `drugs.toml` whose codes and names belong to this set too.
    #[serde(default)]
    pub drugs: Vec<String>,
    /// Value sets whose members all belong to this one too (a union by meaning).
    #[serde(default)]
    pub include: Vec<String>,
    /// Shipped expansions: `terminology/expansions/<name>.tsv`, one file per code system (a
    /// SNOMED CT one, whose definition by meaning (ECL) is in `terminology/ecl.toml` under the
    /// value set's key; an RxNorm one `<key>.rxnorm`). One name or a list.
    #[serde(default, deserialize_with = "one_or_many")]
    pub expansion: Vec<String>,
    /// For the critical concepts: words that name the concept in a condition's text when none
    /// of its codes is recognised (the last resort; the card says so).
    #[serde(default)]
    pub by_text: Option<ByTextSpec>,
    /// For a yes/no question: the value set a generic "yes" answer (LOINC LA33-6, SNOMED CT
    /// 373066001, `valueBoolean` true) counts as, and likewise for "no".
    #[serde(default)]
    pub yes_means: Option<String>,
    #[serde(default)]
    pub no_means: Option<String>,
    /// This set holds the generic answer codes: `yes` or `no`.
    #[serde(default)]
    pub generic_answer: Option<GenericAnswer>,
    /// Its codes say nothing of a medicine's form (an ingredient of ointments and capsules
    /// alike): being listed here does not keep a medication's text from being read.
    #[serde(default)]
    pub any_form: bool,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GenericAnswer {
    Yes,
    No,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByTextSpec {
    /// Words or phrases (English and Dutch); `*suffix` matches the end of a word (compounds).
    pub phrases: Vec<String>,
    /// Phrases that name something outside the concept although a phrase matches in them
    /// ("basaalcelcarcinoom" for malignancy other than skin cancer).
    #[serde(default)]
    pub not: Vec<String>,
    pub source: String,
}

/// `terminology/ecl.toml`: the SNOMED CT definition by meaning of value sets, in the ECL subset
/// of `ecl.rs` — what a terminology server evaluates for codes the shipped expansions lack.
#[derive(Debug, Deserialize)]
pub struct EclFile(pub BTreeMap<String, EclSpec>);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EclSpec {
    pub ecl: String,
}

/// `terminology/sources.toml`: the published value sets and servers expansions come from.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminologySourcesFile {
    pub sources: BTreeMap<String, TerminologySourceSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminologySourceSpec {
    pub title: String,
    /// Canonical URL (or OID) of the published value set, or the server's base URL.
    pub url: String,
    pub version: String,
    /// Where it was read (package and path, repository and commit).
    pub via: String,
}

/// `text-recognition.toml`: the guards of recognition by text.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextRecognitionFile {
    pub source: String,
    pub cues: Vec<CueSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CueSpec {
    pub kind: crate::knowledge::CueKind,
    pub place: crate::knowledge::CuePlace,
    pub words: Vec<String>,
}
