//! Validated values: private fields, fallible constructors.
//!
//! A handler parses each request field into one of these before any rule runs, so a bad
//! field is rejected (and named) before anything is read or stored.

mod text;
mod url;

pub use self::text::{Bio, MessageContent, PersonaName};
pub(crate) use self::text::{clean as clean_text, text_value};
pub use self::url::HttpsUrl;

/// Why a value was rejected. The API attaches the field name and answers 422.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValueError {
    /// A stable machine code, e.g. `too_long`.
    pub code: &'static str,
    /// A human explanation, safe to show to the caller.
    pub message: String,
}

impl ValueError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}
