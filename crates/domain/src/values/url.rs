//! URLs that the frontend will load or link to.

use super::ValueError;

/// An absolute `https` URL of at most 2048 characters (avatars, images, links).
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
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(ValueError::new("too_long", format!("must be at most {} characters", Self::MAX_CHARS)));
        }
        let url = url::Url::parse(raw)
            .map_err(|e| ValueError::new("invalid_url", format!("must be an absolute URL ({e})")))?;
        if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
            return Err(ValueError::new("not_https", "must be an https:// URL with a host"));
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
}
