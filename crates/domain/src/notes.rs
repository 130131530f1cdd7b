//! Internal notes: what admins write to each other on a support conversation or a
//! persona DM ("called her back, waiting for the refund").
//!
//! A note is staff-only by construction, not by a filter someone could forget:
//!
//! * it is stored apart from messages (`chat_internal_notes`), so no read of messages
//!   (history, sync, resume, gap repair, previews, unread counts, search) can select
//!   one, and it takes no `seq`: users' gap repair relies on messages' positions having
//!   no hole;
//! * it is a [`Note`], not a [`crate::conversations::Message`]: the user views of the
//!   API are built from messages only, so rendering a note for a user does not compile;
//! * its live event reaches the team's feed only ([`crate::access::note_watchers`]),
//!   never a participant;
//! * adding one changes nothing of the conversation: no status (a note never makes a
//!   support conversation `pending`), no read state, no last message.
//!
//! A note records the conversation's position when it was written (`after_seq`), which
//! places it among the messages in the admin history.

mod add;
mod history;
mod model;
mod ports;

pub use self::add::{NoteError, add_note};
pub use self::history::{AdminHistory, admin_dm_history_with_notes, admin_support_history_with_notes, notes_of_page};
pub use self::model::{NewNote, Note, NoteAdded, NoteId, NoteTarget};
#[cfg(any(test, feature = "mock"))]
pub use self::ports::MockNoteRepository;
pub use self::ports::NoteRepository;

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::access::{Author, Participants};
    use crate::conversations::{ConversationState, HistoryQuery, Message, Page};

    use crate::events::ChatEvent;
    use crate::ids::{ConversationId, MessageId, PersonaId, UserId};
    use crate::principal::Principal;
    use crate::values::MessageContent;

    use crate::test_repo::MockRepo;

    const USER: UserId = UserId(7);
    const ADMIN: UserId = UserId(1);
    const CONVERSATION: ConversationId = ConversationId(3);

    fn state(participants: Participants, last_seq: i64) -> ConversationState {
        let mut state = crate::support::test_support::state(USER);
        state.id = CONVERSATION;
        state.participants = participants;
        state.last_seq = last_seq;
        state
    }

    fn support() -> Participants {
        Participants::Support { user: USER }
    }

    fn new(text: &str, client: Option<Uuid>) -> NewNote {
        NewNote { content: MessageContent::parse(text).unwrap(), client_note_id: client }
    }

    fn stored(conversation: ConversationId, text: &str, client: Option<Uuid>, after_seq: i64) -> Note {
        Note {
            id: NoteId(11),
            conversation_id: conversation,
            author: ADMIN,
            author_name: Some("Ada".into()),
            content: text.into(),
            client_note_id: client,
            after_seq,
            created_at: Utc::now(),
        }
    }

    /// A repository that knows one conversation and expects nothing else: any write to
    /// the conversation (status, read state, a message) would fail the test.
    fn repo_with(participants: Participants, last_seq: i64) -> MockRepo {
        let mut repo = MockRepo::new();
        repo.expect_conversation_state().returning(move |_| Ok(Some(state(participants, last_seq))));
        repo
    }

    #[test]
    fn a_note_is_stored_after_the_newest_message_and_changes_nothing_else() {
        let mut repo = repo_with(support(), 6);
        repo.expect_insert_note()
            .withf(|c, a, text, client, after| {
                (*c, *a, text, *client, *after) == (CONVERSATION, ADMIN, "called her back", None, 6)
            })
            .times(1)
            .returning(|c, _, text, client, after| Ok(Some(stored(c, text, client, after))));
        let done = add_note(
            &mut repo,
            &Principal::admin(ADMIN),
            CONVERSATION,
            NoteTarget::Support,
            &new("called her back", None),
        )
        .unwrap();
        assert!(done.value.created);
        assert_eq!(done.events, [ChatEvent::NoteAdded { participants: support(), note: done.value.note.clone() }]);
    }

    #[test]
    fn users_are_refused_before_anything_is_read() {
        let mut repo = MockRepo::new();
        let result = add_note(&mut repo, &Principal::user(USER), CONVERSATION, NoteTarget::Any, &new("hi", None));
        assert!(matches!(result, Err(NoteError::Forbidden)));
    }

    #[test]
    fn each_route_names_its_own_conversations_and_user_dms_take_no_note() {
        let admin = Principal::admin(ADMIN);
        let persona_dm = Participants::PersonaDm { user: USER, persona: PersonaId(2) };
        let cases = [
            (persona_dm, NoteTarget::Support, "not found"),
            (support(), NoteTarget::Dm, "not found"),
            (Participants::UserDm { a: USER, b: UserId(8) }, NoteTarget::Dm, "read only"),
            (Participants::UserDm { a: USER, b: UserId(8) }, NoteTarget::Any, "read only"),
        ];
        for (participants, target, expected) in cases {
            let mut repo = repo_with(participants, 0);
            let got = match add_note(&mut repo, &admin, CONVERSATION, target, &new("x", None)) {
                Err(NoteError::NotFound) => "not found",
                Err(NoteError::ReadOnly) => "read only",
                other => panic!("{participants:?} {target:?}: {other:?}"),
            };
            assert_eq!(got, expected, "{participants:?} {target:?}");
        }
        let mut missing = MockRepo::new();
        missing.expect_conversation_state().returning(|_| Ok(None));
        let result = add_note(&mut missing, &admin, CONVERSATION, NoteTarget::Any, &new("x", None));
        assert!(matches!(result, Err(NoteError::NotFound)));
    }

    #[test]
    fn a_retry_returns_the_stored_note_and_a_changed_retry_is_refused() {
        let key = Uuid::new_v4();
        let admin = Principal::admin(ADMIN);
        let mut repo = repo_with(support(), 2);
        repo.expect_find_note_by_client_id()
            .returning(move |_, client| Ok(Some(stored(CONVERSATION, "same", Some(client), 1))));
        let done = add_note(&mut repo, &admin, CONVERSATION, NoteTarget::Support, &new("same", Some(key))).unwrap();
        assert!(!done.value.created);
        assert!(done.events.is_empty(), "a retry tells nobody again");
        let changed = add_note(&mut repo, &admin, CONVERSATION, NoteTarget::Support, &new("other", Some(key)));
        assert!(matches!(changed, Err(NoteError::KeyReused)));

        let mut elsewhere = repo_with(support(), 2);
        elsewhere
            .expect_find_note_by_client_id()
            .returning(move |_, client| Ok(Some(stored(ConversationId(99), "same", Some(client), 1))));
        let moved = add_note(&mut elsewhere, &admin, CONVERSATION, NoteTarget::Support, &new("same", Some(key)));
        assert!(matches!(moved, Err(NoteError::KeyReused)));
    }

    #[test]
    fn a_concurrent_retry_that_stored_first_is_returned() {
        let key = Uuid::new_v4();
        let mut repo = repo_with(support(), 0);
        let mut calls = 0;
        repo.expect_find_note_by_client_id().times(2).returning(move |_, client| {
            calls += 1;
            Ok((calls == 2).then(|| stored(CONVERSATION, "race", Some(client), 0)))
        });
        repo.expect_insert_note().times(1).returning(|_, _, _, _, _| Ok(None));
        let done =
            add_note(&mut repo, &Principal::admin(ADMIN), CONVERSATION, NoteTarget::Any, &new("race", Some(key)))
                .unwrap();
        assert!(!done.value.created);
    }

    fn page(seqs: &[i64], more: bool) -> Page<Message> {
        let items = seqs.iter().map(|&seq| crate::support::test_support::message(seq, Author::User(USER))).collect();
        Page { items, next_cursor: more.then_some(MessageId(seqs.last().copied().unwrap_or(0))) }
    }

    fn range_of(query: HistoryQuery, page: &Page<Message>) -> Option<(i64, i64)> {
        let mut repo = MockRepo::new();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
        let record = std::sync::Arc::clone(&seen);
        repo.expect_notes_between().returning(move |_, from, to| {
            *record.lock().unwrap() = Some((from, to));
            Ok(Vec::new())
        });
        notes_of_page(&mut repo, CONVERSATION, page, &query).unwrap();
        *seen.lock().unwrap()
    }

    #[test]
    fn each_note_belongs_to_exactly_one_page() {
        let older = |before: Option<i64>| HistoryQuery::Older { before: before.map(MessageId), limit: 3 };
        let newer = |after: i64| HistoryQuery::Newer { after: MessageId(after), limit: 3 };
        // Seven messages, newest first in pages of three: [7 6 5] [4 3 2] [1].
        assert_eq!(range_of(older(None), &page(&[7, 6, 5], true)), Some((5, i64::MAX)));
        assert_eq!(range_of(older(Some(5)), &page(&[4, 3, 2], true)), Some((2, 4)));
        assert_eq!(range_of(older(Some(2)), &page(&[1], false)), Some((0, 1)));
        assert_eq!(range_of(older(Some(1)), &page(&[], false)), None);
        // Oldest first: [1 2 3] [4 5 6] [7].
        assert_eq!(range_of(newer(0), &page(&[1, 2, 3], true)), Some((0, 3)));
        assert_eq!(range_of(newer(3), &page(&[4, 5, 6], true)), Some((4, 6)));
        assert_eq!(range_of(newer(6), &page(&[7], false)), Some((7, i64::MAX)));
        assert_eq!(range_of(newer(7), &page(&[], false)), None);
        // No message at all: every note (all written before any message).
        assert_eq!(range_of(older(None), &page(&[], false)), Some((0, i64::MAX)));
        assert_eq!(range_of(newer(0), &page(&[], false)), Some((0, i64::MAX)));
    }

    #[test]
    fn notes_follow_the_pages_order() {
        let mut repo = MockRepo::new();
        repo.expect_notes_between()
            .returning(|c, _, _| Ok(vec![stored(c, "first", None, 1), stored(c, "second", None, 2)]));
        let query = HistoryQuery::Older { before: None, limit: 50 };
        let notes = notes_of_page(&mut repo, CONVERSATION, &page(&[2, 1], false), &query).unwrap();
        assert_eq!(notes.iter().map(|n| n.content.as_str()).collect::<Vec<_>>(), ["second", "first"]);
        let query = HistoryQuery::Newer { after: MessageId(0), limit: 50 };
        let notes = notes_of_page(&mut repo, CONVERSATION, &page(&[1, 2], false), &query).unwrap();
        assert_eq!(notes.iter().map(|n| n.content.as_str()).collect::<Vec<_>>(), ["first", "second"]);
    }
}
