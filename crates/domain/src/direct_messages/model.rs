//! DM views, queries and settings.

use chrono::{DateTime, Utc};

use crate::conversations::{Message, PersonaSummary, SideState, UserSummary};
use crate::ids::{ConversationId, PersonaId, UserId};

/// Whom a DM is started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmTarget {
    /// A real user.
    User(UserId),
    /// A persona.
    Persona(PersonaId),
}

/// The two kinds of DM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DmKind {
    /// Two real users.
    UserDm,
    /// A real user and a persona.
    PersonaDm,
}

/// The party on side two of a DM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DmParty {
    /// Another real user.
    User(UserSummary),
    /// A persona.
    Persona(PersonaSummary),
}

/// A DM with everything a header and a list row show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmSummary {
    /// Its id.
    pub id: ConversationId,
    /// Side one: a real user.
    pub user_one: UserSummary,
    /// Side two: another user or a persona.
    pub other: DmParty,
    /// Side one's read state.
    pub side_one: SideState,
    /// Side two's read state (for persona DMs, the team's).
    pub side_two: SideState,
    /// Whether side one archived it.
    pub archived_one: bool,
    /// Whether side two archived it.
    pub archived_two: bool,
    /// The newest message.
    pub last_message: Option<Message>,
    /// The newest activity.
    pub last_message_at: DateTime<Utc>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl DmSummary {
    /// Its kind.
    pub const fn kind(&self) -> DmKind {
        match self.other {
            DmParty::User(_) => DmKind::UserDm,
            DmParty::Persona(_) => DmKind::PersonaDm,
        }
    }

    /// Whether `user` is on side one (else, for a participant, side two).
    pub fn is_side_one(&self, user: UserId) -> bool {
        self.user_one.id == user
    }

    /// Who is in it: the audience of its events.
    pub const fn participants(&self) -> crate::access::Participants {
        match &self.other {
            DmParty::User(other) => crate::access::Participants::UserDm { a: self.user_one.id, b: other.id },
            DmParty::Persona(persona) => {
                crate::access::Participants::PersonaDm { user: self.user_one.id, persona: persona.id }
            }
        }
    }
}

/// Where the previous page of a DM list ended (last activity, then id, descending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmCursor(pub DateTime<Utc>, pub ConversationId);

/// A page of the caller's DMs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmListQuery {
    /// Archived DMs instead of active ones.
    pub archived: bool,
    /// Continue after this row.
    pub after: Option<DmCursor>,
    /// Page size, 1..=100.
    pub limit: u16,
}

/// A page of every DM, for admins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminDmQuery {
    /// Only DMs this user is in.
    pub user: Option<UserId>,
    /// Only DMs with this persona.
    pub persona: Option<PersonaId>,
    /// Only this kind.
    pub kind: Option<DmKind>,
    /// Only persona DMs whose last message is the user's (waiting for a persona reply).
    pub waiting: bool,
    /// Continue after this row.
    pub after: Option<DmCursor>,
    /// Page size, 1..=100.
    pub limit: u16,
}

/// How DMs behave (from configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DmSettings {
    /// The most active (not archived) DMs a user may have when starting another.
    pub max_active: i64,
}

impl Default for DmSettings {
    fn default() -> Self {
        Self { max_active: 100 }
    }
}

/// A user the caller has blocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedUser {
    /// The blocked user.
    pub user: UserSummary,
    /// Since when.
    pub blocked_at: DateTime<Utc>,
}

/// One recorded staff access to a DM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogEntry {
    /// Its id (also the page cursor).
    pub id: i64,
    /// The admin.
    pub admin: UserSummary,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// What they did: `read_messages` or `search`.
    pub action: String,
    /// When.
    pub accessed_at: DateTime<Utc>,
}

/// A page of the access log, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessLogQuery {
    /// Only this admin's accesses.
    pub admin: Option<UserId>,
    /// Only accesses to this conversation.
    pub conversation: Option<ConversationId>,
    /// Entries older than this id.
    pub before: Option<i64>,
    /// Page size, 1..=100.
    pub limit: u16,
}
