//! Card uuids that carry their rule: feedback names only the card uuid, and a stateless
//! service (several replicas, nothing written per call) must still know which rule the
//! prescriber accepted or overrode. The uuid is a version-8 UUID whose first 4 bytes are a
//! hash of the rule id; the other 90 bits are random, so uuids stay unguessable.

use uuid::Uuid;

use crate::knowledge::Knowledge;

/// FNV-1a, 32 bits: a short, stable tag of some bytes (not a secret).
pub(super) fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

fn rule_tag(rule_id: &str) -> [u8; 4] {
    fnv1a(rule_id.bytes()).to_be_bytes()
}

pub fn card_uuid(rule_id: &str) -> String {
    let mut bytes = Uuid::new_v4().into_bytes();
    bytes[..4].copy_from_slice(&rule_tag(rule_id));
    Uuid::new_v8(bytes).to_string()
}

/// The rule a card uuid was issued for, if it is one of ours.
pub fn rule_of_card<'k>(knowledge: &'k Knowledge, card: &str) -> Option<&'k str> {
    let uuid = Uuid::parse_str(card).ok()?;
    if uuid.get_version_num() != 8 {
        return None;
    }
    let tag = &uuid.as_bytes()[..4];
    knowledge.rules.iter().find(|r| rule_tag(&r.id) == tag).map(|r| r.id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_differ_but_keep_their_rule_tag() {
        let a = card_uuid("jak.pregnancy");
        let b = card_uuid("jak.pregnancy");
        assert_ne!(a, b);
        assert_eq!(Uuid::parse_str(&a).unwrap().as_bytes()[..4], rule_tag("jak.pregnancy"));
        assert_eq!(Uuid::parse_str(&a).unwrap().get_version_num(), 8);
    }
}
