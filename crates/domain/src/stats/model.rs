//! The figures of a report (definitions: docs/admin-guide.md, "Reading the stats").

use chrono::{DateTime, Utc};

use crate::ids::{PersonaId, UserId};
use crate::notifications::NotificationId;
use crate::stats::range::Period;

/// A distribution of durations, in seconds.
///
/// Percentiles are nearest-rank (PostgreSQL's `percentile_disc`): p50 is the smallest
/// observed duration that at least half of them do not exceed, so it is always one of
/// the observed values. `None` when there is nothing to measure.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Durations {
    /// How many durations were measured.
    pub count: i64,
    /// The median.
    pub p50_seconds: Option<f64>,
    /// The 90th percentile.
    pub p90_seconds: Option<f64>,
}

/// Support figures of one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SupportFigures {
    /// Episodes started in the bucket (first contacts and reopens).
    pub opened: i64,
    /// Of those, episodes that reopened a conversation resolved before.
    pub reopened: i64,
    /// Episodes resolved in the bucket.
    pub resolved: i64,
    /// Episodes in progress (started, not resolved) at the bucket's end.
    pub backlog: i64,
    /// Episode start to first staff message, for first responses given in the bucket.
    pub first_response: Durations,
    /// Episode start to resolution, for episodes resolved in the bucket.
    pub resolution: Durations,
}

/// How support figures are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupportGrouping {
    /// One group: everything.
    All,
    /// By the voice of the episode's first response (unanswered until then), for every
    /// event of the episode, its opening included.
    Responder,
    /// By the conversation's assignee at the moment of each event (the start, the
    /// first response, the resolution; a reassignment moves an episode in progress).
    Assignee,
}

/// The group a support row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SupportGroupKey {
    /// [`SupportGrouping::All`].
    All,
    /// First answered as this persona.
    Persona(PersonaId),
    /// First answered as the team ("Support").
    Team,
    /// Not answered (yet).
    Unanswered,
    /// Assigned to this admin.
    Assignee(UserId),
    /// Nobody assigned.
    Unassigned,
}

/// What the database counts for one bucket and group (the backlog is derived).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SupportRow {
    /// Index of the bucket in the list asked for.
    pub bucket: usize,
    /// The group.
    pub key: SupportGroupKey,
    /// Episodes started in the bucket.
    pub opened: i64,
    /// Of those, reopens.
    pub reopened: i64,
    /// Episodes resolved in the bucket.
    pub resolved: i64,
    /// First responses given in the bucket.
    pub first_response: Durations,
    /// Resolutions in the bucket.
    pub resolution: Durations,
    /// Episodes in progress moved into this group in the bucket (a reassignment to it).
    pub moved_in: i64,
    /// Episodes in progress moved out of this group in the bucket.
    pub moved_out: i64,
}

/// Direct-message figures of one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DmFigures {
    /// DMs between two users created in the bucket.
    pub new_user_dms: i64,
    /// DMs between a user and a persona created in the bucket.
    pub new_persona_dms: i64,
    /// Distinct users who sent at least one message in a DM (either kind).
    pub active_users: i64,
    /// Messages sent in DMs between two users.
    pub user_to_user_messages: i64,
    /// Messages users sent to personas.
    pub user_to_persona_messages: i64,
    /// Messages admins sent as personas in persona DMs.
    pub persona_to_user_messages: i64,
}

/// One persona's DM figures in one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PersonaDmFigures {
    /// DMs with this persona created in the bucket.
    pub new_dms: i64,
    /// Distinct users who wrote to this persona.
    pub active_users: i64,
    /// Messages users sent to this persona.
    pub user_messages: i64,
    /// Messages admins sent as this persona.
    pub persona_messages: i64,
}

/// Notice figures of one bucket: notices sent in the bucket, and their reach, reads and
/// live deliveries as of now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NoticeFigures {
    /// Notifications sent.
    pub sent: i64,
    /// Notices delivered into personal groups (one per recipient).
    pub reach: i64,
    /// Of those, notices the recipient has read (their read mark is at or past it).
    pub read: i64,
    /// Frames handed to the sockets of recipients online when the notice was sent.
    pub online_deliveries: i64,
    /// Per notice with at least one online delivery: from its sending (its commit's
    /// transaction time) to the moment its frame was handed to the last online
    /// recipient's socket.
    pub last_online_delivery: Durations,
}

/// What the real-time layer saw of one notice's live deliveries since its last report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoticeDelivery {
    /// The notice.
    pub notification: NotificationId,
    /// Frames handed to recipients' sockets since the last report.
    pub online_deliveries: i64,
    /// The latest of those hand-overs.
    pub last_at: DateTime<Utc>,
}

impl NoticeFigures {
    /// `read / reach`, or `None` when nothing was delivered.
    #[expect(clippy::cast_precision_loss, reason = "a ratio of counts far below 2^52")]
    pub fn read_rate(&self) -> Option<f64> {
        (self.reach > 0).then(|| self.read as f64 / self.reach as f64)
    }
}

/// One bucket of the overview.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OverviewBucket {
    /// The bucket.
    pub period: Period,
    /// Support.
    pub support: SupportFigures,
    /// Direct messages.
    pub dms: DmFigures,
    /// Notices.
    pub notices: NoticeFigures,
}

/// One bucket of a responder's series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResponderBucket {
    /// The bucket.
    pub period: Period,
    /// Support episodes first answered by this voice.
    pub support: SupportFigures,
    /// The persona's DMs (`None` for the team and for unanswered episodes).
    pub persona_dms: Option<PersonaDmFigures>,
}
