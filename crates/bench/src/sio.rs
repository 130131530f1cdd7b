//! Socket.IO 4 over a raw WebSocket (Engine.IO protocol 4, Socket.IO protocol 5), only
//! as much as the benchmark needs: open, connect with an auth payload, heartbeats,
//! events, and acknowledgements.
//!
//! Engine.IO packet types: `0` open, `2` ping, `3` pong, `4` message. A Socket.IO
//! packet rides in an Engine.IO message: `0` connect, `2` event, `3` ack, `4` connect
//! error; so an event is `42["name",data]`, an event with ack id 7 is `427["name",data]`
//! and its ack `437[data]`.

use serde_json::Value;

/// The handshake path (WebSocket transport only, as in the peer's tuned setup).
pub const PATH: &str = "/socket.io/?EIO=4&transport=websocket";

/// One decoded Engine.IO/Socket.IO text frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Packet {
    /// `0{...}`: the Engine.IO open packet.
    Open,
    /// `2`: a heartbeat the client must answer with `3`.
    Ping,
    /// `40{...}`: connected to the namespace.
    Connected,
    /// `44{...}`: the connection was refused (e.g. bad token).
    ConnectError(String),
    /// `42["name", data]` (ack id when the server wants one).
    Event { name: String, data: Value },
    /// `43<id>[data]`.
    Ack { id: u64, data: Value },
    /// Anything else.
    Other,
}

/// Parses a text frame.
pub fn decode(text: &str) -> Packet {
    let bytes = text.as_bytes();
    match bytes.first() {
        Some(b'0') => Packet::Open,
        Some(b'2') => Packet::Ping,
        Some(b'4') => match bytes.get(1) {
            Some(b'0') => Packet::Connected,
            Some(b'4') => Packet::ConnectError(text[2..].to_owned()),
            Some(b'2') => {
                let body = text[2..].trim_start_matches(|c: char| c.is_ascii_digit());
                match serde_json::from_str::<Value>(body) {
                    Ok(Value::Array(mut items)) if !items.is_empty() => {
                        let data = if items.len() > 1 { items.swap_remove(1) } else { Value::Null };
                        match items.first().and_then(Value::as_str) {
                            Some(name) => Packet::Event { name: name.to_owned(), data },
                            None => Packet::Other,
                        }
                    }
                    _ => Packet::Other,
                }
            }
            Some(b'3') => {
                let rest = &text[2..];
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                let Ok(id) = rest[..digits].parse::<u64>() else { return Packet::Other };
                match serde_json::from_str::<Value>(&rest[digits..]) {
                    Ok(Value::Array(mut items)) => {
                        Packet::Ack { id, data: if items.is_empty() { Value::Null } else { items.swap_remove(0) } }
                    }
                    _ => Packet::Other,
                }
            }
            _ => Packet::Other,
        },
        _ => Packet::Other,
    }
}

/// `40{"token":..}`: connect to the default namespace with an auth payload.
pub fn connect(token: &str) -> String {
    format!("40{}", serde_json::json!({ "token": token }))
}

/// `42<ack>["name",data]`.
pub fn event(name: &str, data: &Value, ack: Option<u64>) -> String {
    let ack = ack.map(|a| a.to_string()).unwrap_or_default();
    format!("42{ack}{}", serde_json::json!([name, data]))
}

/// The heartbeat answer.
pub const PONG: &str = "3";

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn round_trips_the_frames_the_bench_uses() {
        assert_eq!(decode(r#"0{"sid":"a","pingInterval":25000}"#), Packet::Open);
        assert_eq!(decode("2"), Packet::Ping);
        assert_eq!(decode(r#"40{"sid":"x"}"#), Packet::Connected);
        assert!(matches!(decode(r#"44{"message":"unauthorized"}"#), Packet::ConnectError(_)));
        assert_eq!(
            decode(r#"42["dm-message",{"conversationId":3}]"#),
            Packet::Event { name: "dm-message".into(), data: json!({"conversationId": 3}) }
        );
        assert_eq!(decode(r#"4312[{"ok":true}]"#), Packet::Ack { id: 12, data: json!({"ok": true}) });
        assert_eq!(event("ping", &json!({}), Some(4)), r#"424["ping",{}]"#);
        assert_eq!(connect("t"), r#"40{"token":"t"}"#);
    }
}
