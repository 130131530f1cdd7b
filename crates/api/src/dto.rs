//! HTTP bodies. They are not domain types: requests are parsed into validated domain
//! values with `try_into_domain()`, responses are built from domain entities.

pub mod chat_list;
pub mod direct_messages;
pub mod groups;
pub mod messages;
pub mod notifications;
pub mod personas;
pub mod support;

use chat_domain::values::ValueError;

use crate::problem::FieldViolation;

/// Collects the violations of several fields, so one response names all of them.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Parses one field, remembering its violation.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, ValueError>) -> Option<T> {
        parsed.map_err(|e| self.0.push(FieldViolation::new(field, e.code, e.message))).ok()
    }

    /// Records a violation found without a value constructor.
    pub fn push(&mut self, field: &str, code: &'static str, message: &str) {
        self.0.push(FieldViolation::new(field, code, message));
    }

    /// Parses an optional field.
    pub fn check_opt<T>(
        &mut self,
        field: &str,
        raw: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, ValueError>,
    ) -> Option<Option<T>> {
        match raw {
            None => Some(None),
            Some(raw) => self.check(field, parse(raw)).map(Some),
        }
    }

    /// `Ok(value)` when no field was invalid.
    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, crate::problem::ApiError> {
        if self.0.is_empty() {
            value().ok_or_else(|| crate::problem::ApiError::Internal("validated value missing".into()))
        } else {
            Err(crate::problem::ApiError::Validation(self.0))
        }
    }
}
