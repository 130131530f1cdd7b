//! Groups, their messages and notices, and read state.

use chrono::{DateTime, Utc};

use crate::conversations::MessageKind;
use crate::ids::{GroupId, MessageId, PersonaId, UserId};
use crate::notifications::{NotificationId, NotificationStyle};

/// Unread counts stop at this many: a client shows "999+" rather than the service
/// counting a long-unread busy group's every message on each chat-list request.
pub const UNREAD_CAP: i64 = 1000;

/// The kinds of group this service serves (old shared support groups are not served).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupKind {
    /// The community's main group ("Main PEA Communication").
    Main,
    /// A user's personal group: notices only, read-only for the user.
    Personal,
    /// Any other group.
    Other,
}

impl GroupKind {
    /// The stored and serialized name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Main => "main",
            Self::Personal => "personal",
            Self::Other => "other",
        }
    }

    /// Parses a stored kind; `None` for `support` (and anything unknown).
    pub fn from_db(raw: &str) -> Option<Self> {
        [Self::Main, Self::Personal, Self::Other].into_iter().find(|k| k.as_str() == raw)
    }
}

/// A group as its members see it in headers and lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// Its id.
    pub id: GroupId,
    /// Its title.
    pub name: String,
    /// Its kind.
    pub kind: GroupKind,
    /// The owner of a personal group.
    pub owner: Option<UserId>,
    /// Header avatar.
    pub avatar_url: Option<String>,
    /// When it was created (its activity time before any message).
    pub created_at: DateTime<Utc>,
}

/// Who wrote a regular group message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupSender {
    /// A real user.
    User {
        /// Their id.
        id: UserId,
        /// Their display name.
        name: String,
    },
    /// A persona.
    Persona {
        /// Its id.
        id: PersonaId,
        /// Its name.
        name: String,
    },
    /// An admin writing as themselves (the existing app's `admin` sender type).
    Admin {
        /// Their id.
        id: UserId,
        /// Their display name.
        name: String,
    },
    /// A sender the existing data no longer names (deleted user, missing id).
    Unknown,
}

/// A notice as recipients see it: no sender, centred, in its style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The notification it belongs to.
    pub notification: NotificationId,
    /// How it looks.
    pub style: NotificationStyle,
    /// When it disappears, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// What a group message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupEntry {
    /// A message written by someone.
    Message {
        /// Its author.
        sender: GroupSender,
        /// What it carries (unknown legacy types read as text).
        kind: MessageKind,
    },
    /// An admin notice.
    Notice(Notice),
}

/// A message of a group, visible now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMessage {
    /// Its id (the history cursor).
    pub id: MessageId,
    /// Its group.
    pub group_id: GroupId,
    /// A message or a notice.
    pub entry: GroupEntry,
    /// Its text or URL, as stored.
    pub content: String,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// A member's read state in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupReadState {
    /// The newest message they have read (`MessageId(0)` before any).
    pub last_read: MessageId,
    /// Visible messages after it not written by them, up to [`UNREAD_CAP`].
    pub unread: i64,
}

/// One group in a user's chat list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    /// The group.
    pub group: GroupInfo,
    /// Its newest visible message (expired and retracted notices excluded).
    pub last_message: Option<GroupMessage>,
    /// The user's read state.
    pub read: GroupReadState,
}

impl GroupSummary {
    /// Its last activity: the newest visible message, else the group's creation.
    pub fn last_activity(&self) -> DateTime<Utc> {
        self.last_message.as_ref().map_or(self.group.created_at, |m| m.created_at)
    }
}
