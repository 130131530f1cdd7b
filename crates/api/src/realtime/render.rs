//! Turning domain events into frames, once per view: every event is rendered for users
//! (no acting admin anywhere) and for admins, and each connection gets the frame of its
//! role. Rendering happens once per event, not once per recipient. Internal notes are
//! rendered for admins only: they have no user view. A change of blocks is rendered for
//! nobody: it is a [`super::signal::Signal`] to the two users' sockets, never a frame.

use bytestring::ByteString;
use chat_domain::access::{self, Author, Participants};
use chat_domain::conversations::{Message as DomainMessage, Side};
use chat_domain::events::{ChatEvent, Recipients};
use chat_domain::notes::Note;
use chat_domain::{ConversationId, UserId};
use serde::{Deserialize, Serialize};

use super::protocol::{
    Actor, AdminMessageEvent, ConversationUpdatedEvent, MessageEvent, NoteEvent, NotificationEvent,
    NotificationRetractedEvent, ReadEvent, TypingEvent,
};
use crate::dto::messages::{AdminMessage, Message};
use crate::dto::notes::AdminNote;
use crate::dto::notifications::NotificationStyleView;

/// Who may receive an event. Every delivery is checked against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    /// Participants: each of their connections gets the event without joining.
    pub users: Vec<UserId>,
    /// Every connection gets it (a notice to all users: admins are users too, with a
    /// personal group of their own).
    #[serde(default)]
    pub everyone: bool,
    /// The conversation: admins who joined it get the event.
    pub conversation: Option<ConversationId>,
    /// Whether admins watching the support queue get it (support and persona DMs).
    pub staff_feed: bool,
}

impl Audience {
    /// The audience of a conversation with these participants: its watchers, as the
    /// domain's access rules define them ([`access::watchers`]), and admins who joined it.
    pub fn of(participants: &Participants, conversation: ConversationId) -> Self {
        let access::Watchers { users, staff_feed } = access::watchers(participants);
        Self { users, everyone: false, conversation: Some(conversation), staff_feed }
    }

    /// The audience of a notification event.
    pub fn of_recipients(recipients: &Recipients) -> Self {
        match recipients {
            Recipients::Users(users) => {
                Self { users: users.clone(), everyone: false, conversation: None, staff_feed: false }
            }
            Recipients::Everyone => Self { users: Vec::new(), everyone: true, conversation: None, staff_feed: false },
        }
    }
}

/// How an event may be treated under pressure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Priority {
    /// Must be delivered (or the connection is cut, and the client resumes).
    Normal,
    /// Typing: dropped first when a client's queue is half full; never replayed.
    Ephemeral,
}

/// An event ready for fan-out: its audience and its two rendered frames.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// Who may receive it.
    pub audience: Audience,
    /// How to treat it under pressure.
    pub priority: Priority,
    /// For message events: the conversation position, for dedupe and gap repair.
    pub seq: Option<i64>,
    /// The event carries a DM's message content: its delivery to an admin is recorded in
    /// the staff access log, like a REST read.
    #[serde(default)]
    pub dm_content: bool,
    /// The frame users get (cheap to clone: shared bytes); `None` for staff-only events
    /// (internal notes), which have no user rendering at all: no user socket gets them,
    /// on this instance or on another one through the fan-out.
    pub user_frame: Option<ByteString>,
    /// The frame admins get.
    pub admin_frame: ByteString,
    /// For a new notice: its id (its live deliveries are recorded, [`super::deliveries`]).
    #[serde(default)]
    pub notice: Option<i64>,
}

fn json(value: &impl Serialize) -> ByteString {
    serde_json::to_string(value).unwrap_or_default().into()
}

fn message_type(participants: &Participants) -> &'static str {
    match participants {
        Participants::Support { .. } => "support-message",
        Participants::UserDm { .. } | Participants::PersonaDm { .. } => "dm-message",
        Participants::PersonalGroup { .. } => "group-message",
    }
}

/// Whether a conversation is a DM (its content read by an admin is logged).
pub const fn is_dm(participants: &Participants) -> bool {
    matches!(participants, Participants::UserDm { .. } | Participants::PersonaDm { .. })
}

/// One view of a stored message's event: the admin view, or the user view.
pub fn message_frame(participants: &Participants, message: &DomainMessage, admin_view: bool) -> ByteString {
    let (event_type, conversation_id) = (message_type(participants), message.conversation_id.get());
    if admin_view {
        json(&AdminMessageEvent { event_type, conversation_id, message: AdminMessage::from(message.clone()) })
    } else {
        json(&MessageEvent { event_type, conversation_id, message: Message::from(message.clone()) })
    }
}

/// The envelope of a stored message.
pub fn message_envelope(participants: &Participants, message: &DomainMessage) -> Envelope {
    Envelope {
        audience: Audience::of(participants, message.conversation_id),
        priority: Priority::Normal,
        seq: Some(message.seq),
        dm_content: is_dm(participants),
        user_frame: Some(message_frame(participants, message, false)),
        admin_frame: message_frame(participants, message, true),
        notice: None,
    }
}

/// The envelope of an internal note: staff only. Its audience names no user, and it has
/// no user frame: a note has no user view ([`crate::dto::notes`]), so there is nothing a
/// user socket could be sent, here or on another instance.
pub fn note_envelope(participants: &Participants, note: &Note) -> Envelope {
    let conversation = note.conversation_id;
    let access::Watchers { users, staff_feed } = access::note_watchers(participants);
    Envelope {
        audience: Audience { users, everyone: false, conversation: Some(conversation), staff_feed },
        priority: Priority::Normal,
        // Notes take no position: the socket's dedupe and gap repair are for messages.
        seq: None,
        dm_content: false,
        user_frame: None,
        admin_frame: json(&NoteEvent {
            event_type: "note",
            conversation_id: conversation.get(),
            note: AdminNote::from(note.clone()),
        }),
        notice: None,
    }
}

fn actor(author: &Author, participants: &Participants, admin_view: bool) -> Actor {
    let acting = |admin: &UserId| admin_view.then_some(admin.get());
    match author {
        Author::User(user) => Actor { actor_type: "real_user", id: Some(user.get()), acting_admin_id: None },
        Author::Persona { persona, admin } => {
            Actor { actor_type: "fake_user", id: Some(persona.get()), acting_admin_id: acting(admin) }
        }
        // History moved from the old support groups: no acting admin is known.
        Author::Imported { persona: Some(persona) } => {
            Actor { actor_type: "fake_user", id: Some(persona.get()), acting_admin_id: None }
        }
        Author::Imported { persona: None } => Actor { actor_type: "support", id: None, acting_admin_id: None },
        Author::Team { admin } => match participants {
            // In a persona DM the team is the persona.
            Participants::PersonaDm { persona, .. } => {
                Actor { actor_type: "fake_user", id: Some(persona.get()), acting_admin_id: acting(admin) }
            }
            _ => Actor { actor_type: "support", id: None, acting_admin_id: acting(admin) },
        },
    }
}

/// Renders a domain event for clients; `None` for an event no client is shown, which
/// is a [`super::signal::Signal`] to sockets instead (a change of blocks).
pub fn envelope(event: &ChatEvent) -> Option<Envelope> {
    Some(match event {
        ChatEvent::BlocksChanged { .. } => return None,
        ChatEvent::MessageCreated { participants, message } => message_envelope(participants, message),
        ChatEvent::NoteAdded { participants, note } => note_envelope(participants, note),
        ChatEvent::MessageHidden { participants, message } => {
            let conversation = message.conversation_id;
            Envelope {
                audience: Audience::of(participants, conversation),
                priority: Priority::Normal,
                // Not a new position: it must not be taken for a duplicate of the message.
                seq: None,
                dm_content: is_dm(participants),
                user_frame: Some(json(&MessageEvent {
                    event_type: "message-updated",
                    conversation_id: conversation.get(),
                    message: Message::from(message.clone()),
                })),
                admin_frame: json(&AdminMessageEvent {
                    event_type: "message-updated",
                    conversation_id: conversation.get(),
                    message: AdminMessage::from(message.clone()),
                }),
                notice: None,
            }
        }
        ChatEvent::ConversationUpdated { participants, conversation } => {
            let frame = json(&ConversationUpdatedEvent {
                event_type: "conversation-updated",
                conversation_id: conversation.get(),
            });
            Envelope {
                audience: Audience::of(participants, *conversation),
                priority: Priority::Normal,
                seq: None,
                dm_content: false,
                user_frame: Some(frame.clone()),
                admin_frame: frame,
                notice: None,
            }
        }
        ChatEvent::Typing { participants, conversation, author, is_typing } => {
            let frame = |admin_view| {
                json(&TypingEvent {
                    event_type: "typing",
                    conversation_id: conversation.get(),
                    sender: actor(author, participants, admin_view),
                    is_typing: *is_typing,
                })
            };
            Envelope {
                audience: Audience::of(participants, *conversation),
                priority: Priority::Ephemeral,
                seq: None,
                dm_content: false,
                user_frame: Some(frame(false)),
                admin_frame: frame(true),
                notice: None,
            }
        }
        ChatEvent::NotificationCreated { recipients, notification, content, style, expires_at } => {
            let frame = json(&NotificationEvent {
                event_type: "admin-notification",
                notification_id: notification.get(),
                content: content.clone(),
                align: "center",
                style: NotificationStyleView::from(style.clone()),
                expires_at: *expires_at,
            });
            Envelope {
                audience: Audience::of_recipients(recipients),
                priority: Priority::Normal,
                seq: None,
                dm_content: false,
                user_frame: Some(frame.clone()),
                admin_frame: frame,
                notice: Some(notification.get()),
            }
        }
        ChatEvent::NotificationRetracted { recipients, notification } => {
            let frame = json(&NotificationRetractedEvent {
                event_type: "notification-retracted",
                notification_id: notification.get(),
            });
            Envelope {
                audience: Audience::of_recipients(recipients),
                priority: Priority::Normal,
                seq: None,
                dm_content: false,
                user_frame: Some(frame.clone()),
                admin_frame: frame,
                notice: None,
            }
        }
        ChatEvent::Read { participants, conversation, side, state, reader } => {
            let frame = |admin_view: bool| {
                let reader = match (side, participants) {
                    (Side::One, _) | (Side::Two, Participants::UserDm { .. }) => {
                        Actor { actor_type: "real_user", id: Some(reader.get()), acting_admin_id: None }
                    }
                    (Side::Two, _) => {
                        Actor { actor_type: "support", id: None, acting_admin_id: admin_view.then_some(reader.get()) }
                    }
                };
                json(&ReadEvent {
                    event_type: "read",
                    conversation_id: conversation.get(),
                    reader,
                    last_read_message_id: state.last_read.get(),
                    unread_count: state.unread,
                })
            };
            Envelope {
                audience: Audience::of(participants, *conversation),
                priority: Priority::Normal,
                seq: None,
                dm_content: false,
                user_frame: Some(frame(false)),
                admin_frame: frame(true),
                notice: None,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use chat_domain::notes::NoteId;
    use chat_domain::{PersonaId, UserId};

    use super::*;

    #[test]
    fn a_note_renders_for_staff_only_on_every_conversation_kind() {
        let alice = UserId(1);
        for participants in
            [Participants::Support { user: alice }, Participants::PersonaDm { user: alice, persona: PersonaId(2) }]
        {
            let note = Note {
                id: NoteId(3),
                conversation_id: ConversationId(4),
                author: UserId(9),
                author_name: Some("Ada".into()),
                content: "internal".into(),
                client_note_id: None,
                after_seq: 5,
                created_at: chrono::Utc::now(),
            };
            let envelope = note_envelope(&participants, &note);
            assert_eq!(envelope.user_frame, None, "{participants:?}");
            assert!(envelope.audience.users.is_empty() && !envelope.audience.everyone, "{participants:?}");
            assert_eq!((envelope.audience.conversation, envelope.seq), (Some(ConversationId(4)), None));
            assert!(envelope.audience.staff_feed && envelope.admin_frame.contains("\"type\":\"note\""));
        }
    }
}
