//! The missed-message webhook dispatcher: collects digests once per window and posts
//! them to the existing app, signed the Standard Webhooks way (docs/webhooks.md).
//!
//! The rules (who missed what, retries, parking) are the domain's
//! ([`chat_domain::webhooks`]); this module is the outbound HTTP adapter and the loop
//! that drives them. Every instance runs it; the database hands each window and each
//! digest to one instance at a time.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chat_domain::RepoError;
use chat_domain::store::Store;
use chat_domain::webhooks::{self, Attempt, CollectSettings, Delivery, Outcome, RetryPolicy};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A Standard Webhooks signing secret (`whsec_` followed by the base64 of the key).
#[derive(Clone)]
pub struct SigningSecret(Vec<u8>);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(..)")
    }
}

impl std::str::FromStr for SigningSecret {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        let encoded = raw.strip_prefix("whsec_").ok_or("must start with whsec_")?;
        let key = BASE64.decode(encoded).map_err(|e| format!("the part after whsec_ is not base64: {e}"))?;
        if key.len() < 24 {
            return Err(format!("the key is {} bytes; at least 24 are required", key.len()));
        }
        Ok(Self(key))
    }
}

impl SigningSecret {
    /// The `webhook-signature` header value of `payload` sent as event `id` at
    /// `timestamp` (Unix seconds): `v1,` and the base64 HMAC-SHA256 of
    /// `{id}.{timestamp}.{payload}`.
    pub fn sign(&self, id: &str, timestamp: i64, payload: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(format!("{id}.{timestamp}.{payload}").as_bytes());
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }
}

/// Everything the dispatcher needs.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Where digests are posted.
    pub url: reqwest::Url,
    /// The signing secret.
    pub secret: SigningSecret,
    /// How digests are collected.
    pub collect: CollectSettings,
    /// When failed deliveries are tried again.
    pub retry: RetryPolicy,
    /// How long one attempt may take (the receiver should answer quickly and work later).
    pub timeout: Duration,
    /// How often the loop looks for work.
    pub tick: Duration,
}

/// Digests one round sends at most (the rest wait for the next tick).
const DELIVERIES_PER_ROUND: i64 = 64;

/// Runs the dispatcher for as long as the server runs.
pub async fn webhook_loop(store: Arc<dyn Store>, settings: WebhookSettings) {
    let client = match reqwest::Client::builder().timeout(settings.timeout).build() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "webhooks: cannot build the HTTP client; no webhook will be sent");
            return;
        }
    };
    let mut tick = tokio::time::interval(settings.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = round(&store, &client, &settings).await {
            tracing::warn!(error = %e, "webhooks: a round failed; retrying at the next tick");
        }
    }
}

/// One round: collect this window's digests if it is this instance's turn, then send
/// what is due.
pub async fn round(
    store: &Arc<dyn Store>,
    client: &reqwest::Client,
    settings: &WebhookSettings,
) -> Result<(), RepoError> {
    let collect = settings.collect;
    let collected =
        store.run(move |tx| webhooks::collect(tx, chrono::Utc::now(), &collect, uuid::Uuid::new_v4)).await?;
    if let Some(digests) = collected.filter(|digests| !digests.is_empty()) {
        tracing::info!(count = digests.len(), "webhooks: digests collected");
        metrics::counter!("chat_webhook_digests_total").increment(digests.len() as u64);
    }
    // A lease longer than an attempt can take: no other instance sends it meanwhile.
    let lease =
        chrono::Duration::from_std(settings.timeout * 2 + Duration::from_secs(5)).unwrap_or(chrono::Duration::MAX);
    let due = store.run(move |tx| webhooks::claim(tx, chrono::Utc::now(), lease, DELIVERIES_PER_ROUND)).await?;
    let attempts = due.iter().map(|delivery| async move { (delivery, post(client, settings, delivery).await) });
    for (delivery, attempt) in futures_util::future::join_all(attempts).await {
        let (delivery, policy) = (delivery.clone(), settings.retry);
        let jitter = rand::random::<f64>();
        let reason = match &attempt {
            Attempt::Delivered => None,
            Attempt::Failed(reason) => Some(reason.clone()),
        };
        let outcome =
            store.run(move |tx| webhooks::record(tx, &delivery, &attempt, chrono::Utc::now(), &policy, jitter)).await?;
        let label = match outcome {
            Outcome::Delivered => "delivered",
            Outcome::RetryAt(_) => "retry",
            Outcome::Parked => "parked",
        };
        metrics::counter!("chat_webhook_attempts_total", "outcome" => label).increment(1);
        if let Some(reason) = reason {
            tracing::warn!(outcome = label, reason = %reason, "webhooks: an attempt failed");
        }
    }
    Ok(())
}

/// Posts one digest; 2xx is a delivery, anything else a failure with its reason.
async fn post(client: &reqwest::Client, settings: &WebhookSettings, delivery: &Delivery) -> Attempt {
    let id = delivery.event_id.to_string();
    let timestamp = chrono::Utc::now().timestamp();
    let signature = settings.secret.sign(&id, timestamp, &delivery.payload);
    let response = client
        .post(settings.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(delivery.payload.clone())
        .send()
        .await;
    match response {
        Ok(response) if response.status().is_success() => Attempt::Delivered,
        Ok(response) => Attempt::Failed(format!("answered {}", response.status())),
        Err(e) if e.is_timeout() => Attempt::Failed(format!("no answer within {:?}", settings.timeout)),
        Err(e) => Attempt::Failed(format!("could not post: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_test_vector() {
        // The example of the Standard Webhooks specification (spec/standard-webhooks.md).
        let secret: SigningSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse().unwrap();
        let payload = r#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, payload),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_without_the_prefix_or_too_short_are_refused() {
        assert!("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".parse::<SigningSecret>().is_err());
        assert!("whsec_c2hvcnQ=".parse::<SigningSecret>().is_err());
        assert!("whsec_not base64!".parse::<SigningSecret>().is_err());
    }
}
