//! How codes and texts are compared.

use super::CodeForm;

pub(super) fn normalize(code: &str, form: CodeForm) -> String {
    let code = code.trim();
    match form {
        CodeForm::Icd => code.chars().filter(|c| *c != '.').flat_map(char::to_uppercase).collect(),
        CodeForm::Plain | CodeForm::Sctid => code.to_string(),
    }
}

/// ICD-10 and ICPC codes: a letter, a digit, a letter or digit, then letters or digits (A09,
/// C7A0, T9002), compared after `normalize`.
pub(super) fn icd_shaped(key: &str) -> bool {
    let b = key.as_bytes();
    b.len() >= 3 && b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && b[2..].iter().all(u8::is_ascii_alphanumeric)
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
