//! Frames of our WebSocket protocol (`GET /api/chat/ws`), as the lead specified it:
//! JSON text frames with a `type`; requests carry an `id` echoed in the reply.

use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// What a client cares about in an incoming frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A pushed message (`support-message`, `dm-message`, or a notification).
    Delivery(Delivered),
    /// An admin notice arrived (`admin-notification`, which carries no message).
    Notice { notification_id: i64 },
    /// Someone typed (`typing`): where, and who (`0` when the sender has no id).
    Typing { conversation_id: i64, sender: i64 },
    /// A reply to a request with this `id` (`ack`, `pong`, `resumed`, `resync-required`,
    /// `error`); `ok` is false for `error` and `resync-required`.
    Reply { id: String, kind: String, ok: bool, replayed: Option<u64> },
    /// Anything else (presence, read marks...).
    Other,
}

/// The identifying part of a pushed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// Its conversation.
    pub conversation_id: i64,
    /// Its position in the conversation (0 when the server sent none).
    pub seq: i64,
    /// Its message id.
    pub message_id: i64,
    /// The sender's idempotency key, if any.
    pub client_message_id: Option<Uuid>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    conversation_id: Option<i64>,
    message: Option<FrameMessage>,
    replayed: Option<u64>,
    notification_id: Option<i64>,
    sender: Option<FrameSender>,
}

#[derive(Deserialize)]
struct FrameSender {
    id: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FrameMessage {
    id: i64,
    conversation_id: Option<i64>,
    seq: Option<i64>,
    client_message_id: Option<Uuid>,
}

/// Decodes one JSON event (our frames, and the same payload inside Socket.IO or relay
/// framing; `event` overrides the `type` when the framing carries the name).
pub fn decode(text: &str, event: Option<&str>) -> Incoming {
    let Ok(frame) = serde_json::from_str::<Frame>(text) else { return Incoming::Other };
    let kind = event.unwrap_or(&frame.kind);
    match (kind, frame.id, frame.message) {
        ("ack" | "pong" | "resumed" | "resync-required" | "error", Some(id), _) => Incoming::Reply {
            ok: !matches!(kind, "error" | "resync-required"),
            kind: kind.to_owned(),
            id,
            replayed: frame.replayed,
        },
        ("typing", _, _) => Incoming::Typing {
            conversation_id: frame.conversation_id.unwrap_or(0),
            sender: frame.sender.and_then(|s| s.id).unwrap_or(0),
        },
        ("admin-notification", _, None) => match frame.notification_id {
            Some(notification_id) => Incoming::Notice { notification_id },
            None => Incoming::Other,
        },
        ("support-message" | "dm-message" | "admin-notification" | "notification", _, Some(m)) => {
            Incoming::Delivery(Delivered {
                conversation_id: frame.conversation_id.or(m.conversation_id).unwrap_or(0),
                seq: m.seq.unwrap_or(0),
                message_id: m.id,
                client_message_id: m.client_message_id,
            })
        }
        _ => Incoming::Other,
    }
}

/// `{"type":"ping","id":..}`.
pub fn ping(id: &str) -> String {
    json!({"type": "ping", "id": id}).to_string()
}

/// `{"type":"join-support-queue","id":..}`.
pub fn join_support_queue(id: &str) -> String {
    json!({"type": "join-support-queue", "id": id}).to_string()
}

/// `{"type":"resume","id":..,"positions":{conversation: last seen seq}}`.
pub fn resume(id: &str, positions: &[(i64, i64)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        positions.iter().map(|(c, s)| (c.to_string(), json!(s))).collect();
    json!({"type": "resume", "id": id, "positions": map}).to_string()
}

/// A send over the socket: support (no conversation id) or a DM.
pub fn send(id: &str, conversation: Option<i64>, content: &str, client_message_id: Uuid) -> String {
    match conversation {
        None => json!({"type": "support-message", "id": id, "content": content, "clientMessageId": client_message_id}),
        Some(c) => json!({"type": "dm-message", "id": id, "conversationId": c, "content": content,
                          "clientMessageId": client_message_id}),
    }
    .to_string()
}

/// `{"type":"typing","conversationId":..,"isTyping":true}`: our typing request (no `id`:
/// the server answers only a refusal).
pub fn typing(conversation: i64) -> String {
    json!({"type": "typing", "conversationId": conversation, "isTyping": true}).to_string()
}

/// The `typing` event as our server pushes it to a user, byte for byte in shape: the
/// payload the relay and the peer push, so every contender moves frames of one size.
pub fn typing_event(conversation: i64, sender: i32) -> String {
    json!({"type": "typing", "conversationId": conversation, "sender": {"type": "real_user", "id": sender},
           "isTyping": true})
    .to_string()
}

/// The `admin-notification` event as our server pushes it for an `info` notice (see
/// [`typing_event`] for why the other contenders push the same bytes).
pub fn notice_event(notification: i64, content: &str) -> String {
    json!({"type": "admin-notification", "notificationId": notification, "content": content, "align": "center",
           "style": {"template": "info", "backgroundColor": "#f0f9ff", "textColor": "#0369a1",
                     "borderColor": "#38bdf8"},
           "expiresAt": null})
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pushes_and_replies() {
        let push = r#"{"type":"dm-message","conversationId":17,"message":{"id":9,"conversationId":17,"seq":5,
            "sender":{"type":"real_user","id":3},"messageType":"text","content":"hi",
            "clientMessageId":"00000000-0000-0000-0000-000000000007","createdAt":"x","hidden":false}}"#;
        assert_eq!(
            decode(push, None),
            Incoming::Delivery(Delivered {
                conversation_id: 17,
                seq: 5,
                message_id: 9,
                client_message_id: Some(Uuid::from_u128(7))
            })
        );
        assert!(matches!(decode(r#"{"type":"pong","id":"x"}"#, None), Incoming::Reply { ok: true, .. }));
        assert!(matches!(decode(r#"{"type":"resync-required","id":"r"}"#, None), Incoming::Reply { ok: false, .. }));
        assert_eq!(decode("not json", None), Incoming::Other);
        let notice = r##"{"type":"admin-notification","notificationId":4,"content":"hi","align":"center",
            "style":{"template":"info","backgroundColor":"#E8F1FF","textColor":"#0B3D91","borderColor":"#0B3D91"}}"##;
        assert_eq!(decode(notice, None), Incoming::Notice { notification_id: 4 });
        assert_eq!(decode(&notice_event(4, "hi"), None), Incoming::Notice { notification_id: 4 });
        assert_eq!(decode(&typing_event(17, 3), None), Incoming::Typing { conversation_id: 17, sender: 3 });
    }

    #[test]
    fn resume_lists_positions_by_conversation() {
        let v: serde_json::Value = serde_json::from_str(&resume("r", &[(17, 5), (23, 0)])).unwrap();
        assert_eq!(v["positions"]["17"], 5);
        assert_eq!(v["positions"]["23"], 0);
    }
}
