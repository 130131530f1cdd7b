//! HS256 development tokens, minted like `chat-server token` (claims `sub`, `role`, `exp`).

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header, encode};
use serde::Serialize;

#[derive(Serialize)]
struct Claims<'a> {
    sub: String,
    role: &'a str,
    exp: u64,
}

/// A token for `user`, valid for six hours.
pub fn mint(secret: &[u8], user: i32, admin: bool) -> anyhow::Result<String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let claims = Claims { sub: user.to_string(), role: if admin { "admin" } else { "user" }, exp: now + 6 * 3600 };
    Ok(encode(&Header::default(), &claims, &EncodingKey::from_secret(secret))?)
}
