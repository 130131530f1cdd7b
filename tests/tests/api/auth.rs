//! Authentication and authorization failures: all 401/403 problem documents.

use chat_tests::{SECRET, TestApp, token};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

fn sign(claims: serde_json::Value, secret: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn in_an_hour() -> i64 {
    chrono::Utc::now().timestamp() + 3600
}

/// base64url without padding, for hand-made tokens.
fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn every_bad_credential_is_a_401_problem() {
    let app = TestApp::spawn().await;
    let (user_id, _) = app.user("alice");
    let sub = user_id.to_string();
    let none_token = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(json!({"sub": sub, "role": "user", "exp": in_an_hour()}).to_string().as_bytes())
    );
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("not a JWT", Some("garbage".to_owned())),
        (
            "wrong secret",
            Some(sign(
                json!({"sub": sub, "role": "user", "exp": in_an_hour()}),
                b"another-secret-another-secret-another",
            )),
        ),
        ("alg none", Some(none_token)),
        (
            "expired",
            Some(sign(json!({"sub": sub, "role": "user", "exp": chrono::Utc::now().timestamp() - 120}), SECRET)),
        ),
        ("no exp", Some(sign(json!({"sub": sub, "role": "user"}), SECRET))),
        ("no role", Some(sign(json!({"sub": sub, "exp": in_an_hour()}), SECRET))),
        ("unknown role", Some(sign(json!({"sub": sub, "role": "root", "exp": in_an_hour()}), SECRET))),
        ("non-numeric sub", Some(sign(json!({"sub": "alice", "role": "user", "exp": in_an_hour()}), SECRET))),
        ("user does not exist", Some(token(user_id + 1000, "user"))),
    ];
    for (case, bearer) in cases {
        let reply = app.call("GET", "/api/user/chat/personas", bearer.as_deref(), None).await;
        assert_eq!(reply.status, 401, "{case}");
        assert_eq!(reply.header("content-type"), Some("application/problem+json"), "{case}");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{case}");
        assert_eq!(reply.code().as_deref(), Some("unauthorized"), "{case}");
    }
}

#[tokio::test]
async fn an_hs384_token_is_refused_even_with_the_right_secret() {
    let app = TestApp::spawn().await;
    let (user_id, _) = app.user("alice");
    let claims = json!({"sub": user_id.to_string(), "role": "admin", "exp": in_an_hour()});
    let token =
        jsonwebtoken::encode(&Header::new(Algorithm::HS384), &claims, &EncodingKey::from_secret(SECRET)).unwrap();
    let reply = app.get("/api/admin/chat/personas", &token).await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn a_valid_token_with_a_numeric_sub_is_accepted() {
    let app = TestApp::spawn().await;
    let (user_id, _) = app.user("alice");
    let token = sign(json!({"sub": user_id, "role": "user", "exp": in_an_hour()}), SECRET);
    assert_eq!(app.get("/api/user/chat/personas", &token).await.status, 200);
}

#[tokio::test]
async fn users_get_403_on_admin_routes_before_their_body_is_read() {
    let app = TestApp::spawn().await;
    let (_, user) = app.user("alice");
    let reply = app.get("/api/admin/chat/personas", &user).await;
    assert_eq!((reply.status, reply.code().as_deref()), (403, Some("admin_only")));
    let reply = app.post("/api/admin/chat/personas", &user, json!({"name": ""})).await;
    assert_eq!((reply.status, reply.code().as_deref()), (403, Some("admin_only")));
    let reply = app.patch("/api/admin/chat/personas/1", &user, json!({"isActive": false})).await;
    assert_eq!((reply.status, reply.code().as_deref()), (403, Some("admin_only")));
    assert_eq!(app.db.count("SELECT count(*) AS n FROM chat_fake_users"), 0);
}

const RS256_PRIVATE: &[u8] = include_bytes!("../../fixtures/rs256-test-private.pem");
const RS256_PUBLIC: &[u8] = include_bytes!("../../fixtures/rs256-test-public.pem");
const OTHER_PRIVATE: &[u8] = include_bytes!("../../fixtures/rs256-other-private.pem");

fn sign_rs256(claims: &serde_json::Value, private_pem: &[u8]) -> String {
    let key = EncodingKey::from_rsa_pem(private_pem).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key).unwrap()
}

#[tokio::test]
async fn an_rs256_token_is_accepted_when_a_public_key_is_configured() {
    let auth =
        chat_api::auth::AuthConfig { rs256_public_key_pem: Some(RS256_PUBLIC.to_vec()), ..chat_tests::auth_config() };
    let app = TestApp::spawn_with_auth(auth).await;
    let (admin_id, _) = app.admin("ada");
    let (user_id, hs256) = app.user("alice");

    let admin = sign_rs256(&json!({"sub": admin_id.to_string(), "role": "admin", "exp": in_an_hour()}), RS256_PRIVATE);
    let reply = app.post("/api/admin/chat/personas", &admin, json!({"name": "Sam"})).await;
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    let user = sign_rs256(&json!({"sub": user_id.to_string(), "role": "user", "exp": in_an_hour()}), RS256_PRIVATE);
    assert_eq!(app.get("/api/user/chat/personas", &user).await.status, 200);
    assert_eq!(app.get("/api/user/chat/personas", &hs256).await.status, 200, "HS256 still works");

    // Signed by another key, expired, or the public key used as an HMAC secret: 401.
    let claims = json!({"sub": user_id.to_string(), "role": "user", "exp": in_an_hour()});
    let expired = json!({"sub": user_id.to_string(), "role": "user", "exp": chrono::Utc::now().timestamp() - 120});
    let confused =
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(RS256_PUBLIC)).unwrap();
    let refused = [
        ("another key", sign_rs256(&claims, OTHER_PRIVATE)),
        ("expired", sign_rs256(&expired, RS256_PRIVATE)),
        ("public key as HMAC secret", confused),
    ];
    for (case, token) in refused {
        let reply = app.get("/api/user/chat/personas", &token).await;
        assert_eq!((reply.status, reply.code().as_deref()), (401, Some("unauthorized")), "{case}");
    }
}

#[tokio::test]
async fn an_rs256_token_is_refused_when_no_public_key_is_configured() {
    let app = TestApp::spawn().await;
    let (user_id, _) = app.user("alice");
    let token = sign_rs256(&json!({"sub": user_id.to_string(), "role": "user", "exp": in_an_hour()}), RS256_PRIVATE);
    let reply = app.get("/api/user/chat/personas", &token).await;
    assert_eq!((reply.status, reply.code().as_deref()), (401, Some("unauthorized")));
}

#[tokio::test]
async fn cors_preflights_from_an_allowed_origin_pass_and_others_are_refused() {
    const ADMIN_SPA: &str = "https://admin.example.com";
    let settings = chat_api::ApiSettings { cors_allowed_origins: vec![ADMIN_SPA.to_owned()], ..Default::default() };
    let app = TestApp::spawn_configured(settings).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, format!("{}/api/admin/chat/personas", app.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
    };

    let allowed = preflight(ADMIN_SPA).await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let header = |r: &reqwest::Response, name: &str| r.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(header(&allowed, "access-control-allow-origin").as_deref(), Some(ADMIN_SPA));
    let methods = header(&allowed, "access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("POST") && methods.contains("PATCH"), "{methods}");
    let headers = header(&allowed, "access-control-allow-headers").unwrap_or_default().to_lowercase();
    assert!(headers.contains("authorization") && headers.contains("content-type"), "{headers}");

    let refused = preflight("https://evil.example.com").await.unwrap();
    assert!(refused.status().is_client_error(), "{}", refused.status());
    assert_eq!(header(&refused, "access-control-allow-origin"), None);

    // An actual request from the refused origin gets no CORS grant either, so a browser
    // will not hand the response to that page.
    let (_, admin) = app.admin("ada");
    let simple = app
        .http
        .get(format!("{}/api/admin/chat/personas", app.base))
        .bearer_auth(&admin)
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&simple, "access-control-allow-origin"), None);
    let from_spa = app
        .http
        .get(format!("{}/api/admin/chat/personas", app.base))
        .bearer_auth(&admin)
        .header("origin", ADMIN_SPA)
        .send()
        .await
        .unwrap();
    assert_eq!(from_spa.status(), 200);
    assert_eq!(header(&from_spa, "access-control-allow-origin").as_deref(), Some(ADMIN_SPA));
    let exposed = header(&from_spa, "access-control-expose-headers").unwrap_or_default().to_lowercase();
    assert!(exposed.contains("x-request-id") && exposed.contains("retry-after"), "{exposed}");
}

/// With an issuer and an audience configured, both are required: a token that leaves
/// one out is refused on REST and at the WebSocket upgrade, as is a token whose `nbf`
/// lies an hour ahead; a token with both (and a past `nbf`) is accepted on both.
#[tokio::test]
async fn configured_issuer_and_audience_are_required_and_nbf_is_honoured() {
    let auth = chat_api::auth::AuthConfig {
        issuer: Some("https://app.example.com".to_owned()),
        audience: Some("chat".to_owned()),
        ..chat_tests::auth_config()
    };
    let app = TestApp::spawn_with_auth(auth).await;
    let (user_id, _) = app.user("alice");
    let now = chrono::Utc::now().timestamp();
    let claims = |extra: serde_json::Value| {
        let mut claims = json!({"sub": user_id.to_string(), "role": "user", "exp": in_an_hour()});
        claims.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        sign(claims, SECRET)
    };
    let (iss, aud) = ("https://app.example.com", "chat");

    let good = claims(json!({"iss": iss, "aud": aud, "nbf": now - 60}));
    assert_eq!(app.get("/api/user/chat/personas", &good).await.status, 200);
    assert!(chat_tests::WsClient::try_connect(&app, Some(&good), &[]).await.is_ok(), "the upgrade accepts it");

    let refused = [
        ("no iss", claims(json!({"aud": aud}))),
        ("no aud", claims(json!({"iss": iss}))),
        ("neither", claims(json!({}))),
        ("another iss", claims(json!({"iss": "https://evil.example.com", "aud": aud}))),
        ("another aud", claims(json!({"iss": iss, "aud": "other"}))),
        ("nbf an hour ahead", claims(json!({"iss": iss, "aud": aud, "nbf": now + 3600}))),
    ];
    for (case, token) in refused {
        let reply = app.get("/api/user/chat/personas", &token).await;
        assert_eq!((reply.status, reply.code().as_deref()), (401, Some("unauthorized")), "REST: {case}");
        let upgrade = chat_tests::WsClient::try_connect(&app, Some(&token), &[]).await.map(drop);
        assert_eq!(upgrade, Err(401), "WebSocket upgrade: {case}");
    }
}

/// Without a configured issuer, a future `nbf` is still refused (beyond the leeway).
#[tokio::test]
async fn a_token_not_valid_yet_is_refused() {
    let app = TestApp::spawn().await;
    let (user_id, _) = app.user("alice");
    let nbf = chrono::Utc::now().timestamp() + 3600;
    let token = sign(json!({"sub": user_id.to_string(), "role": "user", "exp": in_an_hour() + 60, "nbf": nbf}), SECRET);
    assert_eq!(app.get("/api/user/chat/personas", &token).await.status, 401);
    assert_eq!(chat_tests::WsClient::try_connect(&app, Some(&token), &[]).await.map(drop), Err(401));
}

/// A deleted user's token stops working once the cache of known users forgets them:
/// within the configured time, on REST and at the upgrade.
#[tokio::test]
async fn a_deleted_users_token_stops_working_within_the_cache_ttl() {
    let ttl = std::time::Duration::from_secs(1);
    let app =
        TestApp::spawn_with_auth(chat_api::auth::AuthConfig { user_cache_ttl: ttl, ..chat_tests::auth_config() }).await;
    let (user_id, token) = app.user("alice");
    assert_eq!(app.get("/api/user/chat/personas", &token).await.status, 200, "cached as known");
    diesel::RunQueryDsl::execute(
        diesel::sql_query(format!("DELETE FROM users WHERE id = {user_id}")),
        &mut app.db.conn(),
    )
    .unwrap();
    let deleted = std::time::Instant::now();
    // Poll: the cache forgets after `ttl`; allow a loaded machine generous slack.
    let bound = ttl + std::time::Duration::from_secs(5);
    while app.get("/api/user/chat/personas", &token).await.status == 200 {
        assert!(deleted.elapsed() < bound, "the deleted user's token still works after {:?}", deleted.elapsed());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(app.get("/api/user/chat/personas", &token).await.status, 401);
    assert_eq!(chat_tests::WsClient::try_connect(&app, Some(&token), &[]).await.map(drop), Err(401));
}
