//! Request extractors that turn every malformed input into a precise problem document.
//!
//! actix-web's own `Json` cannot name the field behind a type error, so bodies go
//! through [`ApiJson`], which parses with `serde_path_to_error`: a syntax error is a 400,
//! a missing, unknown or wrongly typed field is a 422 naming that field. The whole body
//! must arrive within [`ApiSettings::body_timeout`](crate::ApiSettings::body_timeout),
//! else 408 and the connection is closed: actix-web's own request timeout covers only
//! the head, so without this a body sent a byte a second would hold its connection for
//! ever.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::PathError;
use actix_web::http::header;
use actix_web::web::{self, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use chat_domain::MessageId;
use chat_domain::conversations::HistoryQuery;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::dto::messages::{HistoryParams, ReadRequest};
use crate::problem::{ApiError, FieldViolation};
use crate::state::{AppState, DEFAULT_BODY_TIMEOUT};

/// The largest JSON body accepted, in bytes. The biggest legitimate body (a notification
/// to 10,000 user ids) fits with room to spare; actix-web's default is 2 MiB.
pub const JSON_LIMIT: usize = 256 * 1024;

/// A JSON request body, strictly parsed.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON));
        let declared_len = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let deadline =
            req.app_data::<web::Data<AppState>>().map_or(DEFAULT_BODY_TIMEOUT, |state| state.settings.body_timeout);
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            if declared_len.is_some_and(|len| len > JSON_LIMIT) {
                return Err(ApiError::PayloadTooLarge { limit: JSON_LIMIT });
            }
            let read = async {
                let mut body = BytesMut::new();
                while let Some(chunk) = payload.next().await {
                    let chunk = chunk.map_err(|e| ApiError::BadRequest {
                        code: "unreadable_body",
                        detail: format!("The request body could not be read: {e}"),
                    })?;
                    if body.len() + chunk.len() > JSON_LIMIT {
                        return Err(ApiError::PayloadTooLarge { limit: JSON_LIMIT });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(body)
            };
            let body = tokio::time::timeout(deadline, read)
                .await
                .map_err(|_| ApiError::RequestTimeout { after: deadline })??;
            parse_json(&body).map(ApiJson)
        })
    }
}

/// Parses a JSON request body (REST or WebSocket frame), naming the offending field on a
/// type or shape error.
///
/// Two rules hold for every body, here and nowhere else:
/// - the document is a JSON object: serde would otherwise read a struct from an array
///   (`["text", null]` as a positional body), which no documented schema allows;
/// - a number with a zero fraction (`42.0`) is the integer it equals, as in JSON Schema,
///   where `type: integer` admits it; a generated client may well send one (within
///   ±2^53, where a float is exact).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let malformed = |e: serde_json::Error| ApiError::BadRequest {
        code: "malformed_json",
        detail: format!("The request body is not valid JSON: {e}"),
    };
    let StrictValue(value) = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_data() { field_error(&path, &inner.to_string()) } else { malformed(inner) }
    })?;
    de.end().map_err(malformed)?;
    parse_value(value)
}

/// [`parse_json`] for a document already parsed strictly (a WebSocket frame read once
/// for its `type`).
pub fn parse_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    let found = match &value {
        serde_json::Value::Object(_) => None,
        serde_json::Value::Array(_) => Some("an array"),
        serde_json::Value::String(_) => Some("a string"),
        serde_json::Value::Number(_) => Some("a number"),
        serde_json::Value::Bool(_) => Some("a boolean"),
        serde_json::Value::Null => Some("null"),
    };
    if let Some(found) = found {
        return Err(ApiError::Validation(vec![FieldViolation::new(
            "(body)",
            "invalid_type",
            format!("expected a JSON object, found {found}"),
        )]));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        field_error(&path, &e.into_inner().to_string())
    })
}

/// A JSON document read strictly: a repeated object key is refused (`serde_json::Value`
/// would keep the last one silently, so two readers could see two bodies), and a
/// number with a zero fraction within ±2^53 becomes that integer.
#[derive(Debug)]
pub struct StrictValue(pub serde_json::Value);

impl<'de> serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // Only where a float holds every integer exactly (|v| <= 2^53): beyond, `v` may be
        // a larger integer literal rounded, which must stay out of range, not be clamped.
        const EXACT: f64 = 9_007_199_254_740_992.0;
        if v.fract() == 0.0 && v.abs() <= EXACT {
            #[expect(clippy::cast_possible_truncation, reason = "integral and in range, checked above")]
            return Ok((v as i64).into());
        }
        Ok(serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, serde_json::Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(items.into())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let StrictValue(value) = map.next_value()?;
            if fields.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!("duplicate field `{key}`")));
            }
            fields.insert(key, value);
        }
        Ok(fields.into())
    }
}

/// Turns serde's message into a violation of the right field.
///
/// serde reports a missing or unknown field at the path of the enclosing object, with
/// the field's name in the message; those are moved down to the field itself.
fn field_error(path: &str, message: &str) -> ApiError {
    let message = message.split(" at line ").next().unwrap_or(message).to_owned();
    let named = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(|name| if path == "." { name.to_owned() } else { format!("{path}.{name}") })
    };
    let (field, code) = if let Some(field) = named("missing field `") {
        (field, "required")
    } else if let Some(field) = named("duplicate field `") {
        (field, "duplicate_field")
    } else if message.starts_with("unknown field `") {
        // Here serde_path_to_error's path already ends with the unknown field.
        (path.to_owned(), "unknown_field")
    } else {
        let field = if path == "." { String::from("(body)") } else { path.to_owned() };
        (field, "invalid_type")
    };
    ApiError::Validation(vec![FieldViolation::new(field, code, message)])
}

/// A query string, strictly parsed: a bad or unknown parameter is a 422 naming it.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(req.query_string().as_bytes()));
        let parsed = serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| {
            let path = e.path().to_string();
            field_error(&path, &e.into_inner().to_string())
        });
        std::future::ready(parsed)
    }
}

/// A request (body or query string) that becomes a validated domain value, or a 422
/// naming each invalid field. The socket validates its frames with the same methods.
pub trait Validated: DeserializeOwned {
    /// What the request means to the domain.
    type Domain;
    /// Validates every field.
    fn validated(self) -> Result<Self::Domain, ApiError>;
}

/// A JSON body, strictly parsed (see [`ApiJson`]) and validated into its domain value.
pub struct Valid<T: Validated>(pub T::Domain);

impl<T: Validated> std::fmt::Debug for Valid<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Valid").field(&std::any::type_name::<T>()).finish()
    }
}

impl<T: Validated + 'static> FromRequest for Valid<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = ApiJson::<T>::from_request(req, payload);
        Box::pin(async move { body.await?.0.validated().map(Valid) })
    }
}

/// A query string, strictly parsed (see [`ApiQuery`]) and validated into its domain value.
pub struct ValidQuery<T: Validated>(pub T::Domain);

impl<T: Validated> std::fmt::Debug for ValidQuery<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ValidQuery").field(&std::any::type_name::<T>()).finish()
    }
}

impl<T: Validated> FromRequest for ValidQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let parsed = ApiQuery::<T>::from_request(req, payload).into_inner();
        std::future::ready(parsed.and_then(|ApiQuery(query)| query.validated()).map(ValidQuery))
    }
}

/// A path id, parsed strictly into the domain's newtype: decimal digits only, no sign,
/// no leading zero, in range. Anything else names nothing that exists, so it is the
/// same 404 as a missing id (`+1` is not id 1).
#[derive(Debug, Clone, Copy)]
pub struct PathId<T>(pub T);

/// A domain id that can come from a path segment.
pub trait FromPathSegment: Sized {
    /// The id spelled canonically by `raw`, if it is one.
    fn from_segment(raw: &str) -> Option<Self>;
}

/// Whether `raw` is a canonical decimal number (`0`, or digits without a leading zero).
fn canonical_digits(raw: &str) -> bool {
    !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) && (raw == "0" || !raw.starts_with('0'))
}

macro_rules! path_ids {
    ($($id:ty),*) => {$(
        impl FromPathSegment for $id {
            fn from_segment(raw: &str) -> Option<Self> {
                canonical_digits(raw).then(|| raw.parse().ok().map(Self)).flatten()
            }
        }
    )*};
}

path_ids!(
    chat_domain::ConversationId,
    MessageId,
    chat_domain::UserId,
    chat_domain::PersonaId,
    chat_domain::GroupId,
    chat_domain::notifications::NotificationId,
    chat_domain::webhooks::DeliveryId
);

impl<T: FromPathSegment> FromRequest for PathId<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    /// Reads the route's only path parameter.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = req.match_info().iter().next().and_then(|(_, raw)| T::from_segment(raw));
        std::future::ready(id.map(PathId).ok_or(ApiError::NotFound))
    }
}

/// A history read: the conversation's (or group's) id from the path, as [`PathId`] reads
/// it (404 first), and the slice from the query string, validated (`before`, `after`,
/// `limit`; 422 naming the parameter). Every history route of every door takes it.
#[derive(Debug, Clone, Copy)]
pub struct History<T>(pub T, pub HistoryQuery);

impl<T: FromPathSegment> FromRequest for History<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = PathId::<T>::from_request(req, payload).into_inner().and_then(|PathId(id)| {
            let ValidQuery(query) = ValidQuery::<HistoryParams>::from_request(req, payload).into_inner()?;
            Ok(Self(id, query))
        });
        std::future::ready(read)
    }
}

/// A read mark: the conversation's id from the path, as [`PathId`] reads it (404 first),
/// and the newest message seen from the JSON body ([`Valid`] of `ReadRequest`). Every
/// read route with a path id takes it.
#[derive(Debug, Clone, Copy)]
pub struct ReadUpTo<T>(pub T, pub MessageId);

impl<T: FromPathSegment + 'static> FromRequest for ReadUpTo<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let id = PathId::<T>::from_request(req, payload).into_inner();
        let body = Valid::<ReadRequest>::from_request(req, payload);
        Box::pin(async move {
            let PathId(id) = id?;
            let Valid(upto) = body.await?;
            Ok(Self(id, upto))
        })
    }
}

/// Path parameters that do not parse (a non-numeric id) name nothing that exists.
pub fn path_error(_err: PathError, _req: &HttpRequest) -> actix_web::Error {
    ApiError::NotFound.into()
}

/// Registers the error handler of actix-web's own `Path` (routes use [`PathId`]; a
/// query string always goes through [`ApiQuery`], whose errors are 422s naming the
/// parameter).
pub fn configure_extractors(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PathConfig::default().error_handler(path_error));
}

/// `Option<Option<T>>` from JSON: absent is `None`, `null` is `Some(None)`.
pub fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(de).map(Some)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[expect(dead_code, reason = "fields are only deserialized")]
    struct Body {
        content: String,
        user_ids: Vec<i32>,
    }

    fn violation(body: &str) -> FieldViolation {
        match parse_json::<Body>(body.as_bytes()) {
            Err(ApiError::Validation(v)) => v.into_iter().next().unwrap(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn names_missing_unknown_and_mistyped_fields() {
        assert_eq!(violation(r#"{"userIds": []}"#).field, "content");
        assert_eq!(violation(r#"{"userIds": []}"#).code, "required");
        assert_eq!(violation(r#"{"content": "x", "userIds": [], "extra": 1}"#).field, "extra");
        assert_eq!(violation(r#"{"content": 5, "userIds": []}"#).field, "content");
        assert_eq!(violation(r#"{"content": "x", "userIds": [1, "a"]}"#).field, "userIds[1]");
        assert_eq!(violation("[]").field, "(body)");
    }

    #[test]
    fn path_ids_are_canonical_decimal_numbers() {
        use chat_domain::{ConversationId, UserId};
        assert_eq!(ConversationId::from_segment("42"), Some(ConversationId(42)));
        assert_eq!(ConversationId::from_segment("0"), Some(ConversationId(0)));
        for raw in ["+1", "-1", "01", "1.0", "", " 1", "1e3", "99999999999999999999"] {
            assert_eq!(ConversationId::from_segment(raw), None, "{raw:?}");
        }
        assert_eq!(UserId::from_segment("2147483648"), None, "out of range for the id");
    }

    #[test]
    fn only_objects_are_bodies() {
        for body in [r#"["x", [1]]"#, "[]", r#""x""#, "5", "true", "null"] {
            let v = violation(body);
            assert_eq!((v.field.as_str(), v.code.as_ref()), ("(body)", "invalid_type"), "{body}");
        }
    }

    #[test]
    fn repeated_keys_are_refused() {
        let v = violation(r#"{"content": "a", "userIds": [], "content": "b"}"#);
        assert_eq!((v.field.as_str(), v.code.as_ref()), ("content", "duplicate_field"));
    }

    #[test]
    fn integral_floats_are_integers() {
        #[derive(Debug, Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Ids {
            id: i64,
            user_ids: Vec<i32>,
        }
        let ids: Ids = parse_json(br#"{"id": 78803.0, "userIds": [1.0, -2e0]}"#).expect("integral floats");
        assert_eq!((ids.id, ids.user_ids), (78803, vec![1, -2]));
        // Read exactly (serde_json's `float_roundtrip`): the fast float parser read this one
        // as 2251799813685247.2 and refused it (schemathesis found it).
        let ids: Ids = parse_json(br#"{"id": 2251799813685247.0, "userIds": []}"#).expect("an exact integral float");
        assert_eq!(ids.id, 2_251_799_813_685_247);
        let v = match parse_json::<Ids>(br#"{"id": 1.5, "userIds": []}"#) {
            Err(ApiError::Validation(v)) => v.into_iter().next().unwrap(),
            other => panic!("expected a validation error, got {other:?}"),
        };
        assert_eq!((v.field.as_str(), v.code.as_ref()), ("id", "invalid_type"));
        // A literal past i64 read as a float rounds to i64::MIN; it must not be accepted as it.
        assert!(parse_json::<Ids>(br#"{"id": -9223372036854775809, "userIds": []}"#).is_err());
        assert!(parse_json::<Ids>(br#"{"id": 1e300, "userIds": []}"#).is_err());
    }

    #[test]
    fn syntax_errors_are_bad_requests() {
        for body in ["{", "{\"content\": }", "", r#"{"content": "x", "userIds": []} {}"#] {
            assert!(
                matches!(parse_json::<Body>(body.as_bytes()), Err(ApiError::BadRequest { code: "malformed_json", .. })),
                "{body:?}"
            );
        }
    }
}
