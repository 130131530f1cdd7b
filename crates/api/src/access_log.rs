//! The outermost middleware: request ids, W3C trace context, one access event per
//! request, and the HTTP metrics.
//!
//! * A valid incoming `x-request-id` (1 to 128 characters of `[A-Za-z0-9._-]`) is kept,
//!   so a load balancer's or client's id follows the request through our logs; anything
//!   else is replaced by a new UUID. Either way it is echoed in the response.
//! * A valid `traceparent` (W3C Trace Context) has its trace id logged, so our lines can
//!   be joined to a distributed trace.
//! * Every log line of a request carries both, through the request span; after the
//!   response, one event (target `access`) records method, route template, status,
//!   duration, caller id (never the token) and the ids.
//! * A request that drew on a rate-limit budget gets its `RateLimit` fields.

use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use chat_domain::Principal;
use tracing::Instrument;

use crate::rate_limit::RateLimitStatus;

/// `x-request-id`.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// `traceparent` (W3C Trace Context).
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The route label of a request that matched no route (404s, CORS preflights of
/// unknown paths): raw paths never become labels.
pub const UNMATCHED: &str = "unmatched";

/// The id of the request being served, as logged and echoed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Whether an incoming request id is kept: 1 to 128 characters of `[A-Za-z0-9._-]`
/// (nothing that could forge a log line or a header).
pub fn valid_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The trace id of a valid W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), or
/// `None`. Future versions may append fields after a dash; version `ff` is invalid, and
/// so are all-zero trace and parent ids.
pub fn trace_id(traceparent: &str) -> Option<&str> {
    let lower_hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let value = traceparent.trim();
    let (version, rest) = value.split_once('-')?;
    if !lower_hex(version, 2) || version == "ff" {
        return None;
    }
    let mut parts = rest.splitn(4, '-');
    let (trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?);
    let extra = parts.next();
    if version == "00" && extra.is_some() {
        return None;
    }
    let valid = lower_hex(trace, 32)
        && lower_hex(parent, 16)
        && lower_hex(flags, 2)
        && trace.bytes().any(|b| b != b'0')
        && parent.bytes().any(|b| b != b'0');
    valid.then_some(trace)
}

/// The middleware (outermost, so that it also sees CORS refusals and 404s).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let header = |name: &HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok());
    let request_id = header(&REQUEST_ID)
        .filter(|id| valid_request_id(id))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let trace = header(&TRACEPARENT).and_then(trace_id).map(str::to_owned);
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        method = %method,
        target = %crate::redact_query(req.path(), req.query_string()),
        request_id = %request_id,
        trace_id = trace.as_deref(),
    );
    req.extensions_mut().insert(RequestId(request_id.clone()));

    let outcome = next.call(req).instrument(span.clone()).await;

    let elapsed = start.elapsed();
    let (status, route, caller, limit) = match &outcome {
        Ok(res) => {
            let req = res.request();
            let extensions = req.extensions();
            (
                res.status().as_u16(),
                req.match_pattern(),
                extensions.get::<Principal>().copied(),
                extensions.get::<RateLimitStatus>().copied(),
            )
        }
        Err(error) => (error.as_response_error().status_code().as_u16(), None, None, None),
    };
    let route = route.as_deref().unwrap_or(UNMATCHED);
    tracing::info!(
        target: "access",
        parent: &span,
        method = %method,
        route,
        status,
        duration_ms = millis(elapsed),
        caller = caller.map(|c| c.user_id.get()),
        admin = caller.map(|c| c.is_admin()),
        request_id = %request_id,
        trace_id = trace.as_deref(),
        "request"
    );
    crate::metrics::http_request(method.as_str(), route, status, elapsed);

    let mut res = outcome?;
    let headers = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, value);
    }
    // A 429 carries its own fields (the refusal); an accepted request shows what is left.
    if let Some(limit) = limit.filter(|_| !headers.contains_key(crate::rate_limit::RATELIMIT)) {
        for (name, value) in limit.headers() {
            headers.insert(name, value);
        }
    }
    Ok(res)
}

/// Milliseconds with microsecond precision (no float noise in the log line).
pub(crate) fn millis(elapsed: std::time::Duration) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "a request's microseconds are far below 2^52")]
    let micros = elapsed.as_micros() as f64;
    micros / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_only_when_harmless() {
        for id in ["my-trace-123", "a", "A.b_C-9", &"x".repeat(128)] {
            assert!(valid_request_id(id), "{id}");
        }
        for id in ["", &"x".repeat(129), "has space", "new\nline", "quote\"", "semi;colon", "ünïcode", "a/b"] {
            assert!(!valid_request_id(id), "{id:?}");
        }
    }

    #[test]
    fn trace_ids_come_from_valid_traceparents_only() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(trace_id(&format!("00-{trace}-00f067aa0ba902b7-01")), Some(trace));
        assert_eq!(trace_id(&format!("01-{trace}-00f067aa0ba902b7-00-later")), Some(trace), "future versions");
        for bad in [
            format!("00-{trace}-00f067aa0ba902b7-01-extra"),
            format!("ff-{trace}-00f067aa0ba902b7-01"),
            format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)),
            format!("00-{trace}-0000000000000000-01"),
            format!("00-{}-00f067aa0ba902b7-01", trace.to_uppercase()),
            format!("00-{trace}-00f067aa0ba902b7"),
            "garbage".to_owned(),
            String::new(),
        ] {
            assert_eq!(trace_id(&bad), None, "{bad}");
        }
    }
}
