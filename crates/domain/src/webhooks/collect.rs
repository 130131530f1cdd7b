//! Turning the outbox into digests: who missed what.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::access::Participants;
use crate::conversations::Side;
use crate::error::RepoError;
use crate::ids::{ConversationId, UserId};
use crate::webhooks::model::{Candidate, Digest, MissedItem, MissedKind, MissedMessages, Origin};
use crate::webhooks::ports::WebhookRepository;

/// How digests are collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectSettings {
    /// A message read within this time after it was sent causes nothing.
    pub read_delay: Duration,
    /// One digest per user per window of this length.
    pub window: Duration,
    /// The most outbox rows one collection takes (the rest wait for the next window).
    pub batch: i64,
    /// Whether digests carry the last message's text.
    pub include_content: bool,
}

/// The user a candidate message is for, if they have not read it and it still shows.
///
/// Messages to the team (a user writing in support or to a persona) are the support
/// queue's business, not the app's: they have no recipient here.
pub fn recipient(candidate: &Candidate) -> Option<UserId> {
    match candidate.origin {
        Origin::Conversation { visible: false, .. } | Origin::Notice { visible: false, .. } => None,
        Origin::Conversation { participants, author, side_one_read, side_two_read, .. } => {
            let (user, read) = match (participants, author) {
                (Participants::Support { user } | Participants::PersonaDm { user, .. }, Side::Two) => {
                    (user, side_one_read)
                }
                (Participants::UserDm { b, .. }, Side::One) => (b, side_two_read),
                (Participants::UserDm { a, .. }, Side::Two) => (a, side_one_read),
                _ => return None,
            };
            (candidate.message > read).then_some(user)
        }
        Origin::Notice { owner, read, .. } => (candidate.message > read).then_some(owner),
    }
}

/// One collection: if it is this instance's turn for the window `now` falls in, takes
/// the outbox rows older than the read delay and stores one digest per user for what
/// is still unread. `None` when it was not this instance's turn. `event_id` names each
/// new digest.
pub fn collect(
    repo: &mut (impl WebhookRepository + ?Sized),
    now: DateTime<Utc>,
    settings: &CollectSettings,
    mut event_id: impl FnMut() -> Uuid,
) -> Result<Option<Vec<Digest>>, RepoError> {
    let window_start = window_start(now, settings.window);
    if !repo.begin_collection(window_start)? {
        return Ok(None);
    }
    let candidates = repo.take_outbox(now - settings.read_delay, settings.batch, settings.include_content)?;
    let digests: Vec<Digest> = group(candidates)
        .into_iter()
        .map(|(user, items)| {
            let unread_total = items.iter().map(|item| item.unread).sum();
            Digest {
                event_id: event_id(),
                kind: Digest::TYPE,
                timestamp: now,
                data: MissedMessages { user_id: user, window_start, unread_total, items },
            }
        })
        .collect();
    if !digests.is_empty() {
        repo.insert_digests(&digests)?;
    }
    Ok(Some(digests))
}

/// The start of the window `now` falls in (windows are aligned on the Unix epoch).
fn window_start(now: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    let length = window.num_milliseconds().max(1);
    let start = now.timestamp_millis().div_euclid(length) * length;
    DateTime::from_timestamp_millis(start).unwrap_or(now)
}

/// Each user's missed messages, one item per place, in a stable order.
fn group(candidates: Vec<Candidate>) -> BTreeMap<UserId, Vec<MissedItem>> {
    let mut places: BTreeMap<(UserId, MissedKind, Option<ConversationId>), MissedItem> = BTreeMap::new();
    for candidate in candidates {
        let Some(user) = recipient(&candidate) else { continue };
        let (kind, conversation) = place(&candidate.origin);
        places
            .entry((user, kind, conversation))
            .and_modify(|item| {
                item.unread += 1;
                item.first_sent_at = item.first_sent_at.min(candidate.sent_at);
                if candidate.message > item.last_message_id {
                    item.last_sent_at = candidate.sent_at;
                    item.last_message_id = candidate.message;
                    item.preview.clone_from(&candidate.content);
                }
            })
            .or_insert_with(|| MissedItem {
                kind,
                conversation_id: conversation,
                unread: 1,
                first_sent_at: candidate.sent_at,
                last_sent_at: candidate.sent_at,
                last_message_id: candidate.message,
                link: link(kind, conversation),
                preview: candidate.content.clone(),
            });
    }
    let mut users: BTreeMap<UserId, Vec<MissedItem>> = BTreeMap::new();
    for ((user, _, _), item) in places {
        users.entry(user).or_default().push(item);
    }
    users
}

fn place(origin: &Origin) -> (MissedKind, Option<ConversationId>) {
    match origin {
        Origin::Conversation { id, participants: Participants::Support { .. }, .. } => (MissedKind::Support, Some(*id)),
        Origin::Conversation { id, .. } => (MissedKind::DirectMessage, Some(*id)),
        Origin::Notice { .. } => (MissedKind::Notice, None),
    }
}

/// Where the app opens the chat, relative to its base URL (docs/webhooks.md).
fn link(kind: MissedKind, conversation: Option<ConversationId>) -> String {
    match (kind, conversation) {
        (MissedKind::Support, _) => "/chat/support".to_owned(),
        (MissedKind::DirectMessage, Some(id)) => format!("/chat/direct-messages/{id}"),
        (MissedKind::DirectMessage, None) => "/chat/direct-messages".to_owned(),
        (MissedKind::Notice, _) => "/chat/notifications".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::ids::{MessageId, PersonaId};
    use crate::webhooks::ports::MockWebhookRepository;

    const USER: UserId = UserId(7);
    const OTHER: UserId = UserId(8);

    fn at(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, second).unwrap()
    }

    fn in_conversation(message: i64, participants: Participants, author: Side, reads: (i64, i64)) -> Candidate {
        Candidate {
            message: MessageId(message),
            sent_at: at(u32::try_from(message).unwrap()),
            origin: Origin::Conversation {
                id: ConversationId(3),
                participants,
                author,
                side_one_read: MessageId(reads.0),
                side_two_read: MessageId(reads.1),
                visible: true,
            },
            content: None,
        }
    }

    fn notice(message: i64, read: i64, visible: bool) -> Candidate {
        Candidate {
            message: MessageId(message),
            sent_at: at(1),
            origin: Origin::Notice { owner: USER, read: MessageId(read), visible },
            content: None,
        }
    }

    const SETTINGS: CollectSettings = CollectSettings {
        read_delay: Duration::seconds(60),
        window: Duration::seconds(300),
        batch: 100,
        include_content: false,
    };

    #[test]
    fn staff_replies_reach_the_user_and_user_messages_reach_nobody() {
        let support = Participants::Support { user: USER };
        assert_eq!(recipient(&in_conversation(5, support, Side::Two, (4, 0))), Some(USER));
        assert_eq!(recipient(&in_conversation(5, support, Side::One, (0, 0))), None);
        let persona = Participants::PersonaDm { user: USER, persona: PersonaId(2) };
        assert_eq!(recipient(&in_conversation(5, persona, Side::Two, (0, 0))), Some(USER));
        assert_eq!(recipient(&in_conversation(5, persona, Side::One, (0, 0))), None);
    }

    #[test]
    fn a_user_dm_reaches_the_other_side() {
        let dm = Participants::UserDm { a: USER, b: OTHER };
        assert_eq!(recipient(&in_conversation(5, dm, Side::One, (0, 0))), Some(OTHER));
        assert_eq!(recipient(&in_conversation(5, dm, Side::Two, (0, 0))), Some(USER));
    }

    #[test]
    fn read_hidden_and_retracted_messages_reach_nobody() {
        let support = Participants::Support { user: USER };
        assert_eq!(recipient(&in_conversation(5, support, Side::Two, (5, 0))), None, "read up to it");
        assert_eq!(recipient(&in_conversation(5, support, Side::Two, (9, 0))), None, "read past it");
        let mut hidden = in_conversation(5, support, Side::Two, (0, 0));
        if let Origin::Conversation { visible, .. } = &mut hidden.origin {
            *visible = false;
        }
        assert_eq!(recipient(&hidden), None);
        assert_eq!(recipient(&notice(5, 0, true)), Some(USER));
        assert_eq!(recipient(&notice(5, 5, true)), None);
        assert_eq!(recipient(&notice(5, 0, false)), None);
    }

    #[test]
    fn one_digest_per_user_groups_messages_by_place() {
        let support = Participants::Support { user: USER };
        let dm = Participants::UserDm { a: USER, b: OTHER };
        let candidates = vec![
            in_conversation(10, support, Side::Two, (0, 0)),
            in_conversation(11, dm, Side::Two, (0, 0)),
            in_conversation(12, support, Side::Two, (0, 0)),
            notice(13, 0, true),
            in_conversation(14, dm, Side::One, (0, 0)),
            in_conversation(15, support, Side::One, (0, 0)),
        ];
        let mut repo = MockWebhookRepository::new();
        repo.expect_begin_collection()
            .withf(|start| *start == Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap())
            .returning(|_| Ok(true));
        repo.expect_take_outbox()
            .withf(|before, limit, content| *before == at(30) - Duration::seconds(60) && *limit == 100 && !content)
            .return_once(move |_, _, _| Ok(candidates));
        repo.expect_insert_digests().withf(|digests| digests.len() == 2).returning(|_| Ok(()));
        let mut ids = (1..).map(Uuid::from_u128);
        let digests = collect(&mut repo, at(30), &SETTINGS, || ids.next().unwrap()).unwrap().unwrap();

        let mine = &digests[0].data;
        assert_eq!((mine.user_id, mine.unread_total), (USER, 4));
        let summary: Vec<_> = mine.items.iter().map(|i| (i.kind, i.unread, i.last_message_id.0)).collect();
        assert_eq!(
            summary,
            [(MissedKind::Support, 2, 12), (MissedKind::DirectMessage, 1, 11), (MissedKind::Notice, 1, 13)]
        );
        assert_eq!(mine.items[0].first_sent_at, at(10));
        assert_eq!(mine.items[0].last_sent_at, at(12));
        assert_eq!(mine.items[1].link, "/chat/direct-messages/3");
        assert_eq!((digests[1].data.user_id, digests[1].data.unread_total), (OTHER, 1));
        assert_ne!(digests[0].event_id, digests[1].event_id);
    }

    #[test]
    fn another_instances_turn_takes_nothing() {
        let mut repo = MockWebhookRepository::new();
        repo.expect_begin_collection().returning(|_| Ok(false));
        repo.expect_take_outbox().never();
        assert_eq!(collect(&mut repo, at(30), &SETTINGS, Uuid::nil).unwrap(), None);
    }

    #[test]
    fn nothing_missed_stores_no_digest() {
        let mut repo = MockWebhookRepository::new();
        repo.expect_begin_collection().returning(|_| Ok(true));
        repo.expect_take_outbox().return_once(|_, _, _| Ok(vec![notice(5, 5, true)]));
        repo.expect_insert_digests().never();
        assert_eq!(collect(&mut repo, at(30), &SETTINGS, Uuid::nil).unwrap(), Some(vec![]));
    }

    #[test]
    fn windows_are_aligned_and_contain_their_instants() {
        let window = Duration::seconds(300);
        assert_eq!(window_start(at(0), window), at(0));
        assert_eq!(window_start(at(59), window), at(0));
        let later = at(0) + Duration::seconds(301);
        assert_eq!(window_start(later, window), at(0) + Duration::seconds(300));
    }
}
