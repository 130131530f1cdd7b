//! Notice styles: a named template's fixed palette, or three custom colours.
//!
//! Colours reach the admin SPA's and the apps' CSS, so they are accepted only in one
//! shape, `#RRGGBB`: no names, no short form, no trailing text (`#fff;x:y`), no trailing
//! newline. The database checks the same shape (`chat_is_hex_colour`).

use crate::values::ValueError;

/// A colour, exactly `#` and six hexadecimal digits (either case, kept as sent).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HexColour(String);

impl HexColour {
    /// Accepts `raw` if and only if it matches `^#[0-9a-fA-F]{6}$` in full (nothing is
    /// trimmed: a trailing newline is refused).
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let valid =
            raw.strip_prefix('#').is_some_and(|hex| hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValueError::new("invalid_colour", "must be a colour in the form #RRGGBB (six hexadecimal digits)"))
        }
    }

    /// The colour, `#RRGGBB`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A palette constant (valid by construction; checked by a test).
    fn fixed(raw: &'static str) -> Self {
        Self(raw.to_owned())
    }
}

/// The three colours of a notice bubble.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Colours {
    /// Bubble background.
    pub background: HexColour,
    /// Text.
    pub text: HexColour,
    /// Bubble border.
    pub border: HexColour,
}

/// The named styles admins pick from; each is a fixed palette.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Template {
    /// Neutral information (blue).
    Info,
    /// Something went well (green).
    Success,
    /// Attention needed (amber).
    Warning,
    /// Offers and news (purple).
    Promo,
}

impl Template {
    /// Every template.
    pub const ALL: [Self; 4] = [Self::Info, Self::Success, Self::Warning, Self::Promo];

    /// The stored and serialized name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Success => "success",
            Self::Warning => "warning",
            Self::Promo => "promo",
        }
    }

    /// Parses a stored name.
    pub fn from_db(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }

    /// The template's fixed colours (background, text, border).
    pub fn colours(self) -> Colours {
        let (background, text, border) = match self {
            Self::Info => ("#f0f9ff", "#0369a1", "#38bdf8"),
            Self::Success => ("#f0fdf4", "#166534", "#4ade80"),
            Self::Warning => ("#fffbeb", "#92400e", "#fbbf24"),
            Self::Promo => ("#faf5ff", "#6b21a8", "#c084fc"),
        };
        Colours {
            background: HexColour::fixed(background),
            text: HexColour::fixed(text),
            border: HexColour::fixed(border),
        }
    }
}

/// How a notice looks: always three colours, and the template they came from, if any.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotificationStyle {
    /// The template, or `None` for custom colours.
    pub template: Option<Template>,
    /// The colours to render.
    pub colours: Colours,
}

impl NotificationStyle {
    /// A template's style.
    pub fn template(template: Template) -> Self {
        Self { template: Some(template), colours: template.colours() }
    }

    /// Custom colours.
    pub const fn custom(colours: Colours) -> Self {
        Self { template: None, colours }
    }
}

impl Default for NotificationStyle {
    /// The `info` template, used when a send names no style.
    fn default() -> Self {
        Self::template(Template::Info)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn reference() -> regex::Regex {
        // The rule as the issue states it; `\z` so that no trailing newline slips through.
        regex::Regex::new(r"\A#[0-9a-fA-F]{6}\z").unwrap()
    }

    #[test]
    fn accepts_six_hex_digits_in_either_case() {
        for ok in ["#000000", "#ffffff", "#FFFFFF", "#0369a1", "#AbCdEf"] {
            assert_eq!(HexColour::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_names_short_forms_injections_and_trailing_newlines() {
        for bad in [
            "red",
            "#fff",
            "#ffffff;x:y",
            "#ffffff\n",
            "\n#ffffff",
            " #ffffff",
            "#ffffff ",
            "#fffffff",
            "#gggggg",
            "ffffff",
            "#",
            "",
            "#ffff\u{0}f",
            "＃ffffff",
            "#ｆｆｆｆｆｆ",
            "#ff ff ff",
        ] {
            let err = HexColour::parse(bad).unwrap_err();
            assert_eq!(err.code, "invalid_colour", "{bad:?}");
        }
    }

    #[test]
    fn every_template_palette_is_valid() {
        for template in Template::ALL {
            let c = template.colours();
            for colour in [c.background, c.text, c.border] {
                assert!(HexColour::parse(colour.as_str()).is_ok(), "{template:?}: {colour:?}");
            }
            assert_eq!(Template::from_db(template.as_str()), Some(template));
        }
        assert_eq!(NotificationStyle::default().template, Some(Template::Info));
    }

    proptest! {
        /// The validator accepts a string if and only if it matches `^#[0-9a-fA-F]{6}$`
        /// with no trailing newline. Strings are drawn both at random and near the
        /// valid shape (so that acceptance is exercised, not only refusal).
        #[test]
        fn accepts_exactly_the_rrggbb_shape(
            raw in prop_oneof![
                any::<String>(),
                "#[0-9a-fA-F]{6}",
                "#[0-9a-fA-F]{6}\n",
                "[#\n ]?[0-9a-fA-FgG#;:]{0,8}[\n ]?",
                "#[0-9a-fA-F\u{80}-\u{10ffff}]{5,7}",
            ]
        ) {
            prop_assert_eq!(HexColour::parse(&raw).is_ok(), reference().is_match(&raw), "{:?}", raw);
        }
    }
}
