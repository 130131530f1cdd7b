//! What every handler can reach.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_domain::RepoError;
use chat_domain::conversations::Sent;
use chat_domain::direct_messages::DmSettings;
use chat_domain::events::{Done, EventPublisher};
use chat_domain::store::{Store, Tx};
use chat_domain::support::SupportSettings;

use crate::auth::Authenticator;
use crate::rate_limit::{RateLimitSettings, RateLimits};
use crate::realtime::hub::Hub;
use crate::send_trace::{SendClock, SendTimeline};

/// Shared application state, cloned into each worker.
#[derive(Clone)]
pub struct AppState {
    /// Runs use cases transactionally (the database adapter, behind the domain port).
    pub store: Arc<dyn Store>,
    /// Verifies bearer tokens.
    pub auth: Arc<Authenticator>,
    /// The WebSocket connection registry of this process.
    pub hub: Hub,
    /// Publishes committed events to sockets (and other instances).
    pub events: Arc<dyn EventPublisher>,
    /// Settings the API needs at request time.
    pub settings: Arc<ApiSettings>,
    /// Every caller's rate-limit buckets (REST and WebSocket draw on the same ones).
    pub limits: Arc<RateLimits>,
}

impl AppState {
    /// Runs a write use case in one transaction and, once it has committed, publishes
    /// the events it returned. Handlers and socket requests run every write through
    /// here: no other code publishes (a failed publication never fails the write).
    pub async fn perform<T, E, F>(&self, use_case: F) -> Result<T, E>
    where
        F: FnOnce(&mut dyn Tx) -> Result<Done<T>, E> + Send + 'static,
        T: Send + 'static,
        E: From<RepoError> + Send + 'static,
    {
        perform(self.store.as_ref(), self.events.as_ref(), use_case).await
    }

    /// [`Self::perform`] for a send: the use case may share its transaction (and its
    /// commit) with concurrent sends when group commit is on, and may then run more than
    /// once (hence `FnMut`); its result and events come only after its commit. A
    /// committed send's stages since `clock` are measured, and logged when slow
    /// ([`crate::send_trace`]).
    pub async fn perform_send<E, F>(&self, clock: SendClock, use_case: F) -> Result<Sent, E>
    where
        F: FnMut(&mut dyn Tx) -> Result<Done<Sent>, E> + Send + 'static,
        E: From<RepoError> + Send + 'static,
    {
        let mut timeline = SendTimeline::handed_over(clock);
        let (done, stages) = self.store.run_shared(use_case).await;
        timeline.resumed = Instant::now();
        let sent = announce(self.events.as_ref(), done?);
        timeline.announced = Instant::now();
        timeline.store = stages;
        timeline.report(&sent.message, self.settings.slow_send);
        Ok(sent)
    }

    /// Publishes the events of a use case that touched no storage (typing answered
    /// without the store: where no block can apply, or from a socket's standing
    /// verdict), and returns its result.
    pub fn announce<T>(&self, done: Done<T>) -> T {
        announce(self.events.as_ref(), done)
    }
}

/// [`AppState::perform`] for code that holds a store and a publisher but no app state
/// (the server's housekeeping loop): the one path from a use case to its events.
pub async fn perform<T, E, F>(store: &dyn Store, events: &dyn EventPublisher, use_case: F) -> Result<T, E>
where
    F: FnOnce(&mut dyn Tx) -> Result<Done<T>, E> + Send + 'static,
    T: Send + 'static,
    E: From<RepoError> + Send + 'static,
{
    let done = store.run(use_case).await?;
    Ok(announce(events, done))
}

fn announce<T>(events: &dyn EventPublisher, done: Done<T>) -> T {
    for event in done.events {
        events.publish(event);
    }
    done.value
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// Request-time settings of the API.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Origins allowed to call the API from a browser (the admin SPA, the web app).
    pub cors_allowed_origins: Vec<String>,
    /// Support persona default and hours.
    pub support: SupportSettings,
    /// The active-DM limit.
    pub dms: DmSettings,
    /// Per-caller budgets (the default limits nothing).
    pub rate_limits: RateLimitSettings,
    /// How long a client may take to send a request's head (actix-web's
    /// `client_request_timeout`): a slow head is answered 408 and the connection closed.
    pub head_timeout: Duration,
    /// How long a client may take to send a request's body once it is read: a trickled
    /// body is answered 408 and the connection closed, so one client cannot hold
    /// descriptors by sending a byte a second.
    pub body_timeout: Duration,
    /// A committed send that took this long or longer, from its request to its events'
    /// announcement, is logged with its stages (`chat::slow_send`; 0 logs every send).
    pub slow_send: Duration,
}

/// The default of [`ApiSettings::head_timeout`].
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// The default of [`ApiSettings::body_timeout`].
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// The default of [`ApiSettings::slow_send`].
pub const DEFAULT_SLOW_SEND: Duration = Duration::from_millis(50);

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            cors_allowed_origins: Vec::new(),
            support: SupportSettings::default(),
            dms: DmSettings::default(),
            rate_limits: RateLimitSettings::default(),
            head_timeout: DEFAULT_HEAD_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            slow_send: DEFAULT_SLOW_SEND,
        }
    }
}
