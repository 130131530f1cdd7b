//! URLs that the frontend will load or link to.

use std::sync::LazyLock;

use super::ValueError;

/// An absolute `https` URL of a documented shape (avatars, images, links), stored
/// normalized in at most 2048 characters.
///
/// The shape is [`HttpsUrl::PATTERN`], which the OpenAPI document publishes, so a
/// client can check a URL before sending it: an ASCII host name (letters, digits and
/// single hyphens; IDN hosts in punycode are refused along with `xn--` labels, which
/// keeps look-alike hosts out of links), an optional port, then a path, query and
/// fragment of characters that need no percent-encoding (a browser's address bar copies
/// non-ASCII characters and spaces percent-encoded). Normalization then only lowercases
/// the host, drops a default port and adds the `/` of an empty path, so the stored URL
/// is at most one character longer than the sent one, and a URL of at most
/// [`HttpsUrl::MAX_SENT_CHARS`] always fits.
///
/// Plain `http`, `javascript:` and every other scheme are refused, so nothing the
/// frontend renders can downgrade the page or run script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsUrl(String);

/// [`HttpsUrl::PATTERN`], compiled.
static SHAPE: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(HttpsUrl::PATTERN).expect("HttpsUrl::PATTERN is a valid regex"));

impl HttpsUrl {
    /// The longest stored URL, in characters.
    pub const MAX_CHARS: usize = 2048;

    /// The longest accepted URL as sent, in characters.
    pub const MAX_SENT_CHARS: usize = Self::MAX_CHARS - 1;

    /// The accepted shape, in the common subset of ECMA-262 and Rust regex syntax.
    pub const PATTERN: &str = concat!(
        r"^https://([A-Za-z0-9]+(-[A-Za-z0-9]+)*\.)*[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*(:[0-9]{1,4})?",
        r"(/[A-Za-z0-9._~!$&()*+,;=:@/?#%-]*)?$",
    );

    /// Parses and checks `raw`, as sent (no surrounding whitespace).
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let url = url::Url::parse(raw)
            .map_err(|e| ValueError::new("invalid_url", format!("must be an absolute URL ({e})")))?;
        if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
            return Err(ValueError::new("not_https", "must be an https:// URL with a host"));
        }
        if !SHAPE.is_match(raw) {
            return Err(ValueError::new(
                "invalid_url",
                "must be an ASCII host name (IDN in punycode is not accepted) with an optional port and a path \
                 without spaces or characters that need percent-encoding",
            ));
        }
        let count = raw.chars().count();
        if count > Self::MAX_SENT_CHARS {
            return Err(ValueError::new(
                "too_long",
                format!("must be at most {} characters (got {count})", Self::MAX_SENT_CHARS),
            ));
        }
        Ok(Self(url.into()))
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
    fn only_the_documented_shape_is_accepted() {
        for ok in [
            "https://cdn.example.com/a.png",
            "https://CDN.Example.com:8443/a%20b.png?x=1&y=%C3%A9#top",
            "https://localhost",
        ] {
            assert!(HttpsUrl::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            " https://x.com/a.png",
            "https://x.com/a b.png",
            "https://x.com/é",
            "https://münchen.de/",
            "https://xn--mnchen-3ya.de/",
            "https://1.2.3.4/a.png",
            "https://user:pw@x.com/",
            "https://x.com:99999/",
            "https://x..com/",
        ] {
            assert_eq!(HttpsUrl::parse(bad).unwrap_err().code, "invalid_url", "{bad}");
        }
    }

    #[test]
    fn the_stored_url_is_at_most_one_character_longer_than_the_sent_one() {
        let prefix = "https://x.com/";
        let at_limit = format!("{prefix}{}", "a".repeat(HttpsUrl::MAX_SENT_CHARS - prefix.len()));
        assert_eq!(HttpsUrl::parse(&at_limit).unwrap().as_str(), at_limit);
        let host_only = format!("https://{}", "a".repeat(HttpsUrl::MAX_SENT_CHARS - "https://".len()));
        assert_eq!(HttpsUrl::parse(&host_only).unwrap().as_str().len(), HttpsUrl::MAX_CHARS);
        let over = format!("{at_limit}a");
        assert_eq!(HttpsUrl::parse(&over).unwrap_err().code, "too_long");
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
