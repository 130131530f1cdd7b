//! Per-caller rate limits: a token bucket per user and budget (GCRA, `governor`).
//!
//! Four budgets, each with its own rate for users and for admins: message sends, DM
//! starts, notification sends, and reads. A REST operation draws on the budget that
//! [`Budget::of`] names for its method and route template (checked by the `Caller`
//! extractor, before the body is read or anything runs); the WebSocket twin of each
//! operation draws on the same bucket, so a client cannot double its budget by
//! switching doors. Over budget is a 429 `rate_limited` with `Retry-After` and the IETF
//! `RateLimit` / `RateLimit-Policy` fields (draft-ietf-httpapi-ratelimit-headers); a
//! refused request stores nothing.
//!
//! Buckets live in this process's memory: with several instances behind a load
//! balancer, each enforces its own budgets (docs/operations.md says why they are not
//! shared through Redis).

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use chat_domain::{Principal, UserId};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::problem::ApiError;

/// What a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    /// Posting a message (support, support replies, DMs, persona replies).
    Sends,
    /// Starting (or reopening) a DM.
    DmStarts,
    /// Sending an admin notification.
    Notifications,
    /// Reading: every authenticated `GET`, and the catch-up (`sync`, `resume`).
    Reads,
}

/// The write operations that draw on a budget, by method and route template. Every
/// other authenticated `GET` is a read (see [`Budget::of`]).
const WRITES: [(&str, &str, Budget); 9] = [
    ("POST", "/api/user/chat/support/messages", Budget::Sends),
    ("POST", "/api/admin/chat/support/{id}/messages", Budget::Sends),
    ("POST", "/api/user/chat/direct-messages/{id}/messages", Budget::Sends),
    ("POST", "/api/admin/chat/direct-messages/{id}/messages", Budget::Sends),
    ("POST", "/api/admin/chat/support/{id}/notes", Budget::Sends),
    ("POST", "/api/admin/chat/direct-messages/{id}/notes", Budget::Sends),
    ("POST", "/api/user/chat/direct-messages", Budget::DmStarts),
    ("POST", "/api/admin/chat/notifications", Budget::Notifications),
    ("POST", "/api/user/chat/sync", Budget::Reads),
];

impl Budget {
    /// The budget's name, as in `RateLimit-Policy` and the metrics.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sends => "sends",
            Self::DmStarts => "dm_starts",
            Self::Notifications => "notifications",
            Self::Reads => "reads",
        }
    }

    /// The budget an operation draws on, by method and route template; `None` for
    /// operations without one (probes, the socket upgrade, marks, moderation).
    pub fn of(method: &Method, route: &str) -> Option<Self> {
        if let Some((_, _, budget)) = WRITES.iter().find(|(m, r, _)| method.as_str() == *m && route == *r) {
            return Some(*budget);
        }
        let authenticated = route.starts_with("/api/user/chat/") || route.starts_with("/api/admin/chat/");
        (method == Method::GET && authenticated).then_some(Self::Reads)
    }
}

/// A budget's rate: `burst` requests at once, refilled evenly over `period`
/// (`20/10s`: twenty at once, then one every half second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// The bucket's size.
    pub burst: NonZeroU32,
    /// How long an empty bucket takes to fill.
    pub period: Duration,
}

impl Rate {
    /// `burst` requests per `period`.
    pub const fn new(burst: NonZeroU32, period: Duration) -> Self {
        Self { burst, period }
    }

    fn quota(self) -> Quota {
        Quota::with_period(self.period / self.burst.get())
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(self.burst)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.burst, self.period.as_secs_f64())
    }
}

/// Why a rate does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected `off` or COUNT/PERIOD with PERIOD like 10s, 1m or 1h (e.g. `20/10s`), got `{0}`")]
pub struct RateParseError(String);

/// A configured rate: `off`, or `COUNT/PERIOD` (`20/10s`, `300/1m`, `1000/1h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSetting(pub Option<Rate>);

impl FromStr for RateSetting {
    type Err = RateParseError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let error = || RateParseError(raw.to_owned());
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("off") {
            return Ok(Self(None));
        }
        let (count, period) = raw.split_once('/').ok_or_else(error)?;
        let burst = count.trim().parse::<NonZeroU32>().map_err(|_| error())?;
        let period = period.trim();
        let (amount, unit) = period.split_at(period.find(|c: char| !c.is_ascii_digit()).ok_or_else(error)?);
        let amount = if amount.is_empty() { 1 } else { amount.parse::<u64>().map_err(|_| error())? };
        let seconds = match unit {
            "s" => amount,
            "m" => amount * 60,
            "h" => amount * 3600,
            _ => return Err(error()),
        };
        if seconds == 0 {
            return Err(error());
        }
        Ok(Self(Some(Rate::new(burst, Duration::from_secs(seconds)))))
    }
}

/// The rate of each budget for one role; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BudgetRates {
    /// Message sends.
    pub sends: Option<Rate>,
    /// DM starts.
    pub dm_starts: Option<Rate>,
    /// Notification sends (admins only: users cannot send them).
    pub notifications: Option<Rate>,
    /// Reads.
    pub reads: Option<Rate>,
}

impl BudgetRates {
    const fn get(&self, budget: Budget) -> Option<Rate> {
        match budget {
            Budget::Sends => self.sends,
            Budget::DmStarts => self.dm_starts,
            Budget::Notifications => self.notifications,
            Budget::Reads => self.reads,
        }
    }
}

/// Rates for users and for admins. The default limits nothing (tests, embedding); the
/// server's configuration sets production defaults (README).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Budgets of callers with the user role.
    pub user: BudgetRates,
    /// Budgets of callers with the admin role.
    pub admin: BudgetRates,
}

type Limiter = RateLimiter<UserId, DefaultKeyedStateStore<UserId>, DefaultClock, StateInformationMiddleware>;

/// Where a caller stands in a budget after a request was let through (for the
/// `RateLimit` fields of its response) or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    /// The budget.
    pub budget: Budget,
    /// Its rate.
    pub rate: Rate,
    /// Requests left right now.
    pub remaining: u32,
    /// Seconds until a refused caller may retry, or until a bucket is full again.
    pub reset: Duration,
}

/// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers).
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit` (draft-ietf-httpapi-ratelimit-headers).
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Whole seconds, rounded up: a client that waits this long will be let through.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl RateLimitStatus {
    /// The seconds a refused caller should wait (`Retry-After`), at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        ceil_secs(self.reset).max(1)
    }

    /// The `RateLimit-Policy` and `RateLimit` fields: `"sends";q=20;w=10` and
    /// `"sends";r=0;t=3` (quota, window and remaining in requests, times in seconds).
    pub fn headers(&self) -> [(HeaderName, HeaderValue); 2] {
        let name = self.budget.name();
        let policy = format!("\"{name}\";q={};w={}", self.rate.burst, ceil_secs(self.rate.period));
        let reset = if self.remaining == 0 { self.retry_after_secs() } else { ceil_secs(self.reset) };
        let current = format!("\"{name}\";r={};t={reset}", self.remaining);
        [
            (RATELIMIT_POLICY, HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static(""))),
            (RATELIMIT, HeaderValue::from_str(&current).unwrap_or(HeaderValue::from_static(""))),
        ]
    }
}

/// The buckets of every caller, per role (admin or not) and budget.
pub struct RateLimits {
    limiters: HashMap<(bool, Budget), (Rate, Limiter)>,
    clock: DefaultClock,
}

impl fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rates: Vec<_> = self.limiters.iter().map(|(key, (rate, _))| (key, rate)).collect();
        f.debug_struct("RateLimits").field("rates", &rates).finish()
    }
}

impl RateLimits {
    /// Buckets for `settings` (none for an unlimited budget).
    pub fn new(settings: &RateLimitSettings) -> Self {
        let budgets = [Budget::Sends, Budget::DmStarts, Budget::Notifications, Budget::Reads];
        let mut limiters = HashMap::new();
        for (admin, rates) in [(false, settings.user), (true, settings.admin)] {
            for budget in budgets {
                if let Some(rate) = rates.get(budget) {
                    let limiter = RateLimiter::dashmap(rate.quota()).with_middleware::<StateInformationMiddleware>();
                    limiters.insert((admin, budget), (rate, limiter));
                }
            }
        }
        Self { limiters, clock: DefaultClock::default() }
    }

    /// Spends one request of `caller`'s `budget`: `Ok(None)` when the budget is
    /// unlimited, `Ok(Some(status))` when there was room, [`ApiError::RateLimited`]
    /// when there was none (nothing was spent).
    pub fn check(&self, caller: &Principal, budget: Budget) -> Result<Option<RateLimitStatus>, ApiError> {
        let Some((rate, limiter)) = self.limiters.get(&(caller.is_admin(), budget)) else { return Ok(None) };
        match limiter.check_key(&caller.user_id) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let refill = rate.period / rate.burst.get();
                let reset = refill * (rate.burst.get() - remaining.min(rate.burst.get()));
                Ok(Some(RateLimitStatus { budget, rate: *rate, remaining, reset }))
            }
            Err(not_until) => {
                crate::metrics::rate_limited(budget.name());
                let reset = not_until.wait_time_from(self.clock.now());
                Err(ApiError::RateLimited(RateLimitStatus { budget, rate: *rate, remaining: 0, reset }))
            }
        }
    }

    /// Forgets callers whose buckets are full again (they are as new): run it now and
    /// then so that memory follows active callers, not every caller ever seen.
    pub fn retain_recent(&self) {
        for (_, limiter) in self.limiters.values() {
            limiter.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(raw: &str) -> Option<Rate> {
        raw.parse::<RateSetting>().unwrap_or_else(|e| panic!("{e}")).0
    }

    #[test]
    fn rates_parse_from_the_environment_syntax() {
        let n = |n| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        assert_eq!(rate("20/10s"), Some(Rate::new(n(20), Duration::from_secs(10))));
        assert_eq!(rate(" 300/1m "), Some(Rate::new(n(300), Duration::from_secs(60))));
        assert_eq!(rate("5/m"), Some(Rate::new(n(5), Duration::from_secs(60))));
        assert_eq!(rate("1000/2h"), Some(Rate::new(n(1000), Duration::from_secs(7200))));
        assert_eq!(rate("OFF"), None);
        for bad in ["", "20", "0/10s", "20/0s", "20/10", "20/10d", "x/1s", "20/-1s", "-3/1s"] {
            assert!(bad.parse::<RateSetting>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_burst_past_the_budget_is_refused_with_the_wait() {
        let one_per_second = Rate::new(NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN), Duration::from_secs(3));
        let settings = RateLimitSettings {
            user: BudgetRates { sends: Some(one_per_second), ..BudgetRates::default() },
            admin: BudgetRates::default(),
        };
        let limits = RateLimits::new(&settings);
        let (alice, bob) = (Principal::user(UserId(1)), Principal::user(UserId(2)));
        let remaining: Vec<u32> =
            (0..3).map(|_| limits.check(&alice, Budget::Sends).ok().flatten().map_or(99, |s| s.remaining)).collect();
        assert_eq!(remaining, [2, 1, 0]);
        let Err(ApiError::RateLimited(refused)) = limits.check(&alice, Budget::Sends) else {
            panic!("the fourth send is refused")
        };
        assert_eq!((refused.remaining, refused.retry_after_secs()), (0, 1));
        let [(_, policy), (_, current)] = refused.headers();
        assert_eq!(policy, "\"sends\";q=3;w=3");
        assert_eq!(current, "\"sends\";r=0;t=1");
        // Buckets are per caller and per budget; admins and reads are unlimited here.
        assert!(limits.check(&bob, Budget::Sends).is_ok_and(|s| s.is_some()));
        assert!(limits.check(&alice, Budget::Reads).is_ok_and(|s| s.is_none()));
        assert!(limits.check(&Principal::admin(UserId(1)), Budget::Sends).is_ok_and(|s| s.is_none()));
    }

    #[test]
    fn every_budgeted_write_is_a_documented_operation() {
        let api = crate::openapi();
        for (method, route, _) in WRITES {
            let item = api.paths.paths.get(route).unwrap_or_else(|| panic!("{route} is not in the spec"));
            let operation = match method {
                "POST" => item.post.as_ref(),
                _ => None,
            };
            assert!(operation.is_some(), "{method} {route} is not in the spec");
        }
        assert_eq!(Budget::of(&Method::GET, "/api/user/chat/support"), Some(Budget::Reads));
        assert_eq!(Budget::of(&Method::GET, "/api/chat/ws"), None, "opening a socket is not a read");
        assert_eq!(Budget::of(&Method::GET, "/healthz"), None);
        assert_eq!(Budget::of(&Method::POST, "/api/user/chat/support/read"), None);
    }
}
