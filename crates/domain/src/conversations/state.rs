//! A conversation's mutable state, read and written under its row lock.

use chrono::{DateTime, Utc};

use crate::access::{Author, Participants};
use crate::ids::{ConversationId, MessageId, PersonaId, UserId};
use crate::support::SupportState;

/// One side of a conversation. Side one is always a real user (the owner of a support
/// conversation, the user of a persona DM, the lower id of a user-to-user DM); side two
/// is the other user, or the team (all admins share its read state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `user1`.
    One,
    /// `user2`, a persona, or the support team.
    Two,
}

impl Side {
    /// The opposite side.
    pub const fn other(self) -> Self {
        match self {
            Self::One => Self::Two,
            Self::Two => Self::One,
        }
    }
}

/// A side's read state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SideState {
    /// The last message this side has read (`MessageId(0)` before any).
    pub last_read: MessageId,
    /// How many of the other side's messages came after `last_read`.
    pub unread: i32,
}

/// What a use case may change about a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationState {
    /// Its id.
    pub id: ConversationId,
    /// Who is in it.
    pub participants: Participants,
    /// The persona of a persona DM, or the one shown in a support header.
    pub persona: Option<PersonaId>,
    /// The support lifecycle (support conversations only).
    pub support: Option<SupportState>,
    /// Side one's read state.
    pub side_one: SideState,
    /// Side two's read state.
    pub side_two: SideState,
    /// The newest message.
    pub last_message_id: Option<MessageId>,
    /// The position of the newest message (0 before any); positions have no gaps.
    pub last_seq: i64,
    /// When side one archived it (DMs), if they did.
    pub archived_one: Option<DateTime<Utc>>,
    /// When side two archived it (DMs), if they did.
    pub archived_two: Option<DateTime<Utc>>,
    /// The newest activity (last message, or creation).
    pub last_message_at: DateTime<Utc>,
}

impl ConversationState {
    /// The real user on side one.
    pub const fn user_one(&self) -> UserId {
        match self.participants {
            Participants::Support { user }
            | Participants::PersonaDm { user, .. }
            | Participants::PersonalGroup { owner: user } => user,
            Participants::UserDm { a, .. } => a,
        }
    }

    /// The side a message from `author` belongs to.
    pub fn side_of(&self, author: &Author) -> Side {
        match author {
            Author::User(user) if *user == self.user_one() => Side::One,
            _ => Side::Two,
        }
    }

    /// The side the reader `user` is on, if they are a participant; staff read as side two.
    pub fn reader_side(&self, user: UserId, is_participant: bool) -> Side {
        if is_participant && user == self.user_one() { Side::One } else { Side::Two }
    }

    /// A side's read state.
    pub const fn side(&self, side: Side) -> &SideState {
        match side {
            Side::One => &self.side_one,
            Side::Two => &self.side_two,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut SideState {
        match side {
            Side::One => &mut self.side_one,
            Side::Two => &mut self.side_two,
        }
    }

    /// The position the next message gets.
    pub const fn next_seq(&self) -> i64 {
        self.last_seq + 1
    }

    /// Records a new message from `from` (stored at [`Self::next_seq`]): the sender has
    /// read everything up to it, and the other side has one more unread message.
    pub fn record_message(&mut self, id: MessageId, at: DateTime<Utc>, from: Side) {
        self.last_seq += 1;
        // A new message brings an archived conversation back for both sides.
        self.archived_one = None;
        self.archived_two = None;
        *self.side_mut(from) = SideState { last_read: id, unread: 0 };
        let other = self.side_mut(from.other());
        other.unread = other.unread.saturating_add(1);
        self.last_message_id = Some(id);
        self.last_message_at = self.last_message_at.max(at);
    }

    /// The whole effect of a new message from `from` (stored at [`Self::next_seq`] with
    /// id `id` at `at`) on its conversation: [`Self::record_message`], then the support
    /// lifecycle (a user message opens the conversation and starts the wait, a staff
    /// message makes it pending). Returns whether the support status changed.
    ///
    /// This is the model the adapter's one-statement append (`ConversationRepository::
    /// append`) implements in SQL; a property test (`tests/tests/api/append_model.rs`)
    /// runs both on the same sequences of sends and compares the rows.
    pub fn apply_message(&mut self, id: MessageId, at: DateTime<Utc>, from: Side) -> bool {
        self.record_message(id, at, from);
        let Some(support) = &mut self.support else { return false };
        let before = support.status;
        match from {
            Side::One => support.on_user_message(at),
            Side::Two => support.on_staff_message(),
        }
        support.status != before
    }

    /// When `side` archived the conversation, if it did.
    pub const fn archived(&self, side: Side) -> Option<DateTime<Utc>> {
        match side {
            Side::One => self.archived_one,
            Side::Two => self.archived_two,
        }
    }

    /// Archives (`Some(time)`) or brings back (`None`) the conversation for `side`.
    pub const fn set_archived(&mut self, side: Side, at: Option<DateTime<Utc>>) {
        match side {
            Side::One => self.archived_one = at,
            Side::Two => self.archived_two = at,
        }
    }

    /// Moves `side`'s read mark forward to `upto` (never backwards), with
    /// `unread_after` = the other side's messages after the new mark.
    pub fn mark_read(&mut self, side: Side, upto: MessageId, unread_after: i64) -> bool {
        let state = self.side_mut(side);
        if upto <= state.last_read {
            return false;
        }
        *state = SideState { last_read: upto, unread: i32::try_from(unread_after).unwrap_or(i32::MAX) };
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn support() -> ConversationState {
        ConversationState {
            id: ConversationId(1),
            participants: Participants::Support { user: UserId(7) },
            persona: None,
            support: None,
            side_one: SideState::default(),
            side_two: SideState::default(),
            last_message_id: None,
            last_seq: 0,
            archived_one: None,
            archived_two: None,
            last_message_at: DateTime::<Utc>::MIN_UTC,
        }
    }

    #[test]
    fn a_new_message_brings_an_archived_conversation_back() {
        let mut c = support();
        c.set_archived(Side::One, Some(Utc::now()));
        c.set_archived(Side::Two, Some(Utc::now()));
        c.record_message(MessageId(1), Utc::now(), Side::Two);
        assert_eq!((c.archived(Side::One), c.archived(Side::Two)), (None, None));
    }

    #[test]
    fn positions_have_no_gaps() {
        let mut c = support();
        assert_eq!(c.next_seq(), 1);
        c.record_message(MessageId(40), Utc::now(), Side::One);
        c.record_message(MessageId(97), Utc::now(), Side::Two);
        assert_eq!((c.last_seq, c.next_seq()), (2, 3));
    }

    #[test]
    fn messages_count_as_unread_for_the_other_side_only() {
        let mut c = support();
        let now = Utc::now();
        c.record_message(MessageId(1), now, Side::One);
        c.record_message(MessageId(2), now, Side::One);
        assert_eq!(c.side_two, SideState { last_read: MessageId(0), unread: 2 });
        assert_eq!(c.side_one, SideState { last_read: MessageId(2), unread: 0 });
        c.record_message(MessageId(3), now, Side::Two);
        assert_eq!(c.side_two, SideState { last_read: MessageId(3), unread: 0 }, "replying reads the thread");
        assert_eq!(c.side_one.unread, 1);
        assert_eq!(c.last_message_id, Some(MessageId(3)));
    }

    #[test]
    fn read_marks_only_move_forward() {
        let mut c = support();
        assert!(c.mark_read(Side::Two, MessageId(5), 2));
        assert_eq!(c.side_two, SideState { last_read: MessageId(5), unread: 2 });
        assert!(!c.mark_read(Side::Two, MessageId(4), 0));
        assert_eq!(c.side_two.unread, 2);
    }

    #[test]
    fn staff_and_other_users_are_side_two() {
        let c = support();
        assert_eq!(c.side_of(&Author::User(UserId(7))), Side::One);
        assert_eq!(c.side_of(&Author::Team { admin: UserId(1) }), Side::Two);
        assert_eq!(c.side_of(&Author::Persona { persona: PersonaId(2), admin: UserId(1) }), Side::Two);
    }
}
