//! Use case: catch up on what a client missed, from PostgreSQL.
//!
//! A client remembers, per conversation, the `seq` of the last message it saw. On
//! reconnect it sends those positions; the server answers with every message after them,
//! in per-conversation order, including conversations the client has never seen (a DM
//! someone started while it was away). Positions are gapless and follow commit order,
//! so "everything after my position" can never skip a message committed late.
//!
//! An admin catching up on a DM they are not in reads its private messages: like the
//! admin history route, the replay writes a staff access-log row for each such DM whose
//! messages it returns, in the transaction that reads them.

use std::collections::HashMap;

use crate::access::{self, Participants};
use crate::conversations::Message;
use crate::direct_messages::{DirectMessageRepository, READ_MESSAGES};
use crate::error::RepoError;
use crate::ids::ConversationId;
use crate::principal::Principal;

/// Storage-side catch-up.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait ReplayRepository {
    /// Every conversation `user` participates in (support and DMs), with its participants
    /// and the position of its newest message.
    fn conversation_positions(
        &mut self,
        user: crate::ids::UserId,
    ) -> Result<Vec<(ConversationId, Participants, i64)>, RepoError>;

    /// The participants and newest position of one conversation, if it exists.
    fn conversation_position(&mut self, id: ConversationId) -> Result<Option<(Participants, i64)>, RepoError>;

    /// Up to `limit` messages of conversation `id` with `seq > after`, in `seq` order.
    fn messages_after(&mut self, id: ConversationId, after: i64, limit: i64) -> Result<Vec<Message>, RepoError>;
}

/// What a client missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// Every missed message, per conversation in order (conversations in id order).
    Messages(Vec<(Participants, Message)>),
    /// More than the limit was missed: page through the REST history instead.
    ResyncRequired,
}

/// Collects what `caller` missed after `positions` (conversation -> last seen seq).
///
/// Users catch up on all their conversations; admins on the conversations they name
/// (they may read all). Positions naming conversations the caller may not read are
/// ignored, exactly like positions naming nothing. Every DM an admin is not in whose
/// messages are returned gets an access-log row.
pub fn replay(
    repo: &mut (impl ReplayRepository + DirectMessageRepository + ?Sized),
    caller: &Principal,
    positions: &HashMap<ConversationId, i64>,
    limit: usize,
) -> Result<Replay, RepoError> {
    let mut conversations: Vec<(ConversationId, Participants, i64)> = if caller.is_admin() {
        let mut named = Vec::new();
        for &id in positions.keys() {
            if let Some((participants, last)) = repo.conversation_position(id)? {
                named.push((id, participants, last));
            }
        }
        for own in repo.conversation_positions(caller.user_id)? {
            if !positions.contains_key(&own.0) {
                named.push(own);
            }
        }
        named
    } else {
        repo.conversation_positions(caller.user_id)?
    };
    conversations.retain(|(_, participants, _)| access::can_read(caller, participants));
    conversations.sort_by_key(|(id, _, _)| *id);

    let missed: usize = conversations
        .iter()
        .map(|(id, _, last)| usize::try_from(last - positions.get(id).copied().unwrap_or(0)).unwrap_or(0))
        .sum();
    if missed > limit {
        return Ok(Replay::ResyncRequired);
    }
    let mut out = Vec::with_capacity(missed);
    for (id, participants, last) in conversations {
        let after = positions.get(&id).copied().unwrap_or(0).max(0);
        if last > after {
            let remaining = i64::try_from(limit - out.len()).unwrap_or(i64::MAX);
            let messages = repo.messages_after(id, after, remaining)?;
            if !messages.is_empty() && is_staff_read_of_a_dm(caller, &participants) {
                repo.record_access(caller.user_id, id, READ_MESSAGES)?;
            }
            out.extend(messages.into_iter().map(|m| (participants, m)));
        }
    }
    Ok(Replay::Messages(out))
}

/// Whether `caller` reads a DM as staff (an admin who is not one of its users).
fn is_staff_read_of_a_dm(caller: &Principal, participants: &Participants) -> bool {
    caller.is_admin()
        && matches!(participants, Participants::UserDm { .. } | Participants::PersonaDm { .. })
        && !access::is_participant(caller.user_id, participants)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::direct_messages::test_support::MockRepo;
    use crate::ids::{PersonaId, UserId};

    fn message(conversation: i64, seq: i64) -> Message {
        let mut m = crate::support::test_support::message(seq, access::Author::User(UserId(1)));
        m.conversation_id = ConversationId(conversation);
        m.seq = seq;
        m
    }

    #[test]
    fn users_get_everything_after_their_positions_including_new_conversations() {
        let mut repo = MockRepo::new();
        repo.expect_conversation_positions().returning(|_| {
            Ok(vec![
                (ConversationId(1), Participants::Support { user: UserId(1) }, 5),
                (ConversationId(2), Participants::UserDm { a: UserId(1), b: UserId(2) }, 2),
            ])
        });
        repo.expect_messages_after().returning(|id, after, _| {
            Ok(((after + 1)..=if id.get() == 1 { 5 } else { 2 }).map(|s| message(id.get(), s)).collect())
        });
        repo.expect_record_access().never();
        let positions = HashMap::from([(ConversationId(1), 3)]);
        let Replay::Messages(missed) = replay(&mut repo, &Principal::user(UserId(1)), &positions, 100).unwrap() else {
            panic!("expected messages");
        };
        let got: Vec<(i64, i64)> = missed.iter().map(|(_, m)| (m.conversation_id.get(), m.seq)).collect();
        assert_eq!(got, [(1, 4), (1, 5), (2, 1), (2, 2)]);
    }

    #[test]
    fn too_much_to_replay_asks_for_a_resync() {
        let mut repo = MockRepo::new();
        repo.expect_conversation_positions()
            .returning(|_| Ok(vec![(ConversationId(1), Participants::Support { user: UserId(1) }, 900)]));
        repo.expect_messages_after().never();
        assert_eq!(
            replay(&mut repo, &Principal::user(UserId(1)), &HashMap::new(), 500).unwrap(),
            Replay::ResyncRequired
        );
    }

    #[test]
    fn admins_replay_named_conversations() {
        let mut repo = MockRepo::new();
        repo.expect_conversation_position()
            .returning(|_| Ok(Some((Participants::UserDm { a: UserId(3), b: UserId(4) }, 2))));
        repo.expect_conversation_positions().returning(|_| Ok(Vec::new()));
        repo.expect_messages_after().returning(|id, _, _| Ok(vec![message(id.get(), 2)]));
        repo.expect_record_access().returning(|_, _, _| Ok(()));
        let positions = HashMap::from([(ConversationId(7), 1)]);
        let Replay::Messages(missed) = replay(&mut repo, &Principal::admin(UserId(9)), &positions, 10).unwrap() else {
            panic!("expected messages");
        };
        assert_eq!(missed.len(), 1);
    }

    #[test]
    fn an_admin_replaying_dms_is_logged_once_per_dm_read_and_never_for_support_or_their_own() {
        let mut repo = MockRepo::new();
        repo.expect_conversation_position().returning(|id| {
            Ok(Some(match id.get() {
                1 => (Participants::UserDm { a: UserId(3), b: UserId(4) }, 3),
                2 => (Participants::PersonaDm { user: UserId(3), persona: PersonaId(5) }, 1),
                3 => (Participants::Support { user: UserId(3) }, 2),
                // Nothing new here: nothing is read, nothing is logged.
                _ => (Participants::UserDm { a: UserId(5), b: UserId(6) }, 4),
            }))
        });
        // The admin's own DM with a user, as a participant.
        repo.expect_conversation_positions()
            .returning(|_| Ok(vec![(ConversationId(8), Participants::UserDm { a: UserId(3), b: UserId(9) }, 1)]));
        repo.expect_messages_after()
            .returning(|id, after, _| Ok(((after + 1)..=after + 2).map(|s| message(id.get(), s)).collect()));
        for logged in [1, 2] {
            repo.expect_record_access()
                .withf(move |admin, id, action| {
                    *admin == UserId(9) && *id == ConversationId(logged) && action == READ_MESSAGES
                })
                .times(1)
                .returning(|_, _, _| Ok(()));
        }
        let positions = HashMap::from([
            (ConversationId(1), 0),
            (ConversationId(2), 0),
            (ConversationId(3), 0),
            (ConversationId(4), 4),
        ]);
        let Replay::Messages(missed) = replay(&mut repo, &Principal::admin(UserId(9)), &positions, 100).unwrap() else {
            panic!("expected messages");
        };
        let conversations: std::collections::BTreeSet<i64> =
            missed.iter().map(|(_, m)| m.conversation_id.get()).collect();
        assert_eq!(conversations.into_iter().collect::<Vec<_>>(), [1, 2, 3, 8]);
    }

    #[test]
    fn a_failed_access_record_fails_the_replay() {
        let mut repo = MockRepo::new();
        repo.expect_conversation_position()
            .returning(|_| Ok(Some((Participants::UserDm { a: UserId(3), b: UserId(4) }, 1))));
        repo.expect_conversation_positions().returning(|_| Ok(Vec::new()));
        repo.expect_messages_after().returning(|id, _, _| Ok(vec![message(id.get(), 1)]));
        repo.expect_record_access().returning(|_, _, _| Err(RepoError::internal("log unavailable")));
        let positions = HashMap::from([(ConversationId(7), 0)]);
        assert!(replay(&mut repo, &Principal::admin(UserId(9)), &positions, 10).is_err(), "no read without its record");
    }
}
