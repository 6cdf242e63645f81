//! One module per endpoint; `super::routes` lists their URLs.

pub(super) mod discovery;
pub(super) mod fallback;
pub(super) mod feedback;
pub(super) mod matrix;
pub(super) mod ops;
pub(super) mod rules;
pub(super) mod service;
