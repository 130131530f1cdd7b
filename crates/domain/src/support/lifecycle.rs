//! The support lifecycle: `open` -> `pending` -> `resolved`, and back to `open`.

use chrono::{DateTime, Utc};

use crate::ids::UserId;

/// Where a support conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SupportStatus {
    /// The user is waiting for an answer.
    Open,
    /// Answered; waiting for the user.
    Pending,
    /// Done, until the user writes again.
    Resolved,
}

impl SupportStatus {
    /// The stored and serialized name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Resolved => "resolved",
        }
    }

    /// Parses a stored name.
    pub fn from_db(raw: &str) -> Option<Self> {
        [Self::Open, Self::Pending, Self::Resolved].into_iter().find(|s| s.as_str() == raw)
    }
}

/// The lifecycle fields of a support conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupportState {
    /// The status.
    pub status: SupportStatus,
    /// The admin in charge, if any (any admin may still answer).
    pub assignee: Option<UserId>,
    /// Since when the user has been waiting: the oldest unanswered user message.
    pub waiting_since: Option<DateTime<Utc>>,
}

impl SupportState {
    /// A new conversation: open, but nobody is waiting until the user writes.
    pub const fn new() -> Self {
        Self { status: SupportStatus::Open, assignee: None, waiting_since: None }
    }

    /// A user message opens (or reopens) the conversation; the wait starts at the first
    /// unanswered message.
    pub fn on_user_message(&mut self, at: DateTime<Utc>) {
        self.status = SupportStatus::Open;
        self.waiting_since.get_or_insert(at);
    }

    /// A staff reply answers the user: pending, nobody waiting.
    pub const fn on_staff_message(&mut self) {
        self.status = SupportStatus::Pending;
        self.waiting_since = None;
    }

    /// An admin sets the status. Reopening starts a wait now; the other statuses end it.
    pub fn set_status(&mut self, status: SupportStatus, now: DateTime<Utc>) {
        self.status = status;
        match status {
            SupportStatus::Open => {
                self.waiting_since.get_or_insert(now);
            }
            SupportStatus::Pending | SupportStatus::Resolved => self.waiting_since = None,
        }
    }

    /// Whether the idle timer may resolve it: only pending conversations (an open one
    /// has a user waiting and must never be closed behind their back).
    pub const fn auto_resolvable(&self) -> bool {
        matches!(self.status, SupportStatus::Pending)
    }
}

impl Default for SupportState {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn a_user_message_reopens_and_keeps_the_oldest_wait() {
        let t0 = Utc::now();
        let mut s = SupportState { status: SupportStatus::Resolved, assignee: None, waiting_since: None };
        s.on_user_message(t0);
        s.on_user_message(t0 + Duration::minutes(5));
        assert_eq!(s.status, SupportStatus::Open);
        assert_eq!(s.waiting_since, Some(t0));
    }

    #[test]
    fn a_staff_reply_ends_the_wait() {
        let mut s = SupportState::new();
        s.on_user_message(Utc::now());
        s.on_staff_message();
        assert_eq!((s.status, s.waiting_since), (SupportStatus::Pending, None));
        assert!(s.auto_resolvable());
    }

    #[test]
    fn only_pending_conversations_auto_resolve() {
        for (status, expected) in
            [(SupportStatus::Open, false), (SupportStatus::Pending, true), (SupportStatus::Resolved, false)]
        {
            let s = SupportState { status, assignee: None, waiting_since: None };
            assert_eq!(s.auto_resolvable(), expected, "{status:?}");
        }
    }

    #[test]
    fn an_admin_reopening_starts_a_wait_and_resolving_ends_it() {
        let now = Utc::now();
        let mut s = SupportState { status: SupportStatus::Resolved, assignee: None, waiting_since: None };
        s.set_status(SupportStatus::Open, now);
        assert_eq!(s.waiting_since, Some(now));
        s.set_status(SupportStatus::Resolved, now);
        assert_eq!(s.waiting_since, None);
    }
}
