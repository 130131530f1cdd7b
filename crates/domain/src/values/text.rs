//! Free text fields: message content, persona names and bios.
//!
//! Text is stored as sent (the frontend escapes it), trimmed, and free of control
//! characters. Line feeds and tabs are allowed where multi-line text makes sense
//! (messages, bios); a carriage return is normalized to a line feed.

use super::ValueError;

/// Checks length (in Unicode scalar values) and control characters of trimmed text.
///
/// Control characters are looked for before trimming, so a value is refused or accepted
/// whatever surrounds it (a trailing vertical tab is refused as one in the middle is),
/// exactly as the OpenAPI `pattern` of these fields reads.
pub(crate) fn clean(raw: &str, max_chars: usize, multiline: bool) -> Result<String, ValueError> {
    let normalized = raw.replace("\r\n", "\n").replace('\r', "\n");
    let allowed = |c: char| multiline && (c == '\n' || c == '\t');
    if let Some(bad) = normalized.chars().find(|&c| c.is_control() && !allowed(c)) {
        return Err(ValueError::new(
            "control_character",
            format!("must not contain control characters (found U+{:04X})", u32::from(bad)),
        ));
    }
    let text = normalized.trim();
    if text.is_empty() {
        return Err(ValueError::new("empty", "must not be empty or only whitespace"));
    }
    let count = text.chars().count();
    if count > max_chars {
        return Err(ValueError::new("too_long", format!("must be at most {max_chars} characters (got {count})")));
    }
    Ok(text.to_owned())
}

/// Declares a validated text newtype (used across the crate).
macro_rules! text_value {
    ($(#[$meta:meta])* $name:ident, max = $max:expr, multiline = $multiline:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// The longest accepted value, in characters.
            pub const MAX_CHARS: usize = $max;

            /// Trims and validates `raw`.
            pub fn parse(raw: &str) -> Result<Self, $crate::values::ValueError> {
                $crate::values::clean_text(raw, $max, $multiline).map(Self)
            }

            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The validated text, owned.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

pub(crate) use text_value;

text_value!(
    /// The content of a message: 1..=4000 characters, trimmed, multi-line allowed.
    MessageContent, max = 4000, multiline = true
);
text_value!(
    /// A persona's display name: 1..=64 characters on one line.
    PersonaName, max = 64, multiline = false
);
text_value!(
    /// A persona's short biography: 1..=500 characters.
    Bio, max = 500, multiline = true
);

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn content_is_trimmed_and_kept_as_sent() {
        let c = MessageContent::parse("  <b>hi</b> & bye \n").unwrap();
        assert_eq!(c.as_str(), "<b>hi</b> & bye");
    }

    #[test]
    fn empty_and_blank_content_are_rejected() {
        for raw in ["", "   ", "\n\t "] {
            assert_eq!(MessageContent::parse(raw).unwrap_err().code, "empty", "{raw:?}");
        }
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let max = "é".repeat(4000);
        assert!(MessageContent::parse(&max).is_ok());
        let over = "é".repeat(4001);
        assert_eq!(MessageContent::parse(&over).unwrap_err().code, "too_long");
    }

    #[test]
    fn control_characters_are_rejected_but_newlines_allowed_in_messages() {
        assert_eq!(MessageContent::parse("a\0b").unwrap_err().code, "control_character");
        assert_eq!(MessageContent::parse("a\u{7}b").unwrap_err().code, "control_character");
        assert_eq!(MessageContent::parse("line\r\nnext").unwrap().as_str(), "line\nnext");
        assert_eq!(PersonaName::parse("a\nb").unwrap_err().code, "control_character");
    }

    proptest! {
        #[test]
        fn accepted_content_is_always_trimmed_bounded_and_clean(raw in "\\PC{0,50}|[\\x00-\\x1f a-z]{0,20}") {
            if let Ok(c) = MessageContent::parse(&raw) {
                let s = c.as_str();
                prop_assert_eq!(s, s.trim());
                prop_assert!(!s.is_empty());
                prop_assert!(s.chars().count() <= MessageContent::MAX_CHARS);
                prop_assert!(s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t'));
            }
        }
    }
}
