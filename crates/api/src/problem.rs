//! Error policy: every failure leaves the API as RFC 9457 `application/problem+json`.
//!
//! * Each domain error is mapped to one [`ApiError`] variant, once, in the handler's
//!   module; this module maps each variant to one status and one stable `code`.
//! * A foreign id and a missing id are both [`ApiError::NotFound`], whose body carries
//!   nothing variable: the two answers are byte-identical.
//! * Validation failures name every bad field (`errors[].field`, a JSON path).
//! * The cause of a 500 is logged with the request's span and never sent; a database
//!   outage is a 503 with `Retry-After`.

use std::borrow::Cow;
use std::error::Error as StdError;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use chat_domain::{AdminError, RepoError};
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "type": "urn:chat:problem:validation_failed",
    "title": "Unprocessable Entity",
    "status": 422,
    "detail": "One or more fields are invalid.",
    "code": "validation_failed",
    "errors": [{"field": "content", "code": "too_long", "message": "must be at most 4000 characters (got 4001)"}]
}))]
pub struct Problem {
    /// A URI naming the problem type: `urn:chat:problem:{code}`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// The HTTP reason phrase of `status`.
    pub title: Cow<'static, str>,
    /// The HTTP status code.
    pub status: u16,
    /// A human explanation, safe to show.
    pub detail: Cow<'static, str>,
    /// A stable machine code; clients branch on this, never on `detail`.
    pub code: Cow<'static, str>,
    /// For validation failures: each bad field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldViolation>,
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldViolation {
    /// The field's path in the request, e.g. `content` or `userIds[3]`.
    #[schema(example = "content")]
    pub field: String,
    /// A stable code for the rule broken, e.g. `too_long`, `required`, `invalid_type`.
    #[schema(example = "too_long")]
    pub code: Cow<'static, str>,
    /// A human explanation.
    #[schema(example = "must be at most 4000 characters (got 4001)")]
    pub message: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self { field: field.into(), code: code.into(), message: message.into() }
    }
}

/// The caller is not an admin (403 `admin_only`), on either door.
pub const ADMIN_ONLY: ApiError = ApiError::Forbidden { code: "admin_only", detail: "This request is for admins only." };

/// A `clientMessageId` already used by someone else in the conversation (409).
pub const CLIENT_ID_REUSED: ApiError = ApiError::Conflict {
    code: "client_message_id_reused",
    detail: "This clientMessageId is already used by another sender in this conversation; use a fresh UUID.",
};

/// The caller reused one of their `clientMessageId`s for a different message (409), as
/// with Stripe's idempotency keys: a retry must repeat its request exactly.
pub const IDEMPOTENCY_KEY_REUSED: ApiError = ApiError::Conflict {
    code: "idempotency_key_reused",
    detail: "This clientMessageId was already used for a different message; a retry must send the same message.",
};

/// Every error the API answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing, malformed, expired or otherwise unacceptable credentials (401).
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// Authenticated, but not allowed (403), with its own code.
    #[error("forbidden: {detail}")]
    Forbidden {
        /// Stable code.
        code: &'static str,
        /// Explanation.
        detail: &'static str,
    },
    /// Nothing here for the caller: missing and foreign ids alike (404).
    #[error("not found")]
    NotFound,
    /// The method is not defined for this path (405).
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The methods the path does support, for the `Allow` header.
        allow: String,
    },
    /// A well-formed request that breaks a rule of the current state (409).
    #[error("conflict: {detail}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Explanation.
        detail: &'static str,
    },
    /// The body is not valid JSON, or a query string is malformed (400).
    #[error("bad request: {detail}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// Explanation (parser messages name a line and column, never internal state).
        detail: String,
    },
    /// The body exceeds the size limit (413).
    #[error("payload too large")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body did not arrive within the body deadline (408); the connection is closed.
    #[error("request timeout")]
    RequestTimeout {
        /// The deadline.
        after: std::time::Duration,
    },
    /// The body is not `application/json` (415).
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// Fields that are present but invalid (422).
    #[error("validation failed")]
    Validation(Vec<FieldViolation>),
    /// The caller spent its budget for this kind of request: retry after the wait (429).
    #[error("rate limited: {} budget", .0.budget.name())]
    RateLimited(crate::rate_limit::RateLimitStatus),
    /// The database is unreachable: retry later (503).
    #[error("service unavailable")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
    /// A bug: logged, answered opaquely (500).
    #[error("internal error")]
    Internal(#[source] Box<dyn StdError + Send + Sync>),
}

impl ApiError {
    /// A single invalid field (422).
    pub fn invalid(field: impl Into<String>, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldViolation::new(field, code, message)])
    }

    fn code(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden { code, .. } | Self::Conflict { code, .. } | Self::BadRequest { code, .. } => code,
            Self::NotFound => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::RequestTimeout { .. } => "request_timeout",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Validation(_) => "validation_failed",
            Self::RateLimited(_) => "rate_limited",
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal_error",
        })
    }

    fn detail(&self) -> Cow<'static, str> {
        match self {
            Self::Unauthorized(why) => Cow::Borrowed(why),
            Self::Forbidden { detail, .. } | Self::Conflict { detail, .. } => Cow::Borrowed(detail),
            Self::NotFound => Cow::Borrowed("The requested resource does not exist."),
            Self::MethodNotAllowed { .. } => Cow::Borrowed("This method is not supported for this path."),
            Self::BadRequest { detail, .. } => Cow::Owned(detail.clone()),
            Self::PayloadTooLarge { limit } => Cow::Owned(format!("The request body exceeds {limit} bytes.")),
            Self::RequestTimeout { after } => {
                Cow::Owned(format!("The request body did not arrive within {} ms.", after.as_millis()))
            }
            Self::UnsupportedMediaType => Cow::Borrowed("The request body must be application/json."),
            Self::Validation(_) => Cow::Borrowed("One or more fields are invalid."),
            Self::RateLimited(status) => Cow::Owned(format!(
                "Too many requests of this kind ({}); retry in {} s.",
                status.budget.name(),
                status.retry_after_secs()
            )),
            Self::Unavailable(_) => Cow::Borrowed("The service is temporarily unavailable; retry shortly."),
            Self::Internal(_) => Cow::Borrowed("An unexpected error occurred."),
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let code = self.code();
        Problem {
            type_uri: format!("urn:chat:problem:{code}"),
            title: Cow::Borrowed(status.canonical_reason().unwrap_or("Error")),
            status: status.as_u16(),
            detail: self.detail(),
            code,
            errors: match self {
                Self::Validation(violations) => violations.clone(),
                _ => Vec::new(),
            },
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Forbidden => ADMIN_ONLY,
            AdminError::NotFound => Self::NotFound,
            AdminError::Repo(e) => e.into(),
        }
    }
}

impl From<RepoError> for ApiError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::Unavailable(cause) => Self::Unavailable(cause),
            RepoError::Internal(cause) => Self::Internal(cause),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(cause) => tracing::error!(error = %cause, source = ?cause.source(), "internal error"),
            // The store logs an outage once when it starts and once when it ends (and
            // counts every 503 in the metrics), not once per refused request.
            Self::Unavailable(cause) => tracing::debug!(error = %cause, "database unavailable"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        match self {
            Self::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            Self::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("2")));
            }
            Self::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, allow.as_str()));
            }
            Self::RateLimited(status) => {
                response.insert_header((header::RETRY_AFTER, status.retry_after_secs()));
                for field in status.headers() {
                    response.insert_header(field);
                }
            }
            // The rest of a trickled body is not worth reading: the connection ends here.
            Self::RequestTimeout { .. } => {
                response.force_close();
            }
            _ => {}
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        response.body(body)
    }
}
