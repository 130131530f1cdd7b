//! Delivering digests: claims, outcomes, retries, and the parked ones.

use chrono::{DateTime, Duration, Utc};

use crate::error::{AdminError, RepoError};
use crate::principal::Principal;
use crate::webhooks::model::{Delivery, DeliveryId, ParkedDelivery};
use crate::webhooks::ports::WebhookRepository;

/// When a failed delivery is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before a digest is parked.
    pub max_attempts: u32,
    /// The wait after the first failure (before jitter); it doubles with each failure.
    pub first_delay: Duration,
    /// The longest wait (before jitter).
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// What follows the `attempts`-th failed attempt at `now`. `jitter` (in `[0, 1)`)
    /// spreads the retries of digests that failed together: the wait is between half and
    /// all of the exponential delay ("equal jitter").
    pub fn after_failure(&self, attempts: u32, now: DateTime<Utc>, jitter: f64) -> Outcome {
        if attempts >= self.max_attempts {
            return Outcome::Parked;
        }
        let doublings = attempts.saturating_sub(1).min(30);
        let full = self.first_delay.checked_mul(1 << doublings).unwrap_or(self.max_delay).min(self.max_delay);
        let half = full / 2;
        #[expect(clippy::cast_possible_truncation, reason = "a fraction of a bounded delay in milliseconds")]
        let spread = Duration::milliseconds((half.num_milliseconds() as f64 * jitter.clamp(0.0, 1.0)) as i64);
        Outcome::RetryAt(now + half + spread)
    }
}

/// How one delivery attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver answered 2xx.
    Delivered,
    /// Anything else (status, timeout, connection error), described for operators.
    Failed(String),
}

/// What becomes of a digest after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Delivered,
    /// Tried again from this instant.
    RetryAt(DateTime<Utc>),
    /// No more automatic attempts; an admin may retry it.
    Parked,
}

/// Claims up to `limit` due digests for one attempt each, leased to the caller for `lease`.
pub fn claim(
    repo: &mut (impl WebhookRepository + ?Sized),
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> Result<Vec<Delivery>, RepoError> {
    repo.claim_deliveries(now, now + lease, limit)
}

/// Records how the attempt on `delivery` went; returns what becomes of it.
pub fn record(
    repo: &mut (impl WebhookRepository + ?Sized),
    delivery: &Delivery,
    attempt: &Attempt,
    now: DateTime<Utc>,
    policy: &RetryPolicy,
    jitter: f64,
) -> Result<Outcome, RepoError> {
    let (outcome, error) = match attempt {
        Attempt::Delivered => (Outcome::Delivered, None),
        Attempt::Failed(error) => (policy.after_failure(delivery.attempts, now, jitter), Some(error.clone())),
    };
    repo.finish_delivery(delivery.id, &outcome, error, now)?;
    Ok(outcome)
}

/// A page of parked digests by id, and the cursor of the next page.
pub fn parked(
    repo: &mut (impl WebhookRepository + ?Sized),
    caller: &Principal,
    after: Option<DeliveryId>,
    limit: u8,
) -> Result<(Vec<ParkedDelivery>, Option<DeliveryId>), AdminError> {
    AdminError::require_admin(caller)?;
    let mut rows = repo.parked_deliveries(after, i64::from(limit) + 1)?;
    let has_more = rows.len() > usize::from(limit);
    rows.truncate(usize::from(limit));
    let next = if has_more { rows.last().map(|row| row.id) } else { None };
    Ok((rows, next))
}

/// Sends a parked digest again (with a fresh set of attempts, the same event id).
pub fn retry(
    repo: &mut (impl WebhookRepository + ?Sized),
    caller: &Principal,
    id: DeliveryId,
    now: DateTime<Utc>,
) -> Result<(), AdminError> {
    AdminError::require_admin(caller)?;
    if repo.unpark(id, now)? { Ok(()) } else { Err(AdminError::NotFound) }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;
    use crate::ids::UserId;
    use crate::webhooks::ports::MockWebhookRepository;

    const POLICY: RetryPolicy =
        RetryPolicy { max_attempts: 5, first_delay: Duration::seconds(10), max_delay: Duration::seconds(25) };

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()
    }

    fn delivery(attempts: u32) -> Delivery {
        Delivery { id: DeliveryId(4), event_id: Uuid::nil(), payload: "{}".into(), attempts }
    }

    #[test]
    fn waits_double_up_to_the_cap_and_jitter_spreads_them_over_the_upper_half() {
        let wait = |attempts, jitter| match POLICY.after_failure(attempts, now(), jitter) {
            Outcome::RetryAt(at) => (at - now()).num_milliseconds(),
            other => panic!("expected a retry, got {other:?}"),
        };
        assert_eq!([wait(1, 0.0), wait(2, 0.0), wait(3, 0.0), wait(4, 0.0)], [5_000, 10_000, 12_500, 12_500]);
        assert_eq!([wait(1, 0.5), wait(2, 0.999)], [7_500, 19_990]);
        assert_eq!(POLICY.after_failure(5, now(), 0.0), Outcome::Parked);
    }

    #[test]
    fn a_failure_is_recorded_with_its_reason_and_the_last_one_parks() {
        let mut repo = MockWebhookRepository::new();
        repo.expect_finish_delivery()
            .withf(|id, outcome, error, _| {
                *id == DeliveryId(4)
                    && *outcome == Outcome::Parked
                    && error.as_deref() == Some("503 Service Unavailable")
            })
            .returning(|_, _, _, _| Ok(()));
        let failed = Attempt::Failed("503 Service Unavailable".into());
        assert_eq!(record(&mut repo, &delivery(5), &failed, now(), &POLICY, 0.3).unwrap(), Outcome::Parked);
    }

    #[test]
    fn a_success_is_recorded_without_an_error() {
        let mut repo = MockWebhookRepository::new();
        repo.expect_finish_delivery()
            .withf(|_, outcome, error, _| *outcome == Outcome::Delivered && error.is_none())
            .returning(|_, _, _, _| Ok(()));
        assert_eq!(
            record(&mut repo, &delivery(1), &Attempt::Delivered, now(), &POLICY, 0.3).unwrap(),
            Outcome::Delivered
        );
    }

    #[test]
    fn only_admins_see_and_retry_parked_digests() {
        let mut repo = MockWebhookRepository::new();
        repo.expect_parked_deliveries().never();
        repo.expect_unpark().never();
        let user = Principal::user(UserId(7));
        assert!(matches!(parked(&mut repo, &user, None, 10), Err(AdminError::Forbidden)));
        assert!(matches!(retry(&mut repo, &user, DeliveryId(1), now()), Err(AdminError::Forbidden)));
    }

    #[test]
    fn retrying_an_unknown_digest_is_not_found() {
        let mut repo = MockWebhookRepository::new();
        repo.expect_unpark().returning(|_, _| Ok(false));
        let admin = Principal::admin(UserId(1));
        assert!(matches!(retry(&mut repo, &admin, DeliveryId(9), now()), Err(AdminError::NotFound)));
    }
}
