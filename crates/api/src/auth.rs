//! Authentication: bearer JWTs issued by the existing app.
//!
//! * Algorithms are pinned: HS256 with the shared secret, and RS256 only when a public
//!   key is configured. `alg: none` and every other algorithm are refused.
//! * `exp` is required; `iss` and `aud` are required (present and equal) when
//!   configured; `nbf`, when present, is honoured with the same leeway as `exp`
//!   ([`LEEWAY_SECS`]).
//! * `sub` is the user id (a string or a number); the role claim is `user` or `admin`.
//! * The user must exist in `users`: known ids are cached for
//!   [`AuthConfig::user_cache_ttl`] (default a minute) so that the check costs nothing on
//!   the hot path; unknown ids are never cached. A deleted user's token therefore stops
//!   opening requests and sockets at most that long after the deletion.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use chat_domain::store::Store;
use chat_domain::{Principal, RepoError, Role, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::problem::ApiError;
use crate::rate_limit::Budget;
use crate::state::AppState;

/// How tokens are checked.
#[derive(Clone)]
pub struct AuthConfig {
    /// The HS256 shared secret.
    pub hs256_secret: Vec<u8>,
    /// An optional RS256 public key (PEM).
    pub rs256_public_key_pem: Option<Vec<u8>>,
    /// Required `iss`, when set.
    pub issuer: Option<String>,
    /// Required `aud`, when set.
    pub audience: Option<String>,
    /// The name of the role claim (default `role`).
    pub role_claim: String,
    /// How long a user id, once found in `users`, is trusted without looking again: the
    /// longest a deleted user's token keeps working.
    pub user_cache_ttl: Duration,
}

/// The default of [`AuthConfig::user_cache_ttl`].
pub const DEFAULT_USER_CACHE_TTL: Duration = Duration::from_secs(60);

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 5;

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("hs256_secret", &"<redacted>")
            .field("rs256", &self.rs256_public_key_pem.is_some())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("role_claim", &self.role_claim)
            .field("user_cache_ttl", &self.user_cache_ttl)
            .finish()
    }
}

/// Why an [`Authenticator`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    /// The RS256 key does not parse.
    #[error("invalid RS256 public key: {0}")]
    BadPublicKey(#[from] jsonwebtoken::errors::Error),
    /// An HS256 secret shorter than 32 bytes is guessable.
    #[error("the HS256 secret must be at least 32 bytes long")]
    WeakSecret,
}

/// Verifies tokens and resolves them to a [`Principal`].
pub struct Authenticator {
    keys: Vec<(Algorithm, DecodingKey)>,
    issuer: Option<String>,
    audience: Option<String>,
    role_claim: String,
    known_users: moka::future::Cache<i32, ()>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").field("algorithms", &self.keys.iter().map(|k| k.0).collect::<Vec<_>>()).finish()
    }
}

impl Authenticator {
    /// Builds the verifier from configuration.
    pub fn new(config: &AuthConfig) -> Result<Self, AuthConfigError> {
        if config.hs256_secret.len() < 32 {
            return Err(AuthConfigError::WeakSecret);
        }
        let mut keys = vec![(Algorithm::HS256, DecodingKey::from_secret(&config.hs256_secret))];
        if let Some(pem) = &config.rs256_public_key_pem {
            keys.push((Algorithm::RS256, DecodingKey::from_rsa_pem(pem)?));
        }
        Ok(Self {
            keys,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            role_claim: config.role_claim.clone(),
            known_users: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(config.user_cache_ttl)
                .build(),
        })
    }

    /// Checks a token's signature and claims; does not look the user up.
    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        self.verify_with_expiry(token).map(|(principal, _)| principal)
    }

    /// Checks a token and returns its principal and expiry (seconds since the epoch).
    pub fn verify_with_expiry(&self, token: &str) -> Result<(Principal, u64), ApiError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| ApiError::Unauthorized("The token is malformed."))?;
        let (alg, key) = self
            .keys
            .iter()
            .find(|(alg, _)| *alg == header.alg)
            .ok_or(ApiError::Unauthorized("The token's algorithm is not accepted."))?;
        let mut validation = Validation::new(*alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        // `sub` is checked below: it may be a string (RFC 7519) or a number (common in
        // practice). A configured issuer or audience must be present, not merely equal
        // when present: jsonwebtoken compares them only when the token carries them.
        let mut required = vec!["exp"];
        required.extend(self.issuer.as_ref().map(|_| "iss"));
        required.extend(self.audience.as_ref().map(|_| "aud"));
        validation.set_required_spec_claims(&required);
        match &self.issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        match &self.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => ApiError::Unauthorized("The token has expired."),
                jsonwebtoken::errors::ErrorKind::ImmatureSignature => {
                    ApiError::Unauthorized("The token is not valid yet (nbf).")
                }
                _ => ApiError::Unauthorized("The token is invalid."),
            })?;
        let claims = data.claims;
        let user_id = match claims.get("sub") {
            Some(serde_json::Value::String(s)) => s.parse::<i32>().ok(),
            Some(serde_json::Value::Number(n)) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
            _ => None,
        }
        .filter(|id| *id > 0)
        .ok_or(ApiError::Unauthorized("The token's subject is not a user id."))?;
        let role = match claims.get(&self.role_claim).and_then(serde_json::Value::as_str) {
            Some("user") => Role::User,
            Some("admin") => Role::Admin,
            _ => return Err(ApiError::Unauthorized("The token's role claim must be \"user\" or \"admin\".")),
        };
        let exp = claims.get("exp").and_then(serde_json::Value::as_u64).unwrap_or(0);
        Ok((Principal { user_id: UserId(user_id), role }, exp))
    }

    /// Verifies a token and checks that its user exists.
    pub async fn authenticate(&self, token: &str, store: &Arc<dyn Store>) -> Result<Principal, ApiError> {
        self.authenticate_with_expiry(token, store).await.map(|(principal, _)| principal)
    }

    /// Like [`Self::authenticate`], also returning the token's expiry.
    pub async fn authenticate_with_expiry(
        &self,
        token: &str,
        store: &Arc<dyn Store>,
    ) -> Result<(Principal, u64), ApiError> {
        let (principal, exp) = self.verify_with_expiry(token)?;
        let id = principal.user_id;
        if self.known_users.get(&id.get()).await.is_none() {
            let exists = store
                .run(move |tx| chat_domain::users::is_known_user(tx, id))
                .await
                .map_err(|e: RepoError| ApiError::from(e))?;
            if !exists {
                return Err(ApiError::Unauthorized("The token's user does not exist."));
            }
            self.known_users.insert(id.get(), ()).await;
        }
        Ok((principal, exp))
    }
}

/// Extracts the bearer token from an `Authorization` header value.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Any authenticated caller (user or admin).
#[derive(Debug, Clone, Copy)]
pub struct Caller(pub Principal);

/// An authenticated admin; users get 403 `admin_only`.
#[derive(Debug, Clone, Copy)]
pub struct AdminCaller(pub Principal);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    /// Authenticates, records the caller for the access log, and spends one request of
    /// the route's rate-limit budget (a 429 before the body is read or anything runs).
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = bearer_token(req).map(str::to_owned);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let budget = req.match_pattern().and_then(|route| Budget::of(req.method(), &route));
        let req = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("AppState is not registered".into()))?;
            let token = token.ok_or(ApiError::Unauthorized("A bearer token is required."))?;
            let principal = state.auth.authenticate(&token, &state.store).await?;
            req.extensions_mut().insert(principal);
            if let Some(budget) = budget
                && let Some(status) = state.limits.check(&principal, budget)?
            {
                req.extensions_mut().insert(status);
            }
            Ok(Caller(principal))
        })
    }
}

impl FromRequest for AdminCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        Box::pin(async move {
            let Caller(principal) = caller.await?;
            if !principal.is_admin() {
                return Err(ApiError::Forbidden { code: "admin_only", detail: "This route is for admins only." });
            }
            Ok(AdminCaller(principal))
        })
    }
}

/// Claims minted by [`mint_token`].
#[derive(Debug, Deserialize, serde::Serialize)]
pub struct DevClaims {
    /// The user id, as a string.
    pub sub: String,
    /// `user` or `admin`.
    pub role: String,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
    /// Issuer, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// Mints an HS256 token (development and tests only: production tokens come from the
/// existing app).
pub fn mint_token(secret: &[u8], claims: &DevClaims) -> Result<String, jsonwebtoken::errors::Error> {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
}
