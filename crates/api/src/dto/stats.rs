//! Bodies of the admin stats (definitions of every figure: docs/admin-guide.md,
//! "Reading the stats").

use chat_domain::stats::{
    AssigneeSeries, BucketSize, DmFigures, Durations, NoticeFigures, Overview, OverviewBucket, PersonaDmFigures,
    ResponderBucket, ResponderSeries, StatsRange, SupportFigures, SupportGroupKey,
};
use chat_domain::support::SupportHours;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::Violations;
use crate::problem::ApiError;

/// How the range is cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BucketParam {
    /// UTC calendar days (default).
    #[default]
    Day,
    /// ISO weeks, Monday 00:00 UTC to the next Monday.
    Week,
}

/// The range of a report: whole UTC days, `from` inclusive, `to` exclusive, at most
/// 366 days; with `bucket=week` both must be Mondays.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// The first day (UTC), e.g. `2026-11-02`.
    #[param(value_type = String, format = Date, example = "2026-11-02")]
    pub from: NaiveDate,
    /// The day after the last (UTC, exclusive); after `from`, at most 366 days later.
    #[param(value_type = String, format = Date, example = "2026-11-30")]
    pub to: NaiveDate,
    /// `day` (default) or `week`.
    #[serde(default)]
    #[param(inline)]
    pub bucket: BucketParam,
}

impl StatsParams {
    /// Validates the range; each problem names its field (`from`, `to`).
    pub fn try_into_domain(self) -> Result<StatsRange, ApiError> {
        let bucket = match self.bucket {
            BucketParam::Day => BucketSize::Day,
            BucketParam::Week => BucketSize::Week,
        };
        let mut v = Violations::default();
        let range = match StatsRange::new(self.from, self.to, bucket) {
            Ok(range) => Some(range),
            Err(errors) => {
                for e in errors {
                    let code = match e {
                        chat_domain::stats::RangeError::Empty => "empty_range",
                        chat_domain::stats::RangeError::TooLong => "range_too_long",
                        _ => "not_a_monday",
                    };
                    v.push(e.field(), code, &e.to_string());
                }
                None
            }
        };
        v.finish(|| range)
    }
}

/// A distribution of durations in seconds. Percentiles are nearest-rank: each is one
/// of the measured durations; `null` when nothing was measured.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DurationStats {
    /// How many durations were measured.
    pub count: i64,
    /// Median, in seconds.
    pub p50_seconds: Option<f64>,
    /// 90th percentile, in seconds.
    pub p90_seconds: Option<f64>,
}

impl From<Durations> for DurationStats {
    fn from(d: Durations) -> Self {
        Self { count: d.count, p50_seconds: d.p50_seconds, p90_seconds: d.p90_seconds }
    }
}

/// Support figures of one bucket.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupportStats {
    /// Episodes started in the bucket: a user wrote while no episode was in progress.
    pub opened: i64,
    /// Of `opened`, those that reopened a conversation resolved before.
    pub reopened: i64,
    /// Episodes resolved in the bucket (by an admin or the idle timer).
    pub resolved: i64,
    /// Episodes in progress (started, not resolved) at the bucket's end.
    pub backlog: i64,
    /// Episode start to the first staff message, for first responses given in the bucket.
    pub first_response: DurationStats,
    /// Episode start to resolution, for episodes resolved in the bucket.
    pub resolution: DurationStats,
}

impl From<SupportFigures> for SupportStats {
    fn from(f: SupportFigures) -> Self {
        Self {
            opened: f.opened,
            reopened: f.reopened,
            resolved: f.resolved,
            backlog: f.backlog,
            first_response: f.first_response.into(),
            resolution: f.resolution.into(),
        }
    }
}

/// Direct-message figures of one bucket.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DmStats {
    /// DMs between two users created in the bucket.
    pub new_user_dms: i64,
    /// DMs between a user and a persona created in the bucket.
    pub new_persona_dms: i64,
    /// Distinct users who sent a message in a DM (either kind).
    pub active_users: i64,
    /// Messages in DMs between two users.
    pub user_to_user_messages: i64,
    /// Messages users sent to personas.
    pub user_to_persona_messages: i64,
    /// Messages admins sent as personas in persona DMs.
    pub persona_to_user_messages: i64,
}

impl From<DmFigures> for DmStats {
    fn from(f: DmFigures) -> Self {
        Self {
            new_user_dms: f.new_user_dms,
            new_persona_dms: f.new_persona_dms,
            active_users: f.active_users,
            user_to_user_messages: f.user_to_user_messages,
            user_to_persona_messages: f.user_to_persona_messages,
            persona_to_user_messages: f.persona_to_user_messages,
        }
    }
}

/// Notices sent in one bucket, with their reach, reads and live deliveries as of now.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoticeStats {
    /// Notifications sent.
    pub sent: i64,
    /// Notices delivered into personal groups (one per recipient).
    pub reach: i64,
    /// Of those, notices their recipient has read.
    pub read: i64,
    /// `read / reach`, 0..=1; `null` when nothing was delivered.
    pub read_rate: Option<f64>,
    /// Frames handed to the sockets of recipients who were online when the notice was
    /// sent (recorded within about a minute).
    pub online_deliveries: i64,
    /// Per notice with at least one online delivery: from its sending to the hand-over
    /// of its frame to the last online recipient's socket. Offline recipients do not
    /// count.
    pub last_online_delivery: DurationStats,
}

impl From<NoticeFigures> for NoticeStats {
    fn from(f: NoticeFigures) -> Self {
        Self {
            sent: f.sent,
            reach: f.reach,
            read: f.read,
            read_rate: f.read_rate(),
            online_deliveries: f.online_deliveries,
            last_online_delivery: f.last_online_delivery.into(),
        }
    }
}

/// One bucket of the overview.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsBucket {
    /// Start of the bucket (inclusive).
    pub start: DateTime<Utc>,
    /// End of the bucket (exclusive).
    pub end: DateTime<Utc>,
    /// Support.
    pub support: SupportStats,
    /// Direct messages.
    pub direct_messages: DmStats,
    /// Notices.
    pub notices: NoticeStats,
}

impl From<OverviewBucket> for StatsBucket {
    fn from(b: OverviewBucket) -> Self {
        Self {
            start: b.period.start,
            end: b.period.end,
            support: b.support.into(),
            direct_messages: b.dms.into(),
            notices: b.notices.into(),
        }
    }
}

/// Isolation: events the real-time layer refused to deliver because the recipient
/// failed the audience check. Must stay 0.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrivacyStats {
    /// Refused deliveries counted by the instance that answered, since it started (the
    /// Prometheus counter `chat_ws_events_refused_total` sums every instance).
    pub refused_events: u64,
    /// When the answering instance started counting.
    pub counting_since: DateTime<Utc>,
}

/// The range and bucket a report covers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsRangeBody {
    /// The first day.
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    /// The day after the last.
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    /// The bucket size.
    pub bucket: BucketParam,
}

impl From<StatsRange> for StatsRangeBody {
    fn from(r: StatsRange) -> Self {
        let bucket = match r.bucket() {
            BucketSize::Day => BucketParam::Day,
            BucketSize::Week => BucketParam::Week,
        };
        Self { from: r.from(), to: r.to(), bucket }
    }
}

/// The success metrics, bucket by bucket.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = example_overview)]
pub struct StatsOverview {
    /// What the report covers.
    pub range: StatsRangeBody,
    /// One per bucket, in order; they tile the range.
    pub buckets: Vec<StatsBucket>,
    /// Isolation.
    pub privacy: PrivacyStats,
    /// The daily UTC window (`CHAT_SUPPORT_HOURS_UTC`, `HH:MM-HH:MM`) that support
    /// durations count in: time outside it is not counted. `null`: wall-clock time.
    pub support_hours_utc: Option<String>,
}

impl StatsOverview {
    /// The body of an overview, with the answering instance's privacy counter.
    pub fn new(overview: Overview, privacy: PrivacyStats, hours: Option<SupportHours>) -> Self {
        Self {
            range: overview.range.into(),
            buckets: overview.buckets.into_iter().map(StatsBucket::from).collect(),
            privacy,
            support_hours_utc: hours.map(|h| h.to_string()),
        }
    }
}

/// Who gave an episode's first response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponderKind {
    /// A persona (`personaId`).
    Persona,
    /// The team, as "Support".
    Team,
    /// Nobody yet.
    Unanswered,
}

/// A persona's DM figures in one bucket.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonaDmStats {
    /// DMs with this persona created in the bucket.
    pub new_dms: i64,
    /// Distinct users who wrote to this persona.
    pub active_users: i64,
    /// Messages users sent to this persona.
    pub user_messages: i64,
    /// Messages admins sent as this persona.
    pub persona_messages: i64,
}

impl From<PersonaDmFigures> for PersonaDmStats {
    fn from(f: PersonaDmFigures) -> Self {
        Self {
            new_dms: f.new_dms,
            active_users: f.active_users,
            user_messages: f.user_messages,
            persona_messages: f.persona_messages,
        }
    }
}

/// One bucket of a responder's series.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResponderStatsBucket {
    /// Start of the bucket (inclusive).
    pub start: DateTime<Utc>,
    /// End of the bucket (exclusive).
    pub end: DateTime<Utc>,
    /// Support episodes whose first response came from this voice.
    pub support: SupportStats,
    /// The persona's DMs; `null` for the team and for unanswered episodes.
    pub persona_dms: Option<PersonaDmStats>,
}

impl From<ResponderBucket> for ResponderStatsBucket {
    fn from(b: ResponderBucket) -> Self {
        Self {
            start: b.period.start,
            end: b.period.end,
            support: b.support.into(),
            persona_dms: b.persona_dms.map(PersonaDmStats::from),
        }
    }
}

/// One responder's series.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResponderStats {
    /// Whose first responses these are.
    pub responder: ResponderKind,
    /// The persona, when `responder` is `persona`; else `null`.
    pub persona_id: Option<i32>,
    /// One per bucket, in order.
    pub buckets: Vec<ResponderStatsBucket>,
}

impl From<ResponderSeries> for ResponderStats {
    fn from(s: ResponderSeries) -> Self {
        let (responder, persona_id) = match s.key {
            SupportGroupKey::Persona(p) => (ResponderKind::Persona, Some(p.get())),
            SupportGroupKey::Team => (ResponderKind::Team, None),
            _ => (ResponderKind::Unanswered, None),
        };
        Self { responder, persona_id, buckets: s.buckets.into_iter().map(ResponderStatsBucket::from).collect() }
    }
}

/// Support and persona-DM figures per responder.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = example_by_persona)]
pub struct StatsByPersona {
    /// What the report covers.
    pub range: StatsRangeBody,
    /// Personas by id, then the team, then unanswered episodes; only those with data.
    pub groups: Vec<ResponderStats>,
    /// The daily UTC window (`CHAT_SUPPORT_HOURS_UTC`, `HH:MM-HH:MM`) that support
    /// durations count in: time outside it is not counted. `null`: wall-clock time.
    pub support_hours_utc: Option<String>,
}

/// One bucket of support figures.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupportStatsBucket {
    /// Start of the bucket (inclusive).
    pub start: DateTime<Utc>,
    /// End of the bucket (exclusive).
    pub end: DateTime<Utc>,
    /// Support episodes of this assignee.
    pub support: SupportStats,
}

/// One assignee's series.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssigneeStats {
    /// The admin's user id; `null` for episodes nobody was assigned.
    pub assignee_id: Option<i32>,
    /// One per bucket, in order.
    pub buckets: Vec<SupportStatsBucket>,
}

impl From<AssigneeSeries> for AssigneeStats {
    fn from(s: AssigneeSeries) -> Self {
        Self {
            assignee_id: s.assignee.map(|a| a.get()),
            buckets: s
                .buckets
                .into_iter()
                .map(|(p, f)| SupportStatsBucket { start: p.start, end: p.end, support: f.into() })
                .collect(),
        }
    }
}

/// Support figures per assignee.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = example_by_assignee)]
pub struct StatsByAssignee {
    /// What the report covers.
    pub range: StatsRangeBody,
    /// Assignees by user id, then unassigned episodes; only those with data.
    pub groups: Vec<AssigneeStats>,
    /// The daily UTC window (`CHAT_SUPPORT_HOURS_UTC`, `HH:MM-HH:MM`) that support
    /// durations count in: time outside it is not counted. `null`: wall-clock time.
    pub support_hours_utc: Option<String>,
}

fn example_support() -> Value {
    json!({
        "opened": 12, "reopened": 3, "resolved": 10, "backlog": 4,
        "firstResponse": { "count": 11, "p50Seconds": 540.0, "p90Seconds": 3720.0 },
        "resolution": { "count": 10, "p50Seconds": 7200.0, "p90Seconds": 86400.0 }
    })
}

fn example_range() -> Value {
    json!({ "from": "2026-11-23", "to": "2026-11-24", "bucket": "day" })
}

fn example_overview() -> Value {
    json!({
        "range": example_range(),
        "buckets": [{
            "start": "2026-11-23T00:00:00Z", "end": "2026-11-24T00:00:00Z",
            "support": example_support(),
            "directMessages": {
                "newUserDms": 5, "newPersonaDms": 2, "activeUsers": 40,
                "userToUserMessages": 310, "userToPersonaMessages": 25, "personaToUserMessages": 19
            },
            "notices": {
                "sent": 1, "reach": 200, "read": 150, "readRate": 0.75, "onlineDeliveries": 40,
                "lastOnlineDelivery": { "count": 1, "p50Seconds": 0.35, "p90Seconds": 0.35 }
            }
        }],
        "privacy": { "refusedEvents": 0, "countingSince": "2026-11-20T08:00:00Z" }
    })
}

fn example_by_persona() -> Value {
    json!({
        "range": example_range(),
        "groups": [{
            "responder": "persona", "personaId": 1,
            "buckets": [{
                "start": "2026-11-23T00:00:00Z", "end": "2026-11-24T00:00:00Z",
                "support": example_support(),
                "personaDms": { "newDms": 2, "activeUsers": 6, "userMessages": 25, "personaMessages": 19 }
            }]
        }]
    })
}

fn example_by_assignee() -> Value {
    json!({
        "range": example_range(),
        "groups": [{
            "assigneeId": 6,
            "buckets": [{ "start": "2026-11-23T00:00:00Z", "end": "2026-11-24T00:00:00Z", "support": example_support() }]
        }]
    })
}
