//! URLs that the frontend will load or link to.

use super::ValueError;

/// An absolute `https` URL of at most 2048 characters as stored (avatars, images, links).
///
/// The limit applies to the normalized URL, the one that is stored and served:
/// normalization percent-encodes spaces and non-ASCII characters and punycodes hosts, so
/// a URL typed in 2048 characters can grow to several times that. Checking the input
/// instead let such a URL through validation and into the database's length CHECK.
///
/// Plain `http`, `javascript:` and every other scheme are refused, so nothing the
/// frontend renders can downgrade the page or run script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsUrl(String);

impl HttpsUrl {
    /// The longest accepted URL, in characters.
    pub const MAX_CHARS: usize = 2048;

    /// Parses and checks `raw` (surrounding whitespace is trimmed).
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let raw = raw.trim();
        let url = url::Url::parse(raw)
            .map_err(|e| ValueError::new("invalid_url", format!("must be an absolute URL ({e})")))?;
        if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
            return Err(ValueError::new("not_https", "must be an https:// URL with a host"));
        }
        let normalized: String = url.into();
        let count = normalized.chars().count();
        if count > Self::MAX_CHARS {
            return Err(ValueError::new(
                "too_long",
                format!(
                    "must be at most {} characters once normalized (spaces and non-ASCII characters are \
                     percent-encoded; got {count})",
                    Self::MAX_CHARS
                ),
            ));
        }
        Ok(Self(normalized))
    }

    /// The normalized URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalized URL, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn accepts_https_only() {
        assert!(HttpsUrl::parse("https://cdn.example.com/a.png").is_ok());
        for bad in ["http://x.com/a.png", "javascript:alert(1)", "data:text/html,x", "/a.png", "https://"] {
            assert!(HttpsUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_overlong_urls() {
        let long = format!("https://x.com/{}", "a".repeat(2048));
        assert_eq!(HttpsUrl::parse(&long).unwrap_err().code, "too_long");
    }

    #[test]
    fn the_limit_applies_to_the_stored_url_not_the_typed_one() {
        // 2048 characters as typed; each space and accent grows when percent-encoded.
        let prefix = "https://x.com/";
        let typed = format!("{prefix}{}", "é a".repeat((2048 - prefix.len()) / 3));
        assert!(typed.chars().count() <= HttpsUrl::MAX_CHARS);
        let err = HttpsUrl::parse(&typed).unwrap_err();
        assert_eq!(err.code, "too_long");
        // Exactly at the limit once normalized is accepted.
        let exact = format!("{prefix}{}", "a".repeat(HttpsUrl::MAX_CHARS - prefix.len()));
        assert_eq!(HttpsUrl::parse(&exact).unwrap().as_str().len(), HttpsUrl::MAX_CHARS);
    }

    proptest! {
        #[test]
        fn an_accepted_url_never_stores_more_than_the_limit(
            path in "[a-zé %ü/?#=&\\u{4e00}-\\u{4e10}]{0,2100}",
            host in "[a-z]{1,10}|[a-zä]{1,10}",
        ) {
            if let Ok(url) = HttpsUrl::parse(&format!("https://{host}.com/{path}")) {
                prop_assert!(url.as_str().chars().count() <= HttpsUrl::MAX_CHARS);
                prop_assert!(url.as_str().starts_with("https://"));
                // The stored form is a fixed point: parsing it again stores the same URL.
                let again = HttpsUrl::parse(url.as_str());
                prop_assert_eq!(again.as_ref().map(HttpsUrl::as_str), Ok(url.as_str()));
            }
        }
    }
}
