//! The intensional definition of a SNOMED CT value set: a small subset of the Expression
//! Constraint Language (ECL 2.x) that every FHIR terminology server evaluates and that this
//! service can also evaluate itself on a code's ancestors:
//!
//! ```text
//! (<< 363346000 |Malignant neoplastic disease| OR < 1234 |…|) MINUS (<< 254701007 |…| OR 5678)
//! ```
//!
//! `<<` descendants or self, `<` descendants only, a bare id the concept itself; members joined
//! by `OR`; one optional `MINUS` of the same form. As ECL requires, a disjunction is bracketed
//! before or after `MINUS`; a single focus need not be. Ids are checked with SNOMED CT's
//! Verhoeff check digit, so a mistyped id is a load error, not a silent miss.

use std::fmt;

/// How a focus concept is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `<<`: the concept and everything under it.
    DescendantsOrSelf,
    /// `<`: everything under it, not the concept itself.
    Descendants,
    /// The concept alone.
    SelfOnly,
}

/// One `<< id |term|`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Focus {
    pub scope: Scope,
    pub id: u64,
    pub term: Option<String>,
}

/// `include OR include … MINUS (exclude OR …)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Constraint {
    pub include: Vec<Focus>,
    pub exclude: Vec<Focus>,
}

impl Focus {
    /// Whether `code`, whose ancestors-or-self are `ancestors_or_self` (the code included),
    /// falls under this focus.
    pub fn covers(&self, code: u64, ancestors_or_self: &[u64]) -> bool {
        match self.scope {
            Scope::SelfOnly => code == self.id,
            Scope::DescendantsOrSelf => ancestors_or_self.contains(&self.id),
            Scope::Descendants => code != self.id && ancestors_or_self.contains(&self.id),
        }
    }
}

impl Constraint {
    pub fn parse(text: &str) -> Result<Constraint, String> {
        let mut parser = Parser { rest: text.trim() };
        let include = parser.operand()?;
        let mut exclude = Vec::new();
        if parser.keyword("MINUS") {
            exclude = if parser.symbol("(") { parser.bracketed()? } else { vec![parser.focus()?] };
            if parser.keyword("OR") || parser.keyword("MINUS") {
                return Err("bracket the disjunction after `MINUS`: `MINUS (… OR …)`".into());
            }
        }
        if !parser.rest.is_empty() {
            return Err(format!("unexpected `{}`", parser.rest.chars().take(30).collect::<String>()));
        }
        Ok(Constraint { include, exclude })
    }

    /// Every concept id named (the roots a server is asked about).
    pub fn concepts(&self) -> impl Iterator<Item = u64> + '_ {
        self.include.iter().chain(&self.exclude).map(|f| f.id)
    }

    /// Evaluate on a code whose ancestors-or-self are known (from a terminology server).
    pub fn matches(&self, code: u64, ancestors_or_self: &[u64]) -> bool {
        self.include.iter().any(|f| f.covers(code, ancestors_or_self))
            && !self.exclude.iter().any(|f| f.covers(code, ancestors_or_self))
    }
}

impl fmt::Display for Focus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scope {
            Scope::DescendantsOrSelf => write!(f, "<< ")?,
            Scope::Descendants => write!(f, "< ")?,
            Scope::SelfOnly => {}
        }
        write!(f, "{}", self.id)?;
        if let Some(term) = &self.term {
            write!(f, " |{term}|")?;
        }
        Ok(())
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |list: &[Focus]| list.iter().map(Focus::to_string).collect::<Vec<_>>().join(" OR ");
        let operand = |list: &[Focus]| if list.len() > 1 { format!("({})", join(list)) } else { join(list) };
        if self.exclude.is_empty() {
            write!(f, "{}", join(&self.include))
        } else {
            write!(f, "{} MINUS {}", operand(&self.include), operand(&self.exclude))
        }
    }
}

struct Parser<'a> {
    rest: &'a str,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn symbol(&mut self, s: &str) -> bool {
        self.skip_space();
        match self.rest.strip_prefix(s) {
            Some(r) => {
                self.rest = r;
                true
            }
            None => false,
        }
    }

    fn keyword(&mut self, word: &str) -> bool {
        self.skip_space();
        let Some(r) = self.rest.strip_prefix(word) else { return false };
        if r.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return false;
        }
        self.rest = r;
        true
    }

    /// A single focus, a bare disjunction (only before an optional MINUS that it may then not
    /// precede), or a bracketed disjunction.
    fn operand(&mut self) -> Result<Vec<Focus>, String> {
        if self.symbol("(") {
            return self.bracketed();
        }
        let list = self.disjunction()?;
        if list.len() > 1 {
            let save = self.rest;
            if self.keyword("MINUS") {
                return Err("bracket the disjunction before `MINUS`: `(… OR …) MINUS …`".into());
            }
            self.rest = save;
        }
        Ok(list)
    }

    /// The rest of `( … )`, after the opening bracket.
    fn bracketed(&mut self) -> Result<Vec<Focus>, String> {
        let list = self.disjunction()?;
        if !self.symbol(")") {
            return Err("a `(` is not closed with `)`".into());
        }
        Ok(list)
    }

    fn disjunction(&mut self) -> Result<Vec<Focus>, String> {
        let mut list = vec![self.focus()?];
        while self.keyword("OR") {
            list.push(self.focus()?);
        }
        if self.keyword("AND") {
            return Err("`AND` is not in the subset this service evaluates (use OR and MINUS)".into());
        }
        Ok(list)
    }

    fn focus(&mut self) -> Result<Focus, String> {
        let scope = if self.symbol("<<") {
            Scope::DescendantsOrSelf
        } else if self.symbol("<") {
            if self.rest.starts_with('!') {
                return Err("`<!` (children only) is not in the subset this service evaluates".into());
            }
            Scope::Descendants
        } else if self.rest.starts_with(">") {
            return Err("ancestor operators (`>`, `>>`) do not define a value set here".into());
        } else {
            Scope::SelfOnly
        };
        self.skip_space();
        let digits: String = self.rest.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return Err(format!("expected a concept id at `{}`", self.rest.chars().take(20).collect::<String>()));
        }
        self.rest = &self.rest[digits.len()..];
        let id = check_sctid(&digits)?;
        let mut term = None;
        if self.symbol("|") {
            let Some(end) = self.rest.find('|') else {
                return Err(format!("the term after {id} is not closed with `|`"));
            };
            term = Some(self.rest[..end].trim().to_string());
            self.rest = &self.rest[end + 1..];
        }
        Ok(Focus { scope, id, term })
    }
}

/// A SNOMED CT identifier: 6 to 18 digits, no leading zero, a concept's partition, and a valid
/// Verhoeff check digit.
pub fn check_sctid(digits: &str) -> Result<u64, String> {
    if !(6..=18).contains(&digits.len()) || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{digits}` is not a SNOMED CT identifier (6 to 18 digits)"));
    }
    let partition = &digits[digits.len() - 3..digits.len() - 1];
    if partition != "00" && partition != "10" {
        return Err(format!("`{digits}` is not a concept identifier (partition {partition})"));
    }
    if !verhoeff_valid(digits) {
        return Err(format!("`{digits}` fails the SNOMED CT check digit (mistyped?)"));
    }
    digits.parse().map_err(|_| format!("`{digits}` is too large"))
}

/// The namespace a concept id belongs to: `None` for the international core (short format),
/// else the 7-digit namespace of an extension (`1000146` for the Netherlands).
pub fn sctid_namespace(digits: &str) -> Option<&str> {
    let partition = digits.get(digits.len().checked_sub(3)?..digits.len() - 1)?;
    if partition == "10" && digits.len() >= 11 { digits.get(digits.len() - 10..digits.len() - 3) } else { None }
}

/// Verhoeff's dihedral check (SNOMED CT Technical Implementation Guide, check digit).
fn verhoeff_valid(digits: &str) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let mut c = 0u8;
    for (i, b) in digits.bytes().rev().enumerate() {
        c = D[c as usize][P[i % 8][(b - b'0') as usize] as usize];
    }
    c == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_identifiers_pass_the_check_digit_and_typos_fail() {
        for ok in ["363346000", "254637007", "91302008", "428041000124106", "22298006", "73211009"] {
            assert!(check_sctid(ok).is_ok(), "{ok}");
        }
        // One digit changed, two swapped, a description id (partition 01).
        for bad in ["363346001", "254673007", "2543010", "0363346000", "12"] {
            assert!(check_sctid(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn extension_namespaces_are_read_from_long_ids() {
        assert_eq!(sctid_namespace("428041000124106"), Some("1000124"));
        assert_eq!(sctid_namespace("363346000"), None);
    }

    #[test]
    fn the_subset_parses_prints_and_evaluates() {
        let text = "(<< 363346000 |Malignant neoplastic disease| OR 91302008) MINUS (<< 254701007 |Basal cell carcinoma of skin| OR < 22298006)";
        let c = Constraint::parse(text).unwrap();
        assert_eq!(c.include.len(), 2);
        assert_eq!(c.exclude[1].scope, Scope::Descendants);
        assert_eq!(Constraint::parse(&c.to_string()).unwrap(), c);
        // A lung cancer under 363346000: in. A basal cell carcinoma under both: out.
        assert!(c.matches(254637007, &[254637007, 93880001, 363346000]));
        assert!(!c.matches(1234, &[1234, 254701007, 363346000]));
        // `91302008` alone: the concept, not its children.
        assert!(c.matches(91302008, &[91302008]));
        assert!(!c.matches(76571007, &[76571007, 91302008]));
        // `< 22298006`: children are excluded, the concept itself is not.
        assert!(!c.matches(5, &[5, 22298006, 363346000]));
        // A single focus on each side needs no brackets.
        let single = Constraint::parse("<< 77386006 MINUS << 118215003").unwrap();
        assert_eq!(single.to_string(), "<< 77386006 MINUS << 118215003");
    }

    #[test]
    fn what_is_outside_the_subset_is_refused_with_a_reason() {
        for (text, says) in [
            ("<< 363346000 AND << 91302008", "AND"),
            (">> 363346000", "ancestor"),
            ("<< 363346001", "check digit"),
            ("<< 363346000 OR 91302008 MINUS << 22298006", "bracket the disjunction before"),
            ("<< 363346000 MINUS << 91302008 OR 22298006", "bracket the disjunction after"),
            ("(<< 363346000 OR 91302008 MINUS << 22298006", "not closed"),
            ("<< 363346000 |unclosed", "not closed"),
            ("<< 363346000 extra", "unexpected"),
            ("", "concept id"),
        ] {
            let e = Constraint::parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
