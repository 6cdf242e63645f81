//! CDS Hooks 2.0 on the wire: what EHRs send and what they receive. No clinical knowledge here.

pub mod feedback;
pub mod request;
pub mod response;

pub use feedback::{Feedback, Outcome, parse_feedback};
pub use request::{CdsRequest, FhirAuthorization, OrderContext, PrefetchValue, RequestError, SplitBundle};
pub use response::*;
