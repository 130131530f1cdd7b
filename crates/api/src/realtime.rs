//! Real time over WebSocket: one socket per client at `/api/chat/ws`.
//!
//! * [`protocol`]: the frames (every one a `ToSchema`, listed in the OpenAPI components).
//! * [`render`]: domain events rendered once per view (users never see acting admins).
//! * [`signal`]: events sockets act on but never show (a change of blocks).
//! * [`hub`]: the registry task; bounded per-connection queues; slow clients are cut off.
//! * [`session`]: one task per socket (heartbeat, limits, resume, requests).
//! * [`deliveries`]: when each notice reached its online recipients (for the stats).
//! * [`fanout`]: Redis pub/sub between instances, when configured.
//!
//! Publishing happens after commit, through [`RealtimePublisher`], the implementation of
//! the domain's [`EventPublisher`] port; a failed push never fails a write.

pub mod deliveries;
pub mod fanout;
pub mod hub;
pub mod protocol;
pub mod render;
pub mod session;
pub mod signal;

pub use session::{REPLAY_LIMIT, run as run_session};

use std::sync::Arc;

use chat_domain::events::{ChatEvent, EventPublisher};

use self::fanout::Fanout;
use self::hub::Hub;
use self::signal::Signal;

/// Publishes events to this process's sockets and, when configured, to other instances.
#[derive(Debug, Clone)]
pub struct RealtimePublisher {
    hub: Hub,
    fanout: Option<Fanout>,
}

impl RealtimePublisher {
    /// A publisher for this hub, with optional cross-instance fan-out.
    pub const fn new(hub: Hub, fanout: Option<Fanout>) -> Self {
        Self { hub, fanout }
    }
}

impl EventPublisher for RealtimePublisher {
    fn publish(&self, event: ChatEvent) {
        if let Some(signal) = Signal::of(&event) {
            if let Some(fanout) = &self.fanout {
                fanout.forward_signal(signal);
            }
            self.hub.signal(signal);
        }
        if let Some(envelope) = render::envelope(&event) {
            let envelope = Arc::new(envelope);
            if let Some(fanout) = &self.fanout {
                fanout.forward(&envelope);
            }
            self.hub.publish(envelope);
        }
    }
}
