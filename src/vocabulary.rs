//! Small domain words shared by every layer: they carry no behaviour of their own.

use std::fmt;

/// Language of the card texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Language {
    #[default]
    En,
    Nl,
}

impl Language {
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Nl => "nl",
        }
    }

    pub const ALL: [Language; 2] = [Language::En, Language::Nl];
}

/// Where the service is deployed: some rules hold only in Belgium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum Jurisdiction {
    #[default]
    Nl,
    Be,
}

impl Jurisdiction {
    pub fn code(self) -> &'static str {
        match self {
            Jurisdiction::Nl => "NL",
            Jurisdiction::Be => "BE",
        }
    }
}

impl std::str::FromStr for Jurisdiction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "NL" => Ok(Jurisdiction::Nl),
            "BE" => Ok(Jurisdiction::Be),
            other => Err(format!("unknown jurisdiction `{other}` (expected NL or BE)")),
        }
    }
}

impl TryFrom<String> for Jurisdiction {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for Jurisdiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Administrative sex as recorded on the Patient (FHIR `Patient.gender`), and as rules name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    Female,
    Male,
    Other,
    Unknown,
}

impl Sex {
    /// A FHIR `Patient.gender`; anything else (or nothing) is unknown.
    pub fn from_fhir(gender: Option<&str>) -> Sex {
        match gender {
            Some("female") => Sex::Female,
            Some("male") => Sex::Male,
            Some("other") => Sex::Other,
            _ => Sex::Unknown,
        }
    }
}

/// Status of a medication fact, as the rules distinguish it (FHIR MedicationRequest and
/// MedicationStatement statuses, and the drafts of this session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MedicationStatus {
    Active,
    OnHold,
    Completed,
    Stopped,
    /// Ordered together with the order under review (another draft of this session).
    Draft,
}

impl MedicationStatus {
    /// A recorded order's or statement's FHIR status; the others (cancelled, entered-in-error,
    /// intended, unknown, a draft of another session) are no treatment.
    pub fn from_fhir(status: &str) -> Option<MedicationStatus> {
        Some(match status {
            "active" => MedicationStatus::Active,
            "on-hold" => MedicationStatus::OnHold,
            "completed" => MedicationStatus::Completed,
            "stopped" => MedicationStatus::Stopped,
            _ => return None,
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            MedicationStatus::Active => "active",
            MedicationStatus::OnHold => "on-hold",
            MedicationStatus::Completed => "completed",
            MedicationStatus::Stopped => "stopped",
            MedicationStatus::Draft => "draft",
        }
    }

    /// The key of its name in the message catalogue.
    pub fn message_key(self) -> &'static str {
        match self {
            MedicationStatus::Active => "medication-status.active",
            MedicationStatus::OnHold => "medication-status.on-hold",
            MedicationStatus::Completed => "medication-status.completed",
            MedicationStatus::Stopped => "medication-status.stopped",
            MedicationStatus::Draft => "medication-status.draft",
        }
    }
}

/// A condition's FHIR `clinicalStatus`, read once at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClinicalStatus {
    Active,
    Recurrence,
    Relapse,
    Inactive,
    Remission,
    Resolved,
    /// A code outside the FHIR value set, kept as written.
    Other(String),
}

impl ClinicalStatus {
    pub fn from_fhir(code: &str) -> ClinicalStatus {
        match code {
            "active" => ClinicalStatus::Active,
            "recurrence" => ClinicalStatus::Recurrence,
            "relapse" => ClinicalStatus::Relapse,
            "inactive" => ClinicalStatus::Inactive,
            "remission" => ClinicalStatus::Remission,
            "resolved" => ClinicalStatus::Resolved,
            other => ClinicalStatus::Other(other.to_string()),
        }
    }

    /// Active, recurrence and relapse count as active (rules-catalog.md, "Condition status").
    pub fn is_active(&self) -> bool {
        matches!(self, ClinicalStatus::Active | ClinicalStatus::Recurrence | ClinicalStatus::Relapse)
    }

    /// The key of its name in the message catalogue; `None` for a code outside the value set.
    pub fn message_key(&self) -> Option<&'static str> {
        Some(match self {
            ClinicalStatus::Active => "condition-status.active",
            ClinicalStatus::Recurrence => "condition-status.recurrence",
            ClinicalStatus::Relapse => "condition-status.relapse",
            ClinicalStatus::Inactive => "condition-status.inactive",
            ClinicalStatus::Remission => "condition-status.remission",
            ClinicalStatus::Resolved => "condition-status.resolved",
            ClinicalStatus::Other(_) => return None,
        })
    }

    pub fn code(&self) -> &str {
        match self {
            ClinicalStatus::Active => "active",
            ClinicalStatus::Recurrence => "recurrence",
            ClinicalStatus::Relapse => "relapse",
            ClinicalStatus::Inactive => "inactive",
            ClinicalStatus::Remission => "remission",
            ClinicalStatus::Resolved => "resolved",
            ClinicalStatus::Other(s) => s,
        }
    }
}

/// Strength of a decision-matrix cell (the atopic-dermatitis decision matrix's legend), and
/// what card it becomes. Rules name it in kebab case (`against-strong`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recommendation {
    /// Not a matrix cell: information for the prescriber.
    Advice,
    /// 0: no recommendation possible.
    NoRecommendation,
    /// Not a matrix cell: a warning to act on (screen first, adjust the dose) that does not make
    /// the drug a poor choice, so it does not rule the drug out as an alternative.
    Caution,
    /// ↓: suggest not to use.
    Against,
    /// ↓↓: recommend against.
    AgainstStrong,
}

impl Recommendation {
    /// A ↓ or ↓↓ finding: the drug is no candidate for suggestions.
    pub fn is_against(self) -> bool {
        matches!(self, Recommendation::Against | Recommendation::AgainstStrong)
    }

    pub fn arrow(self) -> &'static str {
        match self {
            Recommendation::Advice => "i",
            Recommendation::NoRecommendation => "0",
            Recommendation::Caution => "!",
            Recommendation::Against => "↓",
            Recommendation::AgainstStrong => "↓↓",
        }
    }
}

/// Index of a drug in the knowledge's drug list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DrugId(pub u8);

/// A set of drugs (at most `DrugSet::CAPACITY`), as a bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DrugSet(u32);

impl DrugSet {
    pub const CAPACITY: usize = 32;

    pub fn contains(self, drug: DrugId) -> bool {
        self.0 & (1 << drug.0) != 0
    }
    pub fn insert(&mut self, drug: DrugId) {
        self.0 |= 1 << drug.0;
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn union(&mut self, other: DrugSet) {
        self.0 |= other.0;
    }
    pub fn intersects(self, other: DrugSet) -> bool {
        self.0 & other.0 != 0
    }
    pub fn is_subset_of(self, other: DrugSet) -> bool {
        self.0 & !other.0 == 0
    }
}

/// A calendar date, the unit of every clinical time window here.
pub type Date = time::Date;
