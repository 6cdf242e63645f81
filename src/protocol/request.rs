//! The CDS Hooks 2.0 service request (`POST /cds-services/{id}`) for `order-select` and
//! `order-sign`, read without copying: FHIR payloads stay raw JSON slices of the body until
//! the FHIR layer parses them resource by resource. A prefetched Bundle is split into its
//! entries in the same pass over the body (`SplitBundle`).

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;

/// Why a request cannot be answered; each message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the body is not a CDS Hooks request: {0}")]
    WrongShape(String),
    #[error("`{0}` is required")]
    Missing(&'static str),
    #[error("{0}")]
    Invalid(String),
}

/// `fhirAuthorization`: the token the EHR lends for FHIR calls. Never logged, never stored.
/// Its fields are snake_case on the wire (CDS Hooks 2.0 §Passing the Access Token).
#[derive(Clone, Deserialize)]
pub struct FhirAuthorization {
    pub access_token: String,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub patient: Option<String>,
}

impl std::fmt::Debug for FhirAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirAuthorization").field("access_token", &"<redacted>").finish_non_exhaustive()
    }
}

/// The request as sent; `P` is how the prefetch object is read (`Split` first, `Raw` when that
/// cannot be used).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireRequest<'a, P> {
    hook: Option<String>,
    hook_instance: Option<String>,
    fhir_server: Option<String>,
    fhir_authorization: Option<FhirAuthorization>,
    #[serde(borrow)]
    context: Option<&'a RawValue>,
    prefetch: Option<P>,
}

impl<'a, P> WireRequest<'a, P> {
    /// The same request with its prefetch object turned into values.
    fn map_prefetch(
        self,
        values: impl FnOnce(P) -> HashMap<String, PrefetchValue<'a>>,
    ) -> WireRequest<'a, HashMap<String, PrefetchValue<'a>>> {
        WireRequest {
            hook: self.hook,
            hook_instance: self.hook_instance,
            fhir_server: self.fhir_server,
            fhir_authorization: self.fhir_authorization,
            context: self.context,
            prefetch: self.prefetch.map(values),
        }
    }
}

/// The prefetch object with every value kept as raw JSON.
type Raw<'a> = HashMap<String, Option<&'a RawValue>>;

/// The prefetch object read in the same pass as the envelope: each Bundle split into its
/// entries, the Patient kept raw. At a value that is neither (a single resource under a list
/// key, an OperationOutcome, a Bundle whose `resourceType` is not its first member) this read
/// stops with an error, and the request is read again the plain way (`Raw`).
struct Split<'a>(HashMap<String, PrefetchValue<'a>>);

impl<'de> Deserialize<'de> for Split<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = Split<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("the prefetch object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Split<'de>, A::Error> {
                let mut out = HashMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = if key == "patient" {
                        map.next_value::<Option<&'de RawValue>>()?.map(PrefetchValue::Json)
                    } else {
                        map.next_value::<Option<LeadingBundle>>()?.map(|b| PrefetchValue::Bundle(b.0))
                    };
                    // A key given twice: the last counts, as in the plain read.
                    out.insert(key, value.unwrap_or(PrefetchValue::Null));
                }
                Ok(Split(out))
            }
        }
        d.deserialize_map(Keys)
    }
}

/// A JSON object whose first member says it is a Bundle, split into its entries; any other
/// value is an error, at once (the request is then read the plain way).
struct LeadingBundle<'a>(SplitBundle<'a>);

impl<'de> Deserialize<'de> for LeadingBundle<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = LeadingBundle<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a FHIR resource")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LeadingBundle<'de>, A::Error> {
                let bundle = match map.next_key::<Cow<'de, str>>()? {
                    Some(first) if first == "resourceType" => map.next_value::<Cow<'de, str>>()? == "Bundle",
                    _ => false,
                };
                if !bundle {
                    return Err(serde::de::Error::custom("not a Bundle with resourceType first"));
                }
                // The other members as the plain read takes them (a member given twice refused).
                SplitBundle::deserialize(MapAccessDeserializer::new(map)).map(LeadingBundle)
            }
        }
        d.deserialize_map(Members)
    }
}

/// A FHIR Bundle with its entries as raw JSON: under a prefetch key, in `draftOrders`, or a
/// search page from the FHIR server.
#[derive(Debug, Default, Deserialize)]
pub struct SplitBundle<'a> {
    #[serde(borrow, default)]
    pub entry: Vec<BundleEntry<'a>>,
    #[serde(default)]
    pub link: Vec<BundleLink>,
}

impl SplitBundle<'_> {
    /// The search has more pages (`link` `next`).
    pub fn next_page(&self) -> Option<&str> {
        self.link.iter().find(|l| l.relation.as_deref() == Some("next")).and_then(|l| l.url.as_deref())
    }
}

#[derive(Debug, Deserialize)]
pub struct BundleEntry<'a> {
    #[serde(borrow)]
    pub resource: Option<&'a RawValue>,
    /// Borrowed: read for every entry, needed only in messages.
    #[serde(rename = "fullUrl", borrow)]
    pub full_url: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct BundleLink {
    pub relation: Option<String>,
    pub url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireContext<'a> {
    user_id: Option<String>,
    patient_id: Option<String>,
    encounter_id: Option<String>,
    selections: Option<Vec<String>>,
    #[serde(borrow)]
    draft_orders: Option<&'a RawValue>,
}

/// What the client sent under one prefetch key.
#[derive(Debug)]
pub enum PrefetchValue<'a> {
    /// `null`: the client had no data for this query.
    Null,
    Json(&'a RawValue),
    /// A Bundle, split into its entries while the request was read.
    Bundle(SplitBundle<'a>),
}

/// `context` of `order-select` / `order-sign`.
#[derive(Debug)]
pub struct OrderContext<'a> {
    pub user_id: Option<String>,
    pub patient_id: String,
    pub encounter_id: Option<String>,
    /// `order-select` only: the orders the user just selected (`MedicationRequest/abc`).
    pub selections: Option<Vec<String>>,
    /// A Bundle of the session's unsigned orders.
    pub draft_orders: &'a RawValue,
}

/// A checked service request.
#[derive(Debug)]
pub struct CdsRequest<'a> {
    pub hook: String,
    pub hook_instance: String,
    pub fhir_server: Option<String>,
    pub fhir_authorization: Option<FhirAuthorization>,
    pub context: OrderContext<'a>,
    /// Absent keys are absent here too: "not sent" and "null" mean different things.
    pub prefetch: HashMap<String, PrefetchValue<'a>>,
}

impl<'a> CdsRequest<'a> {
    /// Parse and check a request body for `expected_hook`.
    pub fn parse(body: &'a [u8], expected_hook: &str) -> Result<CdsRequest<'a>, RequestError> {
        let raw = |w: WireRequest<'a, Raw<'a>>| {
            w.map_prefetch(|map| {
                map.into_iter().map(|(k, v)| (k, v.map_or(PrefetchValue::Null, PrefetchValue::Json))).collect()
            })
        };
        let wire = match std::str::from_utf8(body) {
            // UTF-8 checked once, in one fast pass: read from a `str`, serde_json checks no string
            // again. The Bundles are split in the same pass; where that cannot be (see `Split`),
            // or the request is wrong anywhere, it is read again the plain way, whose errors are
            // the answer (the envelope scan was a tenth of a small call, issue 16).
            Ok(text) => match serde_json::from_str::<WireRequest<'a, Split<'a>>>(text) {
                Ok(w) => w.map_prefetch(|Split(map)| map),
                Err(_) => raw(serde_json::from_str(text).map_err(json_error)?),
            },
            // Not UTF-8 throughout (serde_json does not look inside what it skips): read as before.
            Err(_) => raw(serde_json::from_slice(body).map_err(json_error)?),
        };
        let hook = wire.hook.filter(|h| !h.is_empty()).ok_or(RequestError::Missing("hook"))?;
        if hook != expected_hook {
            return Err(RequestError::Invalid(format!(
                "this service answers the `{expected_hook}` hook, not `{hook}`"
            )));
        }
        let hook_instance =
            wire.hook_instance.filter(|h| !h.is_empty()).ok_or(RequestError::Missing("hookInstance"))?;
        if hook_instance.len() > 128 || !hook_instance.chars().all(|c| c.is_ascii_graphic()) {
            return Err(RequestError::Invalid(
                "`hookInstance` must be a short identifier (a UUID) of printable characters".into(),
            ));
        }
        if wire.fhir_authorization.is_some() && wire.fhir_server.is_none() {
            return Err(RequestError::Invalid("`fhirAuthorization` is given without `fhirServer`".into()));
        }
        if let Some(auth) = &wire.fhir_authorization
            && auth.access_token.is_empty()
        {
            return Err(RequestError::Invalid("`fhirAuthorization.access_token` is empty".into()));
        }
        if let Some(server) = &wire.fhir_server
            && !(server.starts_with("https://") || server.starts_with("http://"))
        {
            return Err(RequestError::Invalid("`fhirServer` must be an http(s) URL".into()));
        }
        let raw_context = wire.context.ok_or(RequestError::Missing("context"))?;
        let ctx: WireContext<'a> = serde_json::from_str(raw_context.get())
            .map_err(|e| RequestError::WrongShape(format!("`context`: {}", strip_position(&e))))?;
        let patient_id = ctx.patient_id.filter(|p| !p.is_empty()).ok_or(RequestError::Missing("context.patientId"))?;
        let draft_orders = ctx.draft_orders.ok_or(RequestError::Missing("context.draftOrders"))?;
        if hook == "order-select" {
            match &ctx.selections {
                None => return Err(RequestError::Missing("context.selections")),
                Some(s) if s.is_empty() => {
                    return Err(RequestError::Invalid("`context.selections` is empty: nothing was selected".into()));
                }
                Some(_) => {}
            }
        }
        let prefetch = wire.prefetch.unwrap_or_default();
        Ok(CdsRequest {
            hook,
            hook_instance,
            fhir_server: wire.fhir_server,
            fhir_authorization: wire.fhir_authorization,
            context: OrderContext {
                user_id: ctx.user_id,
                patient_id,
                encounter_id: ctx.encounter_id,
                // order-sign reviews every draft: a stray `selections` is not obeyed.
                selections: if expected_hook == "order-select" { ctx.selections } else { None },
                draft_orders,
            },
            prefetch,
        })
    }
}

fn json_error(e: serde_json::Error) -> RequestError {
    match e.classify() {
        serde_json::error::Category::Data => RequestError::WrongShape(e.to_string()),
        _ => RequestError::MalformedJson(e.to_string()),
    }
}

fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.find(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"{"hook":"order-sign","hookInstance":"a-1","context":{"userId":"Practitioner/1","patientId":"p1","draftOrders":{"resourceType":"Bundle","entry":[]}},"prefetch":{"patient":null}}"#;

    #[test]
    fn null_prefetch_differs_from_absent() {
        let r = CdsRequest::parse(MIN.as_bytes(), "order-sign").unwrap();
        assert!(matches!(r.prefetch.get("patient"), Some(PrefetchValue::Null)));
        assert!(!r.prefetch.contains_key("conditions"));
    }

    fn with_prefetch(key: &str, value: &str) -> String {
        MIN.replace(r#""prefetch":{"patient":null}"#, &format!(r#""prefetch":{{"patient":null,"{key}":{value}}}"#))
    }

    #[test]
    fn a_bundle_is_split_into_its_entries_in_the_same_pass() {
        let body = with_prefetch(
            "conditions",
            r#"{"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":"http://x/2"}],
                "entry":[{"fullUrl":"urn:a","resource":{"resourceType":"Condition","id":"c1"}},{"search":{}}]}"#,
        );
        let r = CdsRequest::parse(body.as_bytes(), "order-sign").unwrap();
        let Some(PrefetchValue::Bundle(bundle)) = r.prefetch.get("conditions") else {
            panic!("not split: {:?}", r.prefetch.get("conditions"))
        };
        assert_eq!(bundle.entry.len(), 2);
        assert_eq!(bundle.entry[0].resource.unwrap().get(), r#"{"resourceType":"Condition","id":"c1"}"#);
        assert_eq!(bundle.entry[0].full_url.as_deref(), Some("urn:a"));
        assert!(bundle.entry[1].resource.is_none());
        assert_eq!(bundle.next_page(), Some("http://x/2"));
        assert!(matches!(r.prefetch.get("patient"), Some(PrefetchValue::Null)));
    }

    #[test]
    fn what_cannot_be_split_is_kept_raw_for_the_fhir_layer_to_judge() {
        for value in [
            // resourceType not first, a single resource, an OperationOutcome, no object at all,
            // `entry` given twice, `entry` not a list: read as before, by the FHIR layer.
            r#"{"type":"searchset","resourceType":"Bundle","entry":[]}"#,
            r#"{"resourceType":"Condition","id":"c1"}"#,
            r#"{"resourceType":"OperationOutcome","issue":[]}"#,
            r#""a string""#,
            r#"{"resourceType":"Bundle","entry":[],"entry":[]}"#,
            r#"{"resourceType":"Bundle","entry":{"resource":{}}}"#,
            r#"{"resourceType":"Bundle","entry":null}"#,
        ] {
            let body = with_prefetch("conditions", value);
            let r = CdsRequest::parse(body.as_bytes(), "order-sign").unwrap();
            let Some(PrefetchValue::Json(raw)) = r.prefetch.get("conditions") else {
                panic!("{value}: {:?}", r.prefetch.get("conditions"))
            };
            assert_eq!(raw.get(), value);
        }
        // Malformed JSON is refused as malformed, whichever read met it first.
        let body = with_prefetch("conditions", r#"{"resourceType":"Bundle","entry":[}"#);
        assert!(matches!(CdsRequest::parse(body.as_bytes(), "order-sign"), Err(RequestError::MalformedJson(_))));
    }

    #[test]
    fn split_and_plain_reads_agree_on_the_edges() {
        // Escaped member names and values are read as what they say.
        let body = with_prefetch("conditions", r#"{"resource\u0054ype":"Bund\u006ce","entry":[]}"#);
        let r = CdsRequest::parse(body.as_bytes(), "order-sign").unwrap();
        assert!(matches!(r.prefetch.get("conditions"), Some(PrefetchValue::Bundle(b)) if b.entry.is_empty()));
        // The Patient is kept whole, even a Bundle; a key given twice counts the last time.
        let body = MIN.replace(
            r#""prefetch":{"patient":null}"#,
            r#""prefetch":{"patient":{"resourceType":"Bundle"},"conditions":null,"conditions":{"resourceType":"Bundle"}}"#,
        );
        let r = CdsRequest::parse(body.as_bytes(), "order-sign").unwrap();
        assert!(matches!(r.prefetch.get("patient"), Some(PrefetchValue::Json(_))));
        assert!(matches!(r.prefetch.get("conditions"), Some(PrefetchValue::Bundle(_))));
        // Bytes that are not UTF-8 where the service does not look are let be, as before ...
        let mut body = MIN.replacen('{', r#"{"extension":"x","#, 1).into_bytes();
        let at = body.windows(3).position(|w| w == br#""x""#).unwrap() + 1;
        body[at] = 0xff;
        assert!(CdsRequest::parse(&body, "order-sign").is_ok());
        // ... and where it reads, refused as malformed JSON with the place named.
        let mut body = MIN.as_bytes().to_vec();
        let at = body.windows(3).position(|w| w == b"a-1").unwrap();
        body[at] = 0xff;
        let e = CdsRequest::parse(&body, "order-sign").unwrap_err();
        assert!(matches!(&e, RequestError::MalformedJson(m) if m.contains("line 1")), "{e:?}");
    }

    #[test]
    fn hook_must_match_the_service() {
        let e = CdsRequest::parse(MIN.as_bytes(), "order-select").unwrap_err();
        assert!(e.to_string().contains("order-select"), "{e}");
    }

    #[test]
    fn order_select_needs_selections() {
        let body = MIN.replace("order-sign", "order-select");
        let e = CdsRequest::parse(body.as_bytes(), "order-select").unwrap_err();
        assert_eq!(e, RequestError::Missing("context.selections"));
    }

    #[test]
    fn token_is_never_printed() {
        let auth = FhirAuthorization {
            access_token: "secret-token".into(),
            token_type: None,
            expires_in: None,
            scope: None,
            subject: None,
            patient: None,
        };
        assert!(!format!("{auth:?}").contains("secret"));
    }
}
