//! How a session ends: the close the server sends for each reason (counted by close
//! code), or none when the peer is already gone.

use actix_ws::{CloseCode, CloseReason};

use super::close_codes;

/// Why the session ends.
pub(super) enum Stop {
    /// The client closed, or the socket is gone: nothing more to send.
    Gone,
    /// Close with this reason.
    Close(CloseReason),
}

/// A close the server decides on, counted by close code (`chat_ws_server_closes_total`).
/// Each one ends its session; an answer to the client's own close is not one of them.
pub(super) fn reason(code: CloseCode, description: &str) -> Stop {
    crate::metrics::ws_server_close(code.into());
    Stop::Close(CloseReason { code, description: Some(description.to_owned()) })
}

/// Whether a read error is the connection itself failing (a reset, an EOF mid-frame):
/// the peer is gone, so there is nobody to send a close frame to, and no close to count.
/// Invalid UTF-8 (`InvalidData`) is never taken for one: it keeps its 1007 close.
pub(super) fn peer_gone(error: &actix_ws::ProtocolError) -> bool {
    matches!(error, actix_ws::ProtocolError::Io(io)
        if io.kind() != std::io::ErrorKind::InvalidData
            && io.get_ref().is_some_and(|inner| inner.is::<actix_web::error::PayloadError>()))
}

/// The answer to a client's Close frame: a Close frame of our own echoing its code (RFC
/// 6455 5.5.1), after which the server closes the TCP connection.
pub(super) fn answer_close(received: Option<CloseReason>) -> Stop {
    Stop::Close(CloseReason { code: received.map_or(CloseCode::Normal, |r| r.code), description: None })
}

/// The close for a frame that breaks RFC 6455, with a fixed reason (the parser's own
/// message says nothing a client can act on, and need not leave the server).
pub(super) fn protocol_close(error: &actix_ws::ProtocolError) -> Stop {
    use actix_ws::ProtocolError;
    match error {
        ProtocolError::Overflow => reason(CloseCode::Size, "message too big"),
        // A text frame that is not UTF-8 (the only `InvalidData` the parser reports).
        ProtocolError::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            reason(CloseCode::Invalid, "text frame is not valid UTF-8")
        }
        // The connection itself failed: nobody is left to read a Close frame.
        ProtocolError::Io(_) => Stop::Gone,
        _ => reason(CloseCode::Protocol, "protocol error"),
    }
}

/// A deploy: the client should reconnect (to another instance) and resume.
pub(super) fn going_away() -> Stop {
    reason(CloseCode::Away, "server shutting down")
}

pub(super) fn slow_consumer() -> Stop {
    reason(CloseCode::Other(close_codes::SLOW_CONSUMER), "slow consumer: reconnect and resume")
}
