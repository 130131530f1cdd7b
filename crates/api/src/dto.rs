//! HTTP bodies. They are not domain types: requests are parsed into validated domain
//! values with `try_into_domain()`, responses are built from domain entities.

pub mod chat_list;
pub mod direct_messages;
pub mod groups;
pub mod messages;
pub mod notes;
pub mod notifications;
pub mod page;
pub mod personas;
pub mod stats;
pub mod support;
pub mod webhooks;

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

/// The pieces of keyset cursors (`<micros>_<id>`, with a tag where a list has several
/// orders). A cursor is parsed exactly as its documented `pattern` reads, so a value
/// the schema admits never fails to parse for lack of range and a value it refuses is
/// never accepted: digits only (no sign, no spaces), at most 18 so they fit an `i64`.
pub mod cursor {
    use chrono::{DateTime, Utc};

    /// A time in microseconds since the epoch: at most 16 digits, so it stays inside
    /// PostgreSQL's `timestamptz` range (before the year 2287).
    pub const MICROS: &str = "[0-9]{1,16}";
    /// A non-negative id.
    pub const ID: &str = "[0-9]{1,18}";

    /// Reads [`ID`].
    pub fn id(raw: &str) -> Option<i64> {
        (!raw.is_empty() && raw.len() <= 18 && raw.bytes().all(|b| b.is_ascii_digit()))
            .then(|| raw.parse().ok())
            .flatten()
    }

    /// Reads [`MICROS`].
    pub fn micros(raw: &str) -> Option<DateTime<Utc>> {
        if raw.len() > 16 {
            return None;
        }
        DateTime::from_timestamp_micros(id(raw)?)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn reads_exactly_what_the_pattern_admits() {
            assert_eq!(id("0"), Some(0));
            assert_eq!(id("999999999999999999"), Some(999_999_999_999_999_999));
            for bad in ["", "+1", "-1", " 1", "1 ", "1e3", "9999999999999999999", "٣"] {
                assert_eq!(id(bad), None, "{bad:?}");
            }
            assert!(micros("9999999999999999").is_some());
            assert!(micros("1732960000000000").is_some());
            for bad in ["", "-", "-1", "+1", "1.5", "99999999999999999"] {
                assert!(micros(bad).is_none(), "{bad:?}");
            }
        }
    }
}
