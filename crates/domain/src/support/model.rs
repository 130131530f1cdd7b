//! Support conversation views, queue queries and settings.

use chrono::{DateTime, Utc};

use crate::conversations::{Message, PersonaSummary, SideState, UserSummary};
use crate::ids::{ConversationId, PersonaId, UserId};
use crate::support::hours::SupportHours;
use crate::support::lifecycle::SupportState;

/// A support conversation with everything its header and the queue show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportConversation {
    /// Its id.
    pub id: ConversationId,
    /// The user it belongs to.
    pub user: UserSummary,
    /// Lifecycle fields.
    pub state: SupportState,
    /// The assignee's summary, when assigned.
    pub assignee: Option<UserSummary>,
    /// The persona shown in the header (and the default voice of replies).
    pub persona: Option<PersonaSummary>,
    /// The user's read state.
    pub user_side: SideState,
    /// The team's read state (shared by all admins).
    pub team_side: SideState,
    /// The newest message.
    pub last_message: Option<Message>,
    /// The newest activity.
    pub last_message_at: DateTime<Utc>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// Which conversations the queue shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueStatus {
    /// Users waiting for an answer, longest waiting first.
    Open,
    /// Answered, by last activity.
    Pending,
    /// Done, by last activity.
    Resolved,
    /// Everything, by last activity.
    All,
}

/// Filter on the assignee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    /// Any or none.
    Any,
    /// Unassigned only.
    Nobody,
    /// Assigned to this admin (`me` is resolved to the caller's id at the edge).
    Admin(UserId),
}

/// Where the previous queue page ended, in the order of its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueCursor {
    /// For `open`: the last row's wait start and id.
    Waiting(DateTime<Utc>, ConversationId),
    /// For the others: the last row's activity time and id.
    Activity(DateTime<Utc>, ConversationId),
}

/// A page request on the admin queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueQuery {
    /// Status filter (decides the order).
    pub status: QueueStatus,
    /// Assignee filter.
    pub assignee: AssigneeFilter,
    /// Only conversations showing this persona.
    pub persona: Option<PersonaId>,
    /// Continue after this row.
    pub after: Option<QueueCursor>,
    /// Page size, 1..=100.
    pub limit: u16,
}

impl QueueQuery {
    /// Whether the cursor fits the order of the status filter.
    pub const fn cursor_matches_order(&self) -> bool {
        matches!(
            (self.status, self.after),
            (_, None)
                | (QueueStatus::Open, Some(QueueCursor::Waiting(..)))
                | (QueueStatus::Pending | QueueStatus::Resolved | QueueStatus::All, Some(QueueCursor::Activity(..)))
        )
    }

    /// The cursor after `row`, in this query's order.
    pub fn cursor_after(&self, row: &SupportConversation) -> QueueCursor {
        match (self.status, row.state.waiting_since) {
            (QueueStatus::Open, Some(since)) => QueueCursor::Waiting(since, row.id),
            _ => QueueCursor::Activity(row.last_message_at, row.id),
        }
    }
}

/// How support behaves (from configuration).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SupportSettings {
    /// The persona new conversations show; when unset, the first active support agent.
    pub default_persona: Option<PersonaId>,
    /// When support may show as online (with an admin watching the queue); any time
    /// when unset.
    pub hours: Option<SupportHours>,
}

impl SupportSettings {
    /// Whether support is shown as online at `now`.
    pub fn online_at(&self, now: DateTime<Utc>) -> bool {
        self.hours.is_none_or(|h| h.contains(now))
    }
}
