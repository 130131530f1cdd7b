//! What every handler can reach.

use std::sync::Arc;

use chat_domain::direct_messages::DmSettings;
use chat_domain::events::EventPublisher;
use chat_domain::store::Store;
use chat_domain::support::SupportSettings;

use crate::auth::Authenticator;
use crate::rate_limit::{RateLimitSettings, RateLimits};
use crate::realtime::hub::Hub;

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

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// Request-time settings of the API.
#[derive(Debug, Clone, Default)]
pub struct ApiSettings {
    /// Origins allowed to call the API from a browser (the admin SPA, the web app).
    pub cors_allowed_origins: Vec<String>,
    /// Support persona default and hours.
    pub support: SupportSettings,
    /// The active-DM limit.
    pub dms: DmSettings,
    /// Per-caller budgets (the default limits nothing).
    pub rate_limits: RateLimitSettings,
}
