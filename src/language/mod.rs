//! The rule language, in the shape a policy engine keeps it: the syntax knowledge authors
//! write (`syntax`), the compiler that checks it against the knowledge and indexes it
//! (`compile`), the compiled form (`ast`), and the interpreter that evaluates it on a patient's
//! facts and one order (`eval`). Each part has its own tests.
//!
//! A rule (`cds-services/rules/<id>.toml`) has reasons; a reason holds `when` its criterion
//! holds. Criteria: `all`, `any`, `not`, `use` (a named definition of `definitions.toml`), facts
//! of the patient (`age`, `sex`, `condition`, `observation`, `medication`, `immunization`,
//! `planned_immunization`, `unclassified_conditions`, `unidentified_medications`,
//! `record_problems`, `age_unknown`) and of the order under review (`indication`, `dose`,
//! `dose_read`, `dose_unreadable`, `dose_missing`, `ordered_drug`, `new_start`,
//! `weeks_on_drug`, `previously_on_dose`, `days_on_dose`, `order_unreadable`).

pub mod ast;
pub mod compile;
pub mod eval;
pub mod syntax;
