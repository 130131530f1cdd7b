//! The machinery every conversation kind shares: messages, history pages, read state,
//! idempotent sends. Support conversations and direct messages use it; neither has a
//! second copy.
//!
//! A conversation is changed only under its row lock ([`ConversationRepository::lock_conversation`]):
//! the use case loads a [`ConversationState`], applies pure rules to it (who posts, read
//! state, lifecycle), and saves it in the same transaction as the message it inserts.

mod message;
mod paging;
mod ports;
mod replay;
mod send;
mod state;

pub use self::message::{Message, MessageBody, MessageKind, NewMessage, PersonaSummary, UserSummary};
pub use self::paging::{HistoryQuery, MAX_PAGE, Page};
pub use self::ports::ConversationRepository;
#[cfg(any(test, feature = "mock"))]
pub use self::ports::MockConversationRepository;
#[cfg(any(test, feature = "mock"))]
pub use self::replay::MockReplayRepository;
pub use self::replay::{Replay, ReplayRepository, replay};
pub use self::send::{AppendError, ReadMark, Sent, append_message, history, mark_read};
pub use self::state::{ConversationState, Side, SideState};
