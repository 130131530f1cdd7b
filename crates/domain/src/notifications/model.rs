//! Notices as sent, stored and listed.

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::conversations::UserSummary;
use crate::ids::UserId;
use crate::notifications::audience::{Audience, AudienceKind};
use crate::notifications::style::NotificationStyle;
use crate::values::{MessageContent, ValueError};

/// A row of `chat_notifications`: one send, whatever its audience.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NotificationId(pub i64);

impl NotificationId {
    /// The raw database value.
    pub const fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for NotificationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Refuses an expiry that is not in the future: such a notice would reach nobody.
pub fn check_expiry(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<(), ValueError> {
    match expires_at {
        Some(at) if at <= now => Err(ValueError::new("in_past", "must be in the future")),
        _ => Ok(()),
    }
}

/// Whether recipients see a notice at `now`: not retracted, and not expired (a notice
/// expiring exactly at `now` is gone). The adapter's SQL applies the same rule.
pub fn is_visible(retracted_at: Option<DateTime<Utc>>, expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    retracted_at.is_none() && expires_at.is_none_or(|at| at > now)
}

/// A validated request to send a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    /// Who receives it.
    pub audience: Audience,
    /// Its text (the same rules as messages).
    pub content: MessageContent,
    /// How it looks.
    pub style: NotificationStyle,
    /// When it disappears from recipients' views, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// The client's idempotency key: a retry with the same key creates nothing.
    pub client_id: Option<Uuid>,
}

impl NewNotification {
    /// Checks the rules that involve more than one field or the clock.
    pub fn new(
        audience: Audience,
        content: MessageContent,
        style: NotificationStyle,
        expires_at: Option<DateTime<Utc>>,
        client_id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<Self, (&'static str, ValueError)> {
        check_expiry(expires_at, now).map_err(|e| ("expiresAt", e))?;
        Ok(Self { audience, content, style, expires_at, client_id })
    }
}

/// The outcome of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentNotification {
    /// The notification.
    pub id: NotificationId,
    /// How many users it reached (personal groups it was stored in).
    pub reach: i64,
    /// `false` when a retry with the same key found it already sent.
    pub created: bool,
    /// Whom to push it to after the commit; `None` for a retry (nothing new to push).
    pub delivered_to: Option<Audience>,
}

/// A page request on the admin history, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationQuery {
    /// Only notices that reached this user.
    pub user: Option<UserId>,
    /// Strictly older than this notification.
    pub before: Option<NotificationId>,
    /// Page size, 1..=100.
    pub limit: u16,
}

/// Where a notice stands for its recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationStatus {
    /// Shown to recipients.
    Active,
    /// Past its expiry: shown to nobody.
    Expired,
    /// Retracted by an admin: shown to nobody.
    Retracted,
}

/// A notice in the admin history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRecord {
    /// Its id.
    pub id: NotificationId,
    /// The shape of its audience.
    pub audience: AudienceKind,
    /// The recipient of a single-user notice.
    pub target_user: Option<UserSummary>,
    /// Its text.
    pub content: String,
    /// Its style.
    pub style: NotificationStyle,
    /// The admin who sent it.
    pub sent_by: UserSummary,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// When it expires, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was retracted, if it was.
    pub retracted_at: Option<DateTime<Utc>>,
    /// How many users it reached.
    pub reach: i64,
    /// How many of them have read it (their read mark in their personal group is at or
    /// past it).
    pub read_count: i64,
}

impl NotificationRecord {
    /// Its status at `now`; a retraction wins over an expiry.
    pub fn status(&self, now: DateTime<Utc>) -> NotificationStatus {
        if self.retracted_at.is_some() {
            NotificationStatus::Retracted
        } else if is_visible(None, self.expires_at, now) {
            NotificationStatus::Active
        } else {
            NotificationStatus::Expired
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn new(
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<NewNotification, (&'static str, ValueError)> {
        NewNotification::new(
            Audience::AllUsers,
            MessageContent::parse("hello").unwrap(),
            NotificationStyle::default(),
            expires_at,
            None,
            now,
        )
    }

    #[test]
    fn an_expiry_must_lie_in_the_future() {
        let now = Utc::now();
        assert!(new(None, now).is_ok());
        assert!(new(Some(now + Duration::seconds(1)), now).is_ok());
        for past in [now, now - Duration::seconds(1), now - Duration::days(365)] {
            let (field, e) = new(Some(past), now).unwrap_err();
            assert_eq!((field, e.code), ("expiresAt", "in_past"));
        }
    }

    #[test]
    fn a_notice_is_visible_until_it_expires_or_is_retracted() {
        let now = Utc::now();
        let later = now + Duration::minutes(5);
        assert!(is_visible(None, None, now));
        assert!(is_visible(None, Some(later), now));
        assert!(!is_visible(None, Some(now), now), "gone at the expiry instant");
        assert!(!is_visible(None, Some(later), later + Duration::milliseconds(1)));
        assert!(!is_visible(Some(now), None, now));
        assert!(!is_visible(Some(now), Some(later), now));
    }

    #[test]
    fn status_prefers_retraction_over_expiry() {
        let now = Utc::now();
        let mut record = NotificationRecord {
            id: NotificationId(1),
            audience: AudienceKind::AllUsers,
            target_user: None,
            content: "x".into(),
            style: NotificationStyle::default(),
            sent_by: UserSummary { id: UserId(1), display_name: "Ada".into(), profile_photo_url: None },
            created_at: now - Duration::hours(2),
            expires_at: Some(now + Duration::hours(1)),
            retracted_at: None,
            reach: 3,
            read_count: 1,
        };
        assert_eq!(record.status(now), NotificationStatus::Active);
        assert_eq!(record.status(now + Duration::hours(2)), NotificationStatus::Expired);
        record.retracted_at = Some(now);
        assert_eq!(record.status(now + Duration::hours(2)), NotificationStatus::Retracted);
    }
}
