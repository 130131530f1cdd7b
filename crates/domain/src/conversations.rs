//! The machinery every conversation kind shares: messages, history pages, read state,
//! idempotent sends. Support conversations and direct messages use it; neither has a
//! second copy.
//!
//! A conversation is changed only under its row lock ([`ConversationRepository::lock_conversation`]):
//! the use case loads a [`ConversationState`], applies pure rules to it (read marks,
//! lifecycle, archive), and saves it in the same transaction. A new message is the one
//! exception, for speed: the use case decides who speaks from which side, and the
//! repository applies the message's effect ([`ConversationState::apply_message`], the
//! model) under the row's lock in one step ([`ConversationRepository::append`]).

mod message;
mod paging;
mod ports;
mod replay;
mod send;
mod state;

pub use self::message::{Message, MessageBody, MessageKind, NewMessage, PersonaSummary, UserSummary};
pub use self::paging::{HistoryQuery, MAX_PAGE, Page};
#[cfg(any(test, feature = "mock"))]
pub use self::ports::MockConversationRepository;
pub use self::ports::{Append, AppendTarget, Appended, ConversationRepository};
#[cfg(any(test, feature = "mock"))]
pub use self::replay::MockReplayRepository;
pub use self::replay::{Replay, ReplayRepository, replay};
pub use self::send::{AppendError, ReadMark, Sent, append_message, history, mark_read};
pub use self::state::{ConversationState, Side, SideState};
