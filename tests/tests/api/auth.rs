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
