//! The access policy: who may read and post in which conversation, and as whom.
//!
//! This is the isolation promise in code. Every read and write path asks these functions,
//! with the participants loaded under the same transaction as the operation, so no
//! caller can see or touch a conversation they are not in. A caller who may not read a
//! conversation gets [`Denied::NotVisible`], which the API answers exactly like a
//! conversation that does not exist.

use crate::ids::{PersonaId, UserId};
use crate::principal::Principal;

/// The participants of a conversation, as far as access is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Participants {
    /// A user's private conversation with the support team.
    Support {
        /// The user who owns the conversation.
        user: UserId,
    },
    /// Two real users. Admins may read (moderation) but never post.
    UserDm {
        /// One user.
        a: UserId,
        /// The other user.
        b: UserId,
    },
    /// A real user and a persona voiced by admins.
    PersonaDm {
        /// The real user.
        user: UserId,
        /// The persona admins answer as.
        persona: PersonaId,
    },
    /// A user's personal group: only admins post, as notifications.
    PersonalGroup {
        /// The user the group belongs to.
        owner: UserId,
    },
}

/// Whom the caller asks to speak as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voice {
    /// Themselves; for an admin in a support conversation this means the team.
    Own,
    /// A persona (admins only).
    Persona(PersonaId),
}

/// Who a message is from, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    /// A real user speaking for themselves.
    User(UserId),
    /// An admin speaking as a persona; `admin` is kept for audit and shown to admins only.
    Persona {
        /// The persona users see.
        persona: PersonaId,
        /// The admin who wrote it.
        admin: UserId,
    },
    /// An admin answering a support conversation as "Support", without a persona.
    Team {
        /// The admin who wrote it.
        admin: UserId,
    },
    /// A staff message moved from the group-based support whose writer was not recorded
    /// (docs/migration.md): shown as the persona, or as the team when `None`. Never the
    /// result of [`authorize_post`]; only history carries it.
    Imported {
        /// The persona users saw.
        persona: Option<PersonaId>,
    },
}

impl Author {
    /// Whether the message comes from the conversation's first side (its real user, or
    /// either user of a user-to-user DM, decided by the caller) rather than staff.
    pub const fn is_staff(&self) -> bool {
        matches!(self, Self::Persona { .. } | Self::Team { .. } | Self::Imported { .. })
    }
}

/// Why an access was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The caller may not even know the conversation exists: answer as for a missing one.
    #[error("conversation not found")]
    NotVisible,
    /// The caller may read but not post here (an admin in a user-to-user DM, a user in
    /// their personal group).
    #[error("this conversation is read-only for the caller")]
    ReadOnly,
    /// The caller may post, but not under the voice they asked for.
    #[error("the caller may not speak as this persona here")]
    VoiceNotAllowed,
}

/// Whether `caller` may read the conversation.
pub fn can_read(caller: &Principal, participants: &Participants) -> bool {
    caller.is_admin() || is_participant(caller.user_id, participants)
}

/// Who hears of a conversation's live events without asking for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watchers {
    /// Its real-user participants: every socket of theirs gets its events.
    pub users: Vec<UserId>,
    /// Whether the team answers it (support conversations and persona DMs), so admins
    /// watching the support queue get its events. Any other admin gets a conversation's
    /// events only after joining it; admins may read every conversation ([`can_read`]).
    pub staff_feed: bool,
}

/// The watchers of a conversation: its participants, and the team's feed where the
/// team speaks ([`authorize_post`] gives staff a voice there).
pub fn watchers(participants: &Participants) -> Watchers {
    match *participants {
        Participants::Support { user } | Participants::PersonaDm { user, .. } => {
            Watchers { users: vec![user], staff_feed: true }
        }
        Participants::UserDm { a, b } => Watchers { users: vec![a, b], staff_feed: false },
        Participants::PersonalGroup { owner } => Watchers { users: vec![owner], staff_feed: false },
    }
}

/// Who hears of an internal note: the team's feed only (admins watching the support
/// queue, and admins who joined the conversation). Never a participant, whatever the
/// conversation: notes are staff-only ([`crate::notes`]).
pub fn note_watchers(participants: &Participants) -> Watchers {
    Watchers { users: Vec::new(), staff_feed: watchers(participants).staff_feed }
}

/// Whether `caller` may write an internal note on the conversation: admins, where the
/// team speaks (support conversations and persona DMs). Anyone else may not know the
/// conversation exists; in conversations between users (and personal groups) admins
/// never write.
pub fn may_note(caller: &Principal, participants: &Participants) -> Result<(), Denied> {
    if !caller.is_admin() {
        return Err(Denied::NotVisible);
    }
    if watchers(participants).staff_feed { Ok(()) } else { Err(Denied::ReadOnly) }
}

/// Whether `user` is one of the conversation's real-user participants.
pub fn is_participant(user: UserId, participants: &Participants) -> bool {
    match *participants {
        Participants::Support { user: owner }
        | Participants::PersonaDm { user: owner, .. }
        | Participants::PersonalGroup { owner } => owner == user,
        Participants::UserDm { a, b } => a == user || b == user,
    }
}

/// Whether `user` is one of a DM's users (a user DM's two, a persona DM's one): who
/// reads and writes a DM as themselves. The append statement of a user's own DM send
/// applies the same rule (`AppendTarget::DmOf`).
pub fn is_dm_user(user: UserId, participants: &Participants) -> bool {
    matches!(participants, Participants::UserDm { .. } | Participants::PersonaDm { .. })
        && is_participant(user, participants)
}

/// Decides whom a post by `caller`, asking for `voice`, is from; or why it is refused.
///
/// Participants always speak as themselves (a user asking for a persona is refused).
/// Admins who are not participants speak for the team: as any persona or as "Support"
/// in support conversations, only as the conversation's persona in persona DMs, and not
/// at all in user-to-user DMs or personal groups (notifications have their own path).
pub fn authorize_post(caller: &Principal, participants: &Participants, voice: Voice) -> Result<Author, Denied> {
    if !can_read(caller, participants) {
        return Err(Denied::NotVisible);
    }
    if let Participants::PersonalGroup { .. } = participants {
        return Err(Denied::ReadOnly);
    }
    if is_participant(caller.user_id, participants) {
        return match voice {
            Voice::Own => Ok(Author::User(caller.user_id)),
            Voice::Persona(_) => Err(Denied::VoiceNotAllowed),
        };
    }
    // From here on the caller is an admin who is not a participant.
    let admin = caller.user_id;
    match (*participants, voice) {
        (Participants::Support { .. }, Voice::Own) => Ok(Author::Team { admin }),
        (Participants::Support { .. }, Voice::Persona(persona)) => Ok(Author::Persona { persona, admin }),
        (Participants::PersonaDm { persona, .. }, Voice::Own) => Ok(Author::Persona { persona, admin }),
        (Participants::PersonaDm { persona, .. }, Voice::Persona(asked)) if asked == persona => {
            Ok(Author::Persona { persona, admin })
        }
        (Participants::PersonaDm { .. }, Voice::Persona(_)) => Err(Denied::VoiceNotAllowed),
        (Participants::UserDm { .. } | Participants::PersonalGroup { .. }, _) => Err(Denied::ReadOnly),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const ALICE: UserId = UserId(1);
    const BOB: UserId = UserId(2);
    const MALLORY: UserId = UserId(3);
    const ADMIN: UserId = UserId(9);
    const HELPER: PersonaId = PersonaId(5);
    const OTHER_PERSONA: PersonaId = PersonaId(6);

    fn all_kinds() -> [Participants; 4] {
        [
            Participants::Support { user: ALICE },
            Participants::UserDm { a: ALICE, b: BOB },
            Participants::PersonaDm { user: ALICE, persona: HELPER },
            Participants::PersonalGroup { owner: ALICE },
        ]
    }

    #[test]
    fn only_a_dms_users_are_its_dm_users() {
        let [support, user_dm, persona_dm, group] = all_kinds();
        assert!(is_dm_user(ALICE, &user_dm) && is_dm_user(BOB, &user_dm));
        assert!(is_dm_user(ALICE, &persona_dm));
        for (user, p) in [(MALLORY, user_dm), (BOB, persona_dm), (ALICE, support), (ALICE, group), (ADMIN, user_dm)] {
            assert!(!is_dm_user(user, &p), "{user:?} in {p:?}");
        }
    }

    #[test]
    fn an_outsider_can_neither_read_nor_post_anywhere() {
        let mallory = Principal::user(MALLORY);
        for p in all_kinds() {
            assert!(!can_read(&mallory, &p), "{p:?}");
            for voice in [Voice::Own, Voice::Persona(HELPER)] {
                assert_eq!(authorize_post(&mallory, &p, voice), Err(Denied::NotVisible), "{p:?}");
            }
        }
    }

    #[test]
    fn watchers_are_exactly_the_participants_and_the_team_where_it_speaks() {
        let admin = Principal::admin(ADMIN);
        for p in all_kinds() {
            let w = watchers(&p);
            for user in [ALICE, BOB, MALLORY] {
                assert_eq!(w.users.contains(&user), is_participant(user, &p), "{p:?} {user:?}");
            }
            let team_speaks = authorize_post(&admin, &p, Voice::Own).is_ok_and(|author| author.is_staff());
            assert_eq!(w.staff_feed, team_speaks, "{p:?}");
        }
    }

    #[test]
    fn notes_are_for_admins_where_the_team_speaks_and_reach_no_participant() {
        let admin = Principal::admin(ADMIN);
        for p in all_kinds() {
            assert!(note_watchers(&p).users.is_empty(), "{p:?}");
            let team_speaks = authorize_post(&admin, &p, Voice::Own).is_ok_and(|author| author.is_staff());
            assert_eq!(may_note(&admin, &p).is_ok(), team_speaks, "{p:?}");
            assert_eq!(note_watchers(&p).staff_feed, team_speaks, "{p:?}");
            assert_eq!(may_note(&Principal::user(ALICE), &p), Err(Denied::NotVisible), "{p:?}");
        }
    }

    #[test]
    fn admins_read_everything() {
        let admin = Principal::admin(ADMIN);
        assert!(all_kinds().iter().all(|p| can_read(&admin, p)));
    }

    #[test]
    fn users_post_as_themselves_only() {
        let alice = Principal::user(ALICE);
        let support = Participants::Support { user: ALICE };
        assert_eq!(authorize_post(&alice, &support, Voice::Own), Ok(Author::User(ALICE)));
        assert_eq!(authorize_post(&alice, &support, Voice::Persona(HELPER)), Err(Denied::VoiceNotAllowed));
        let dm = Participants::UserDm { a: ALICE, b: BOB };
        assert_eq!(authorize_post(&Principal::user(BOB), &dm, Voice::Own), Ok(Author::User(BOB)));
    }

    #[test]
    fn admins_answer_support_as_any_persona_or_the_team() {
        let admin = Principal::admin(ADMIN);
        let support = Participants::Support { user: ALICE };
        assert_eq!(authorize_post(&admin, &support, Voice::Own), Ok(Author::Team { admin: ADMIN }));
        assert_eq!(
            authorize_post(&admin, &support, Voice::Persona(OTHER_PERSONA)),
            Ok(Author::Persona { persona: OTHER_PERSONA, admin: ADMIN })
        );
    }

    #[test]
    fn admins_speak_only_as_the_persona_of_a_persona_dm() {
        let admin = Principal::admin(ADMIN);
        let dm = Participants::PersonaDm { user: ALICE, persona: HELPER };
        let expected = Ok(Author::Persona { persona: HELPER, admin: ADMIN });
        assert_eq!(authorize_post(&admin, &dm, Voice::Own), expected);
        assert_eq!(authorize_post(&admin, &dm, Voice::Persona(HELPER)), expected);
        assert_eq!(authorize_post(&admin, &dm, Voice::Persona(OTHER_PERSONA)), Err(Denied::VoiceNotAllowed));
    }

    #[test]
    fn admins_cannot_post_in_user_dms_or_personal_groups() {
        let admin = Principal::admin(ADMIN);
        let dm = Participants::UserDm { a: ALICE, b: BOB };
        assert_eq!(authorize_post(&admin, &dm, Voice::Own), Err(Denied::ReadOnly));
        let group = Participants::PersonalGroup { owner: ALICE };
        assert_eq!(authorize_post(&admin, &group, Voice::Own), Err(Denied::ReadOnly));
        assert_eq!(authorize_post(&Principal::user(ALICE), &group, Voice::Own), Err(Denied::ReadOnly));
    }

    fn participants() -> impl Strategy<Value = Participants> {
        let id = || (1..6i32).prop_map(UserId);
        let persona = (1..4i32).prop_map(PersonaId);
        prop_oneof![
            id().prop_map(|user| Participants::Support { user }),
            (id(), id()).prop_map(|(a, b)| Participants::UserDm { a, b }),
            (id(), persona).prop_map(|(user, persona)| Participants::PersonaDm { user, persona }),
            id().prop_map(|owner| Participants::PersonalGroup { owner }),
        ]
    }

    proptest! {
        /// Isolation: a non-admin who is not a participant never reads, never posts, and is
        /// always told "not visible" (never a 403 that would confirm the conversation exists).
        #[test]
        fn non_participants_learn_nothing(p in participants(), caller in 1..6i32, persona in 1..4i32) {
            let caller = Principal::user(UserId(caller));
            if !is_participant(caller.user_id, &p) {
                prop_assert!(!can_read(&caller, &p));
                for voice in [Voice::Own, Voice::Persona(PersonaId(persona))] {
                    prop_assert_eq!(authorize_post(&caller, &p, voice), Err(Denied::NotVisible));
                }
            }
        }

        /// A user-authored message always names the caller, never someone else.
        #[test]
        fn users_never_post_as_someone_else(p in participants(), caller in 1..6i32) {
            let caller = Principal::user(UserId(caller));
            if let Ok(author) = authorize_post(&caller, &p, Voice::Own) {
                prop_assert_eq!(author, Author::User(caller.user_id));
            }
        }
    }
}
