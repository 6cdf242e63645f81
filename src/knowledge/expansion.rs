//! Shipped expansions: the member codes of a value set as a terminology server (or a published
//! value set) gave them, kept in `cds-services/terminology/expansions/<key>.tsv`.
//!
//! ```text
//! # expansion: malignancy-excl-nmsc
//! # system: http://snomed.info/sct
//! # version: SNOMED CT US Edition, as expanded by VSAC for the eCQM Update 2025-05-08
//! # date: 2026-12-02
//! # method: union of published value sets, minus exclusions (cds-services/terminology/build.py)
//! code→display→from
//! 254637007→Non-small cell lung cancer (disorder)→vsac-cancer
//! ```
//!
//! (→ is a tab.) `from` names sources of `terminology/sources.toml`: every member says where it came from.

/// The header lines every expansion file must give.
pub const REQUIRED_HEADERS: [&str; 5] = ["expansion", "system", "version", "date", "method"];

/// One expansion file, read and checked.
#[derive(Debug, Clone, Default)]
pub struct ExpansionFile {
    /// `# key: value` lines, in file order.
    pub headers: Vec<(String, String)>,
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub code: String,
    pub display: String,
    pub from: Vec<String>,
}

impl ExpansionFile {
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Parse the text of an expansion file; every problem is returned, with its line.
    pub fn parse(text: &str) -> Result<ExpansionFile, Vec<String>> {
        let mut file = ExpansionFile::default();
        let mut errors = Vec::new();
        let mut columns_seen = false;
        for (n, line) in text.lines().enumerate() {
            let n = n + 1;
            if line.trim().is_empty() {
                continue;
            }
            if let Some(header) = line.strip_prefix('#') {
                match header.split_once(':') {
                    Some((k, v)) => file.headers.push((k.trim().to_string(), v.trim().to_string())),
                    None => errors.push(format!("line {n}: a header line is `# key: value`")),
                }
                continue;
            }
            if !columns_seen {
                if line != "code\tdisplay\tfrom" {
                    errors.push(format!("line {n}: the column line must be `code<TAB>display<TAB>from`"));
                }
                columns_seen = true;
                continue;
            }
            let cells: Vec<&str> = line.split('\t').collect();
            let [code, display, from] = cells[..] else {
                errors.push(format!("line {n}: expected 3 tab-separated cells, found {}", cells.len()));
                continue;
            };
            if code.trim().is_empty() || from.trim().is_empty() {
                errors.push(format!("line {n}: a member needs a code and its source (`from`)"));
                continue;
            }
            file.members.push(Member {
                code: code.trim().to_string(),
                display: display.trim().to_string(),
                from: from.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
            });
        }
        for key in REQUIRED_HEADERS {
            if file.header(key).is_none_or(|v| v.is_empty()) {
                errors.push(format!("the header `# {key}: …` is missing"));
            }
        }
        if !columns_seen {
            errors.push("no column line `code<TAB>display<TAB>from`".into());
        }
        if errors.is_empty() { Ok(file) } else { Err(errors) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "# expansion: x\n# system: http://snomed.info/sct\n# version: v\n# date: 2026-12-02\n# method: m\ncode\tdisplay\tfrom\n254637007\tNon-small cell lung cancer\tvsac-cancer, mcode\n";

    #[test]
    fn a_well_formed_file_reads_with_its_headers_and_sources() {
        let f = ExpansionFile::parse(GOOD).unwrap();
        assert_eq!(f.header("system"), Some("http://snomed.info/sct"));
        assert_eq!(
            f.members,
            vec![Member {
                code: "254637007".into(),
                display: "Non-small cell lung cancer".into(),
                from: vec!["vsac-cancer".into(), "mcode".into()]
            }]
        );
    }

    #[test]
    fn every_problem_is_named_with_its_line() {
        let text = "# expansion: x\n# system: s\ncode\tdisplay\n1\ttwo cells\n2\tno source\t\n";
        let errors = ExpansionFile::parse(text).unwrap_err();
        let all = errors.join("\n");
        assert!(all.contains("line 3: the column line"), "{all}");
        assert!(all.contains("line 4: expected 3"), "{all}");
        assert!(all.contains("line 5: a member needs"), "{all}");
        assert!(all.contains("`# version: …` is missing"), "{all}");
    }
}
