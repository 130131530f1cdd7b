//! The REST API (actix-web), documented with utoipa.
//!
//! Handlers parse requests into validated domain values, run one use case through the
//! [`Store`](chat_domain::store::Store) port, and map its outcome to a response. This
//! crate depends on the domain, never on the database adapter: the composition root
//! (`chat-server`) hands it a store.

pub mod access_log;
pub mod auth;
pub mod dto;
pub mod extract;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod rate_limit;
pub mod realtime;
mod routes;
pub mod send_trace;
pub mod state;

use std::sync::Arc;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName};
use actix_web::middleware::{Compat, from_fn};
use actix_web::{App, HttpRequest, web};
use utoipa::OpenApi as _;
use utoipa_actix_web::{AppExt, UtoipaApp};
use utoipa_swagger_ui::SwaggerUi;

use crate::openapi::{ApiDoc, RouteTable};
use crate::problem::ApiError;
pub use crate::state::{ApiSettings, AppState};

fn documented_app() -> UtoipaApp<
    impl ServiceFactory<ServiceRequest, Config = (), Response = ServiceResponse, Error = actix_web::Error, InitError = ()>,
> {
    App::new().into_utoipa_app().openapi(ApiDoc::openapi()).configure(routes::configure)
}

/// The OpenAPI document of every route, as committed in `openapi/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut api = documented_app().split_for_parts().1;
    openapi::finish(&mut api);
    api
}

/// The OpenAPI document as pretty JSON with a trailing newline (the committed form).
pub fn openapi_json() -> String {
    let mut json = serde_json::to_string_pretty(&openapi::document(&openapi())).unwrap_or_default();
    json.push('\n');
    json
}

/// The whole application: routes, docs UI, error handling, CORS, request ids, access
/// log and HTTP metrics.
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, mut api) = documented_app().split_for_parts();
    openapi::finish(&mut api);
    let routes = Arc::new(RouteTable::from_openapi(&api));
    let cors = cors(&state.settings.cors_allowed_origins);
    app.app_data(web::Data::new(state))
        .configure(extract::configure_extractors)
        .service(swagger_ui(&api))
        .route(
            "/docs",
            web::get().to(|| async {
                actix_web::HttpResponse::PermanentRedirect().insert_header((header::LOCATION, "/docs/")).finish()
            }),
        )
        .default_service(web::to(move |req: HttpRequest| {
            let routes = Arc::clone(&routes);
            async move {
                Err::<actix_web::HttpResponse, _>(match routes.allowed(req.path()) {
                    Some(allow) => ApiError::MethodNotAllowed { allow },
                    None => ApiError::NotFound,
                })
            }
        }))
        .wrap(Compat::new(cors))
        .wrap(from_fn(access_log::observe))
}

/// Swagger UI at `/docs/`, fully offline: its default validator would send the spec's
/// URL to validator.swagger.io from any page not served on localhost.
fn swagger_ui(api: &utoipa::openapi::OpenApi) -> SwaggerUi {
    SwaggerUi::new("/docs/{_:.*}")
        .external_url_unchecked("/api-docs/openapi.json", openapi::document(api))
        .config(utoipa_swagger_ui::Config::default().validator_url("none"))
}

/// `path?query` with the value of every `access_token` replaced (for the request span:
/// a browser's WebSocket token travels as `?access_token=`, and must never reach a log
/// line). Keys are compared
/// decoded, as the socket's token lookup reads them (`access%5Ftoken` is the same key).
pub fn redact_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        return path.to_owned();
    }
    let redacted: Vec<String> = query
        .split('&')
        .map(|pair| {
            let key = form_urlencoded::parse(pair.as_bytes()).next().map(|(key, _)| key);
            match (key, pair.split_once('=')) {
                (Some(key), Some((raw_key, _))) if key == "access_token" => format!("{raw_key}=REDACTED"),
                _ => pair.to_owned(),
            }
        })
        .collect();
    format!("{path}?{}", redacted.join("&"))
}

fn cors(origins: &[String]) -> Cors {
    let cors = Cors::default()
        .allowed_methods(["GET", "POST", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            access_log::REQUEST_ID,
            access_log::TRACEPARENT,
            HeaderName::from_static("tracestate"),
        ])
        .expose_headers([
            access_log::REQUEST_ID,
            header::RETRY_AFTER,
            rate_limit::RATELIMIT,
            rate_limit::RATELIMIT_POLICY,
        ])
        .max_age(3600);
    origins.iter().fold(cors, |cors, origin| cors.allowed_origin(origin))
}

#[cfg(test)]
mod tests {
    use super::redact_query;

    #[test]
    fn tokens_in_the_query_never_reach_a_log_line() {
        assert_eq!(redact_query("/api/chat/ws", ""), "/api/chat/ws");
        assert_eq!(redact_query("/api/chat/ws", "access_token=eyJ.secret"), "/api/chat/ws?access_token=REDACTED");
        assert_eq!(
            redact_query("/api/chat/ws", "a=1&access%5Ftoken=eyJ.secret&b=2"),
            "/api/chat/ws?a=1&access%5Ftoken=REDACTED&b=2",
            "an encoded key is the same key"
        );
        assert_eq!(
            redact_query("/x", "access_token=one&access_token=two"),
            "/x?access_token=REDACTED&access_token=REDACTED"
        );
        assert_eq!(redact_query("/x", "access_tokens=kept&q=access_token"), "/x?access_tokens=kept&q=access_token");
    }
}
