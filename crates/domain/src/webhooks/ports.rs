//! The webhook repository port.

use chrono::{DateTime, Utc};

use crate::error::RepoError;
use crate::webhooks::deliver::Outcome;
use crate::webhooks::model::{Candidate, Delivery, DeliveryId, Digest, ParkedDelivery};

/// Storage of the webhook outbox and of digests.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait WebhookRepository {
    /// Takes this instance's turn to collect the window starting at `window_start`.
    /// `false` when another instance is collecting right now or the window was already
    /// collected. Implementations hold the turn until the transaction ends.
    fn begin_collection(&mut self, window_start: DateTime<Utc>) -> Result<bool, RepoError>;

    /// Removes up to `limit` outbox rows stored before `settled_before` and returns
    /// their messages, oldest first (with their text when `with_content`).
    fn take_outbox(
        &mut self,
        settled_before: DateTime<Utc>,
        limit: i64,
        with_content: bool,
    ) -> Result<Vec<Candidate>, RepoError>;

    /// Stores digests, due now.
    fn insert_digests(&mut self, digests: &[Digest]) -> Result<(), RepoError>;

    /// Claims up to `limit` digests due at `now` (neither delivered nor parked) for one
    /// attempt each, leased until `lease_until`: no other instance claims them before.
    /// Rows another transaction holds are skipped, not waited for.
    fn claim_deliveries(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Delivery>, RepoError>;

    /// Records an attempt's outcome (and the failure, if it failed).
    fn finish_delivery(
        &mut self,
        id: DeliveryId,
        outcome: &Outcome,
        error: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), RepoError>;

    /// Up to `limit` parked digests after `after`, by id.
    fn parked_deliveries(&mut self, after: Option<DeliveryId>, limit: i64) -> Result<Vec<ParkedDelivery>, RepoError>;

    /// Makes a parked digest due again at `now` with a fresh set of attempts; `false`
    /// when no parked digest has that id.
    fn unpark(&mut self, id: DeliveryId, now: DateTime<Utc>) -> Result<bool, RepoError>;
}
