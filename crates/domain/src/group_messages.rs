//! Reading group chats: the messages of groups the caller is a member of (the main
//! group, their personal group, other groups), with notices rendered by their display
//! contract, read marks, and the per-group summary a chat list shows.
//!
//! Membership decides access: a group the caller is not in answers exactly like a group
//! that does not exist. The old shared support groups are never served (their messages
//! belong to many users' support threads; support conversations replaced them).
//! Expired and retracted notices are invisible everywhere: in pages, previews and
//! unread counts. Users never post into their personal group ([`authorize_group_post`]).

mod model;
mod ports;
mod read;

pub use self::model::{
    GroupEntry, GroupInfo, GroupKind, GroupMessage, GroupReadState, GroupSender, GroupSummary, Notice, UNREAD_CAP,
};
pub use self::ports::GroupMessageRepository;
#[cfg(any(test, feature = "mock"))]
pub use self::ports::MockGroupMessageRepository;
pub use self::read::{
    GroupError, GroupPostError, authorize_group_post, group_history, group_summaries, mark_group_read,
};
