//! Signals: events a socket acts on but never shows its client. They travel the paths
//! frames travel (the hub into each socket's queue, in order with its frames, and the
//! fan-out to other instances), but no frame is ever rendered for them
//! ([`super::render::envelope`] gives none), so nothing of them reaches a client.

use chat_domain::UserId;
use chat_domain::events::ChatEvent;
use serde::{Deserialize, Serialize};

/// Something the sockets of some users act on, unseen by their clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// The block of `blocker` on `blocked` was made or lifted: both users' sockets drop
    /// the "no block" verdicts of DMs between them (`chat_domain::live::NoBlock`).
    BlocksChanged {
        /// Who made or lifted the block.
        blocker: UserId,
        /// Whom it is about.
        blocked: UserId,
    },
}

impl Signal {
    /// The signal of an event that has one.
    pub const fn of(event: &ChatEvent) -> Option<Self> {
        match *event {
            ChatEvent::BlocksChanged { blocker, blocked } => Some(Self::BlocksChanged { blocker, blocked }),
            _ => None,
        }
    }

    /// Whose sockets get it (each of them, on every instance).
    pub const fn users(&self) -> [UserId; 2] {
        match *self {
            Self::BlocksChanged { blocker, blocked } => [blocker, blocked],
        }
    }
}
