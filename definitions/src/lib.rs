//! utfall's definition language (issue 17): the pieces a study, a model or an
//! indicator is written in, in TOML, checked against the register schema and
//! compiled to polars plans, so that a new definition needs no Rust.
//!
//! - [`window`]: intervals relative to an index date, `[-12m, 0)`, `[0, 24m]`.
//! - [`cohort`]: an entry event from any register table (filters, age and
//!   period at the index date, first or every entry), criteria on what is
//!   known at the index date, variables and outcomes, and the attrition.
//! - [`variable`]: a value per client and index date, an aggregate over a
//!   register table in a window (`count`, `sum`, `any`, `months_with`,
//!   `days_since`, `latest`) or a client attribute, with filters.
//!
//! Point-in-time correct by construction: a variable checked as
//! [`Role::Known`] (a covariate, a model feature, a fairness group) may look
//! only at days on or before the index date; a spec whose window reaches past
//! it is refused with the field named. The register records no date of
//! recording yet, so a row counts as known on its own date.

pub mod cohort;
pub mod variable;
pub mod window;

#[cfg(test)]
mod hand_tests;

pub use cohort::{Cohort, CohortSpec, Members};
pub use variable::{Aggregate, Role, Variable, VariableSpec, compute};
pub use window::{Offset, Window};

/// A definition that does not hold: the field (`variable 'x'.window`) and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct DefinitionError {
    pub field: String,
    pub message: String,
}
