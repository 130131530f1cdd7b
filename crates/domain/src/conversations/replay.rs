//! Use case: catch up on what a client missed, from PostgreSQL.
//!
//! A client remembers, per conversation, the `seq` of the last message it saw. On
//! reconnect it sends those positions; the server answers with every message after them,
//! in per-conversation order, including conversations the client has never seen (a DM
//! someone started while it was away). Positions are gapless and follow commit order,
//! so "everything after my position" can never skip a message committed late.

use std::collections::HashMap;

use crate::access::{self, Participants};
use crate::conversations::Message;
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
/// ignored, exactly like positions naming nothing.
pub fn replay(
    repo: &mut (impl ReplayRepository + ?Sized),
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
            out.extend(repo.messages_after(id, after, remaining)?.into_iter().map(|m| (participants, m)));
        }
    }
    Ok(Replay::Messages(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;

    fn message(conversation: i64, seq: i64) -> Message {
        let mut m = crate::support::test_support::message(seq, access::Author::User(UserId(1)));
        m.conversation_id = ConversationId(conversation);
        m.seq = seq;
        m
    }

    #[test]
    fn users_get_everything_after_their_positions_including_new_conversations() {
        let mut repo = MockReplayRepository::new();
        repo.expect_conversation_positions().returning(|_| {
            Ok(vec![
                (ConversationId(1), Participants::Support { user: UserId(1) }, 5),
                (ConversationId(2), Participants::UserDm { a: UserId(1), b: UserId(2) }, 2),
            ])
        });
        repo.expect_messages_after().returning(|id, after, _| {
            Ok(((after + 1)..=if id.get() == 1 { 5 } else { 2 }).map(|s| message(id.get(), s)).collect())
        });
        let positions = HashMap::from([(ConversationId(1), 3)]);
        let Replay::Messages(missed) = replay(&mut repo, &Principal::user(UserId(1)), &positions, 100).unwrap() else {
            panic!("expected messages");
        };
        let got: Vec<(i64, i64)> = missed.iter().map(|(_, m)| (m.conversation_id.get(), m.seq)).collect();
        assert_eq!(got, [(1, 4), (1, 5), (2, 1), (2, 2)]);
    }

    #[test]
    fn too_much_to_replay_asks_for_a_resync() {
        let mut repo = MockReplayRepository::new();
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
        let mut repo = MockReplayRepository::new();
        repo.expect_conversation_position()
            .returning(|_| Ok(Some((Participants::UserDm { a: UserId(3), b: UserId(4) }, 2))));
        repo.expect_conversation_positions().returning(|_| Ok(Vec::new()));
        repo.expect_messages_after().returning(|id, _, _| Ok(vec![message(id.get(), 2)]));
        let positions = HashMap::from([(ConversationId(7), 1)]);
        let Replay::Messages(missed) = replay(&mut repo, &Principal::admin(UserId(9)), &positions, 10).unwrap() else {
            panic!("expected messages");
        };
        assert_eq!(missed.len(), 1);
    }
}
