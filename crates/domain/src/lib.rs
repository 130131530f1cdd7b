//! The chat service's rules, independent of any database or web framework.
//!
//! * [`ids`], [`principal`] and [`values`]: typed identifiers, the authenticated caller,
//!   and validated values (a value with a rule can only exist once it passed that rule).
//! * [`access`]: who may read and post in which conversation, and under which voice.
//! * [`store`]: the unit-of-work port through which every use case runs in one
//!   transaction, and the repository ports it combines.
//! * [`conversations`]: what every conversation kind shares (messages, history pages,
//!   read state, idempotent sends).
//! * One module per bounded context ([`personas`], [`support`], [`direct_messages`],
//!   [`users`], [`notifications`], [`group_messages`], [`moderation`], [`search`],
//!   [`group_members`], [`notes`], [`stats`]).
//! * [`webhooks`]: missed-message digests for the existing app (outbox, digests, delivery).
//! * [`live`]: the rules of the socket's requests that name only a conversation
//!   (typing, and which side a read moves).
//!
//! This crate depends on no diesel, actix or utoipa crate; CI checks that it stays so.

pub mod access;
pub mod chat_list;
pub mod conversations;
pub mod direct_messages;
pub mod error;
pub mod events;
pub mod group_members;
pub mod group_messages;
pub mod ids;
pub mod live;
pub mod moderation;
pub mod notes;
pub mod notifications;
pub mod personas;
pub mod principal;
pub mod search;
pub mod stats;
pub mod store;
pub mod support;
#[cfg(test)]
mod test_repo;
pub mod users;
pub mod values;
pub mod webhooks;

pub use error::{AdminError, RepoError};
pub use ids::{ConversationId, GroupId, MessageId, PersonaId, UserId};
pub use principal::{Principal, Role};
