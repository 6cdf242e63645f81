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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
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

impl fmt::Display for Jurisdiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Administrative sex as recorded on the Patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Female,
    Male,
    Other,
    Unknown,
}

/// Strength of a decision-matrix cell (seed A legend), and what card it becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

/// A calendar date, the unit of every clinical time window here.
pub type Date = time::Date;
