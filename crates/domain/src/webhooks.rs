//! Missed-message webhooks: the existing app learns that a user has unread replies,
//! direct messages or notices, so that it can reach them by push or email (it owns
//! both). The flow, end to end (docs/webhooks.md):
//!
//! 1. **Outbox.** Every stored support or DM message and every notice leaves an outbox
//!    row in the transaction that stored it (the adapter's job, only while webhooks are
//!    on): nothing is lost on a crash, nothing is announced for a rolled-back write.
//! 2. **Digests.** Once per digest window one instance runs [`collect`]: it takes the
//!    outbox rows older than the read delay, decides with the conversation's
//!    participants whom each message was for and whether they have read it since, and
//!    writes one [`Digest`] per user for what is still unread. A message read in time
//!    causes nothing. The rows leave the outbox in the same transaction.
//! 3. **Delivery.** Dispatchers [`claim`] due digests (each is leased to one instance),
//!    post them, and [`record`] what happened: delivered, retried later with exponential
//!    backoff and jitter ([`RetryPolicy`]), or parked after the last attempt, where an
//!    admin sees it ([`parked`]) and may send it again ([`retry`]).
//!
//! Each digest has one event id for all its attempts: the receiver de-duplicates on it.

mod collect;
mod deliver;
mod model;
mod ports;

pub use self::collect::{CollectSettings, collect, recipient};
pub use self::deliver::{Attempt, Outcome, RetryPolicy, claim, parked, record, retry};
pub use self::model::{
    Candidate, Delivery, DeliveryId, Digest, MissedItem, MissedKind, MissedMessages, Origin, ParkedDelivery,
};
#[cfg(any(test, feature = "mock"))]
pub use self::ports::MockWebhookRepository;
pub use self::ports::WebhookRepository;
