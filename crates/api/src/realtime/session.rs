//! One task per socket: a single `select!` loop over the outbound queue, the client's
//! frames, the heartbeat, the token's expiry, the hub's kill signal and the server's
//! shutdown. Every exit path deregisters (a drop guard makes that certain).
//!
//! Requests go through the same use cases as REST (one use-case path, two doors), and
//! sends are acknowledged only after their transaction has committed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web;
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use bytestring::ByteString;
use chat_domain::access::{self, Denied, Participants, Voice};
use chat_domain::conversations::{self, Message as DomainMessage, ReadMark, Replay};
use chat_domain::direct_messages::{self, AdminDmError, DmTarget, UserDmError};
use chat_domain::events::{ChatEvent, Recipients};
use chat_domain::notifications;
use chat_domain::support::{self, ReplyVoice};
use chat_domain::{ConversationId, MessageId, PersonaId, Principal, RepoError, UserId};
use chrono::Utc;
use serde::Serialize;
use tokio::sync::{Notify, mpsc};

use super::hub::{ConnId, Hub, Outbound, Registration, presence_frame, queue_capacity};
use super::protocol::{AckFrame, AckMessage, ClientFrame, ControlFrame, ErrorFrame};
use super::render::{self, message_envelope};
use crate::dto::Violations;
use crate::dto::direct_messages::{TargetType, UserDm};
use crate::dto::messages::{AdminMessage, Message, MessageType, ReadState, new_message};
use crate::dto::notifications::{NotificationSent, SendNotificationRequest};
use crate::problem::ApiError;
use crate::rate_limit::Budget;
use crate::routes::notifications_admin::send_error;
use crate::state::AppState;

/// The largest frame a client may send.
pub const MAX_FRAME: usize = 64 * 1024;
/// The most messages a resume replays; beyond it the client gets `resync-required`.
pub const REPLAY_LIMIT: usize = 1000;
const HEARTBEAT: Duration = Duration::from_secs(15);
const IDLE_TIMEOUT: Duration = Duration::from_secs(45);
/// Frames per second a client may send on average, and the burst it may use.
const RATE_PER_SEC: f64 = 20.0;
const BURST: f64 = 40.0;
/// Rate-limit violations tolerated before the connection is closed.
const MAX_STRIKES: u32 = 20;
/// How long a new socket holds message events back waiting for its first request
/// (normally `resume`), so that a resume is gap-free and in order.
pub const RESUME_GRACE: Duration = Duration::from_millis(500);
/// The longest a write to the socket may wait for room in its outgoing frame queue: a
/// peer that stops reading never pins the session (heartbeat, expiry and kill keep
/// working, and a stalled peer is cut off as a slow consumer).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the close frame may wait for room after the session has ended (on a
/// detached task holding only the socket's sender), so that a stalled client that
/// reads again still learns why it was closed.
pub const CLOSE_GRACE: Duration = Duration::from_secs(30);

const ADMIN_ONLY: ApiError = ApiError::Forbidden { code: "admin_only", detail: "This request is for admins only." };

/// Close codes (4000-4999 are ours).
pub mod close_codes {
    /// The token expired while the socket was open: reconnect with a fresh one.
    pub const TOKEN_EXPIRED: u16 = 4001;
    /// The client did not read fast enough; its queue overflowed. Reconnect and resume.
    pub const SLOW_CONSUMER: u16 = 4008;
}

/// Deregisters the connection and ends its session count, on every exit path.
struct Deregister {
    hub: Hub,
    id: ConnId,
}

impl Deregister {
    fn new(hub: Hub, id: ConnId) -> Self {
        hub.session_started();
        Self { hub, id }
    }
}

impl Drop for Deregister {
    fn drop(&mut self) {
        self.hub.unregister(self.id);
        self.hub.session_ended();
    }
}

/// The messages of one conversation this socket has: every `seq` in `lo..=hi`. Before a
/// resume, `lo` is the first live message forwarded; after it, 0 (the client stated
/// that it has everything up to its position, and the replay delivered the rest).
#[derive(Debug, Clone, Copy)]
struct Delivered {
    lo: i64,
    hi: i64,
}

impl Delivered {
    const fn contains(self, seq: i64) -> bool {
        self.lo <= seq && seq <= self.hi
    }
}

struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * RATE_PER_SEC).min(BURST);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Why the session ends.
enum Stop {
    /// The client closed, or the socket is gone: nothing more to send.
    Gone,
    /// Close with this reason.
    Close(CloseReason),
}

/// A close the server decides on, counted by close code (`chat_ws_server_closes_total`).
/// Each one ends its session; an answer to the client's own close is not one of them.
fn reason(code: CloseCode, description: &str) -> Stop {
    crate::metrics::ws_server_close(code.into());
    Stop::Close(CloseReason { code, description: Some(description.to_owned()) })
}

/// Whether a read error is the connection itself failing (a reset, an EOF mid-frame):
/// the peer is gone, so there is nobody to send a close frame to, and no close to count.
/// Invalid UTF-8 (`InvalidData`) is never taken for one: it keeps its 1007 close.
fn peer_gone(error: &actix_ws::ProtocolError) -> bool {
    matches!(error, actix_ws::ProtocolError::Io(io)
        if io.kind() != std::io::ErrorKind::InvalidData
            && io.get_ref().is_some_and(|inner| inner.is::<actix_web::error::PayloadError>()))
}

/// The answer to a client's Close frame: a Close frame of our own echoing its code (RFC
/// 6455 5.5.1), after which the server closes the TCP connection.
fn answer_close(received: Option<CloseReason>) -> Stop {
    Stop::Close(CloseReason { code: received.map_or(CloseCode::Normal, |r| r.code), description: None })
}

/// The close for a frame that breaks RFC 6455, with a fixed reason (the parser's own
/// message says nothing a client can act on, and need not leave the server).
fn protocol_close(error: &actix_ws::ProtocolError) -> Stop {
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
fn going_away() -> Stop {
    reason(CloseCode::Away, "server shutting down")
}

fn slow_consumer() -> Stop {
    reason(CloseCode::Other(close_codes::SLOW_CONSUMER), "slow consumer: reconnect and resume")
}

/// Writes to the socket, bounded: gives up when the hub cuts the connection off, or
/// when the peer has not made room for [`SEND_TIMEOUT`] (it stopped reading).
async fn bounded(kill: &Notify, write: impl Future<Output = Result<(), actix_ws::Closed>>) -> Result<(), Stop> {
    tokio::select! {
        written = tokio::time::timeout(SEND_TIMEOUT, write) => match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(actix_ws::Closed)) => Err(Stop::Gone),
            Err(_) => Err(slow_consumer()),
        },
        () = kill.notified() => Err(slow_consumer()),
    }
}

struct Connection {
    state: web::Data<AppState>,
    principal: Principal,
    id: ConnId,
    session: actix_ws::Session,
    kill: Arc<Notify>,
    /// What this socket has of each conversation: duplicates are skipped, gaps repaired.
    positions: HashMap<ConversationId, Delivered>,
    /// Until the first request (or [`RESUME_GRACE`]), queued events stay in the queue: a
    /// `resume` sent first then replays before anything live is forwarded.
    holding: bool,
    /// DMs whose content this (admin) socket has received, and whose access is recorded.
    audited: HashSet<ConversationId>,
    /// Participants of conversations this socket used, for typing checks.
    participants: HashMap<ConversationId, Participants>,
    bucket: TokenBucket,
    strikes: u32,
}

/// Runs a socket until it closes.
pub async fn run(
    state: web::Data<AppState>,
    principal: Principal,
    expires_at: Option<Instant>,
    session: actix_ws::Session,
    stream: actix_ws::MessageStream,
) {
    let (queue, mut outbound) = mpsc::channel(queue_capacity(&principal));
    let kill = Arc::new(Notify::new());
    let id = state.hub.register(Registration { principal, queue, kill: Arc::clone(&kill) });
    let deregister = Deregister::new(state.hub.clone(), id);
    let mut conn = Connection {
        state,
        principal,
        id,
        session,
        kill,
        positions: HashMap::new(),
        holding: true,
        audited: HashSet::new(),
        participants: HashMap::new(),
        bucket: TokenBucket { tokens: BURST, last: Instant::now() },
        strikes: 0,
    };
    let mut stream = stream.max_frame_size(MAX_FRAME).aggregate_continuations().max_continuation_size(MAX_FRAME);
    let expiry = tokio::time::sleep_until(
        expires_at.map_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86_400 * 365), Into::into),
    );
    tokio::pin!(expiry);
    let grace = tokio::time::sleep(RESUME_GRACE);
    tokio::pin!(grace);
    let shutdown = conn.state.hub.shutting_down();
    tokio::pin!(shutdown);
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.tick().await;
    let mut last_heard = Instant::now();

    let online = conn.state.hub.support_online().await;
    let mut stop = if conn.principal.is_admin() { Ok(()) } else { conn.send(presence_frame(online)).await };
    while stop.is_ok() {
        stop = tokio::select! {
            biased;
            () = conn.kill.notified() => Err(slow_consumer()),
            () = &mut shutdown => Err(going_away()),
            () = &mut expiry => Err(reason(CloseCode::Other(close_codes::TOKEN_EXPIRED), "token expired")),
            () = &mut grace, if conn.holding => {
                conn.holding = false;
                Ok(())
            }
            out = outbound.recv(), if !conn.holding => match out {
                Some(out) => conn.forward(out).await,
                None => Err(going_away()),
            },
            frame = stream.recv() => {
                last_heard = Instant::now();
                match frame {
                    // Boxed: a request's future is large (every use case), and inlined it
                    // would sit in every idle socket's task (docs/performance.md).
                    Some(Ok(AggregatedMessage::Text(text))) => Box::pin(conn.handle_text(&text)).await,
                    Some(Ok(AggregatedMessage::Binary(_))) => {
                        conn.reply_error(None, "invalid_frame", "Only JSON text frames are accepted.", Vec::new()).await
                    }
                    Some(Ok(AggregatedMessage::Ping(bytes))) => bounded(&conn.kill, conn.session.pong(&bytes)).await,
                    Some(Ok(AggregatedMessage::Pong(_))) => Ok(()),
                    Some(Ok(AggregatedMessage::Close(received))) => Err(answer_close(received)),
                    None => Err(Stop::Gone),
                    // A reset socket: nobody is left to read a Close frame, and no close to count.
                    Some(Err(e)) if peer_gone(&e) => Err(Stop::Gone),
                    Some(Err(e)) => Err(protocol_close(&e)),
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > IDLE_TIMEOUT {
                    Err(reason(CloseCode::Away, "idle timeout"))
                } else {
                    bounded(&conn.kill, conn.session.ping(b"")).await
                }
            }
        };
    }
    // The session is over: deregister at once, then close without pinning anything. The
    // close frame waits for room (a stalled peer) on a detached task, at most CLOSE_GRACE.
    drop(deregister);
    if let Err(Stop::Close(close)) = stop {
        let session = conn.session;
        actix_web::rt::spawn(async move {
            let _ = tokio::time::timeout(CLOSE_GRACE, session.close(Some(close))).await;
        });
    }
}

fn text_json(value: &impl Serialize) -> ByteString {
    serde_json::to_string(value).unwrap_or_default().into()
}

impl Connection {
    /// Sends a frame, bounded (see [`bounded`]).
    async fn send(&mut self, frame: ByteString) -> Result<(), Stop> {
        bounded(&self.kill, self.session.text(frame)).await
    }

    /// Forwards a queued event, skipping what this socket already has and first
    /// repairing any gap from PostgreSQL (an event lost between instances).
    async fn forward(&mut self, out: Outbound) -> Result<(), Stop> {
        if let Some((conversation, seq)) = out.position {
            match self.positions.get(&conversation).copied() {
                // Already delivered, or older than the first live message (a late event
                // from another instance): the client resumes for anything before that.
                Some(have) if seq <= have.hi => return Ok(()),
                Some(have) if seq > have.hi + 1 => Box::pin(self.repair(conversation, have.hi, seq - 1)).await?,
                _ => {}
            }
            self.delivered(conversation, seq);
        }
        if let Some(dm) = out.dm_content {
            self.audit(dm);
        }
        self.send(out.frame).await
    }

    /// Records in the staff access log, once per socket and DM, that an admin received a
    /// DM's message content (the row a REST read writes). Off the hot path: the write runs
    /// on its own task, and a failure is logged, never failing the delivery.
    fn audit(&mut self, conversation: ConversationId) {
        if !self.principal.is_admin() || !self.audited.insert(conversation) {
            return;
        }
        let (store, admin) = (Arc::clone(&self.state.store), self.principal);
        actix_web::rt::spawn(async move {
            let recorded = store.run(move |tx| direct_messages::record_live_read(tx, &admin, conversation)).await;
            if let Err(e) = recorded {
                tracing::warn!(error = %e, conversation = conversation.get(), "access log write failed");
            }
        });
    }

    /// Records that `seq` of `conversation` reached the client (live, in order).
    fn delivered(&mut self, conversation: ConversationId, seq: i64) {
        let have = self.positions.entry(conversation).or_insert(Delivered { lo: seq, hi: seq });
        have.hi = have.hi.max(seq);
    }

    async fn repair(&mut self, conversation: ConversationId, after: i64, upto: i64) -> Result<(), Stop> {
        let fetched = self
            .state
            .store
            .run(move |tx| -> Result<_, RepoError> {
                let position = tx.conversation_position(conversation)?;
                Ok(position
                    .map(|(participants, _)| (participants, tx.messages_after(conversation, after, upto - after))))
            })
            .await;
        match fetched {
            Ok(Some((participants, Ok(missed)))) => self.deliver_messages(&participants, missed).await,
            Ok(_) => Ok(()),
            // Marking the gap delivered would lose it silently: the socket would go on
            // with later messages and the client would never ask for the missing ones.
            // Closing makes it reconnect and resume from what it really has.
            Err(e) => {
                tracing::warn!(error = %e, "gap repair failed; closing the socket so the client resumes");
                Err(reason(CloseCode::Again, "could not fill a gap: reconnect and resume"))
            }
        }
    }

    async fn deliver_messages(&mut self, participants: &Participants, missed: Vec<DomainMessage>) -> Result<(), Stop> {
        for message in missed {
            self.delivered(message.conversation_id, message.seq);
            self.send_message(participants, message).await?;
        }
        Ok(())
    }

    /// Sends a stored message in the view of this socket's role.
    async fn send_message(&mut self, participants: &Participants, message: DomainMessage) -> Result<(), Stop> {
        if render::is_dm(participants) {
            self.audit(message.conversation_id);
        }
        let envelope = message_envelope(participants, &message);
        let frame = if self.principal.is_admin() { envelope.admin_frame } else { envelope.user_frame };
        self.send(frame).await
    }

    async fn reply_error(
        &mut self,
        id: Option<String>,
        code: &str,
        detail: &str,
        errors: Vec<crate::problem::FieldViolation>,
    ) -> Result<(), Stop> {
        let frame = ErrorFrame { event_type: "error", id, code: code.to_owned(), detail: detail.to_owned(), errors };
        self.send(text_json(&frame)).await
    }

    async fn reply(&mut self, id: Option<String>, result: Result<AckFrame, ApiError>) -> Result<(), Stop> {
        match result {
            Ok(mut ack) => {
                ack.event_type = "ack";
                ack.id = id;
                self.send(text_json(&ack)).await
            }
            Err(error) => {
                let problem = error.problem();
                self.reply_error(id, &problem.code, &problem.detail, problem.errors).await
            }
        }
    }

    async fn handle_text(&mut self, text: &str) -> Result<(), Stop> {
        let handled = self.handle_request(text).await;
        // The first request ends the hold: a `resume` has replayed by now, and a client
        // that asks anything else does not resume.
        self.holding = false;
        handled
    }

    async fn handle_request(&mut self, text: &str) -> Result<(), Stop> {
        if !self.bucket.take() {
            self.strikes += 1;
            if self.strikes > MAX_STRIKES {
                return Err(reason(CloseCode::Policy, "rate limit exceeded repeatedly"));
            }
            return self.reply_error(None, "rate_limited", "Too many frames; slow down.", Vec::new()).await;
        }
        // `admin-notification` carries the body of `POST /api/admin/chat/notifications`,
        // parsed by the REST parser so that errors name their fields and unknown fields
        // are refused exactly as over REST (serde's `flatten` would ignore them).
        if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(text)
            && value["type"] == "admin-notification"
        {
            let id = value.get("id").and_then(|v| v.as_str()).map(str::to_owned);
            if let Some(object) = value.as_object_mut() {
                object.remove("type");
                object.remove("id");
            }
            let body = serde_json::to_vec(&value).unwrap_or_default();
            return match crate::extract::parse_json::<SendNotificationRequest>(&body) {
                Ok(request) => self.dispatch(ClientFrame::AdminNotification { id, request }).await,
                Err(error) if self.principal.is_admin() => self.reply(id, Err(error)).await,
                Err(_) => self.reply(id, Err(ADMIN_ONLY)).await,
            };
        }
        let frame = match serde_json::from_str::<ClientFrame>(text) {
            Ok(frame) => frame,
            Err(e) => {
                let id = serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_owned));
                return self
                    .reply_error(id, "invalid_frame", &format!("The frame is not a valid request: {e}"), Vec::new())
                    .await;
            }
        };
        self.dispatch(frame).await
    }

    async fn dispatch(&mut self, frame: ClientFrame) -> Result<(), Stop> {
        let caller = self.principal;
        match frame {
            ClientFrame::Ping { id } => {
                self.send(text_json(&ControlFrame { event_type: "pong", id, replayed: None })).await
            }
            ClientFrame::Resume { id, positions } => self.resume(id, positions).await,
            ClientFrame::JoinSupportQueue { id } => {
                let result = if caller.is_admin() {
                    self.state.hub.join_queue(self.id);
                    Ok(AckFrame::default())
                } else {
                    Err(ADMIN_ONLY)
                };
                self.reply(id, result).await
            }
            ClientFrame::JoinSupportConversation { id, conversation_id } => {
                let conversation = ConversationId(conversation_id);
                let result = self.join(conversation, |p| matches!(p, Participants::Support { .. })).await;
                self.reply(id, result).await
            }
            ClientFrame::JoinDmConversation { id, conversation_id } => {
                let conversation = ConversationId(conversation_id);
                let result = if caller.is_admin() {
                    let store = Arc::clone(&self.state.store);
                    match store.run(move |tx| direct_messages::watch_dm(tx, &caller, conversation)).await {
                        Ok(dm) => {
                            // Recorded by the join itself.
                            self.audited.insert(conversation);
                            self.state.hub.join_conversation(self.id, conversation);
                            self.participants.insert(conversation, participants_of_dm(&dm));
                            Ok(AckFrame::default())
                        }
                        Err(e) => Err(e.into()),
                    }
                } else {
                    self.join(conversation, |p| {
                        matches!(p, Participants::UserDm { .. } | Participants::PersonaDm { .. })
                    })
                    .await
                };
                self.reply(id, result).await
            }
            ClientFrame::SupportMessage { id, content, message_type, client_message_id } => {
                let result = self.support_message(&content, message_type, client_message_id).await;
                self.reply(id, result).await
            }
            ClientFrame::SupportResponse {
                id,
                conversation_id,
                content,
                message_type,
                persona_id,
                as_team,
                client_message_id,
            } => {
                let voice = match (persona_id, as_team) {
                    (Some(_), true) => {
                        let error =
                            ApiError::invalid("asTeam", "exclusive", "give either `personaId` or `asTeam`, not both");
                        return self.reply(id, Err(error)).await;
                    }
                    (Some(persona), false) => ReplyVoice::Persona(PersonaId(persona)),
                    (None, true) => ReplyVoice::Team,
                    (None, false) => ReplyVoice::Default,
                };
                let result = self
                    .support_response(ConversationId(conversation_id), voice, &content, message_type, client_message_id)
                    .await;
                self.reply(id, result).await
            }
            ClientFrame::DmMessage { id, conversation_id, content, message_type, client_message_id } => {
                let result =
                    self.dm_message(ConversationId(conversation_id), &content, message_type, client_message_id).await;
                self.reply(id, result).await
            }
            ClientFrame::StartDm { id, target_type, target_id } => {
                let result = self.start_dm(target_type, target_id).await;
                self.reply(id, result).await
            }
            ClientFrame::Typing { id, conversation_id, is_typing } => {
                match self.typing(ConversationId(conversation_id), is_typing).await {
                    Ok(()) => Ok(()),
                    Err(error) => self.reply(id, Err(error)).await,
                }
            }
            ClientFrame::AdminNotification { id, request } => self.admin_notification(id, request).await,
            ClientFrame::Read { id, conversation_id, last_read_message_id } => {
                let result = self.read(ConversationId(conversation_id), MessageId(last_read_message_id)).await;
                self.reply(id, result).await
            }
        }
    }

    /// Sends an admin notice, exactly as the REST route does, and publishes it.
    async fn admin_notification(&mut self, id: Option<String>, request: SendNotificationRequest) -> Result<(), Stop> {
        if !self.principal.is_admin() {
            return self.reply(id, Err(ADMIN_ONLY)).await;
        }
        let result = async {
            self.spend(Budget::Notifications)?;
            let user_ids = request.user_ids.clone();
            let new = request.try_into_domain(Utc::now())?;
            let (content, style, expires_at) = (new.content.as_str().to_owned(), new.style.clone(), new.expires_at);
            let caller = self.principal;
            let store = Arc::clone(&self.state.store);
            let sent = store
                .run(move |tx| notifications::send_notification(tx, &caller, &new))
                .await
                .map_err(|e| send_error(e, user_ids.as_deref()))?;
            if let Some(audience) = &sent.delivered_to {
                self.publish(ChatEvent::NotificationCreated {
                    recipients: Recipients::from(audience),
                    notification: sent.id,
                    content,
                    style,
                    expires_at,
                });
            }
            Ok(AckFrame { notification: Some(NotificationSent::from(&sent)), ..AckFrame::default() })
        }
        .await;
        self.reply(id, result).await
    }

    /// The participants of `conversation`, if the caller may read it (cached).
    async fn readable(&mut self, conversation: ConversationId) -> Result<Participants, ApiError> {
        if let Some(participants) = self.participants.get(&conversation) {
            return Ok(*participants);
        }
        let store = Arc::clone(&self.state.store);
        let position = store.run(move |tx| tx.conversation_position(conversation)).await?;
        let participants = position
            .map(|(participants, _)| participants)
            .filter(|p| access::can_read(&self.principal, p))
            .ok_or(ApiError::NotFound)?;
        self.participants.insert(conversation, participants);
        Ok(participants)
    }

    async fn join(
        &mut self,
        conversation: ConversationId,
        kind: impl Fn(&Participants) -> bool,
    ) -> Result<AckFrame, ApiError> {
        let participants = self.readable(conversation).await?;
        if !kind(&participants) {
            return Err(ApiError::NotFound);
        }
        if self.principal.is_admin() && !access::is_participant(self.principal.user_id, &participants) {
            self.state.hub.join_conversation(self.id, conversation);
        }
        Ok(AckFrame::default())
    }

    async fn resume(&mut self, id: Option<String>, positions: HashMap<String, i64>) -> Result<(), Stop> {
        let mut parsed = HashMap::new();
        for (key, seq) in positions {
            match key.parse::<i64>() {
                Ok(conversation) => {
                    parsed.insert(ConversationId(conversation), seq.max(0));
                }
                Err(_) => {
                    let error = ApiError::invalid(format!("positions.{key}"), "invalid_id", "is not a conversation id");
                    return self.reply(id, Err(error)).await;
                }
            }
        }
        if let Err(error) = self.spend(Budget::Reads) {
            return self.reply(id, Err(error)).await;
        }
        let caller = self.principal;
        let store = Arc::clone(&self.state.store);
        let known = parsed.clone();
        let replay = store.run(move |tx| conversations::replay(tx, &caller, &known, REPLAY_LIMIT)).await;
        match replay {
            Ok(Replay::Messages(missed)) => {
                // The client's positions win: it has everything up to them, and the
                // replay delivers everything after, except what this socket already
                // forwarded live (the range of `Delivered` before the resume).
                let before = self.positions.clone();
                let mut reached: HashMap<ConversationId, i64> = parsed;
                let mut count = 0;
                for (participants, message) in missed {
                    let (conversation, seq) = (message.conversation_id, message.seq);
                    let top = reached.entry(conversation).or_insert(0);
                    *top = (*top).max(seq);
                    if before.get(&conversation).is_some_and(|have| have.contains(seq)) {
                        continue;
                    }
                    if render::is_dm(&participants) {
                        // The replay recorded this read in the access log already.
                        self.audited.insert(conversation);
                    }
                    self.send_message(&participants, message).await?;
                    count += 1;
                }
                for (conversation, seq) in reached {
                    let hi = before.get(&conversation).map_or(seq, |have| have.hi.max(seq));
                    self.positions.insert(conversation, Delivered { lo: 0, hi });
                }
                self.send(text_json(&ControlFrame { event_type: "resumed", id, replayed: Some(count) })).await
            }
            Ok(Replay::ResyncRequired) => {
                self.send(text_json(&ControlFrame { event_type: "resync-required", id, replayed: None })).await
            }
            Err(e) => self.reply(id, Err(e.into())).await,
        }
    }

    fn publish(&self, event: ChatEvent) {
        self.state.events.publish(event);
    }

    /// Spends one request of the caller's budget, as the REST twin of the request does
    /// (the same bucket: a client cannot double its budget by switching doors).
    fn spend(&self, budget: Budget) -> Result<(), ApiError> {
        self.state.limits.check(&self.principal, budget).map(drop)
    }

    fn parse_message(
        content: &str,
        message_type: MessageType,
        client_message_id: Option<uuid::Uuid>,
    ) -> Result<conversations::NewMessage, ApiError> {
        let mut v = Violations::default();
        let new = new_message(content, message_type, client_message_id, &mut v);
        v.finish(|| new)
    }

    fn ack_message(&self, message: DomainMessage) -> AckFrame {
        let message = if self.principal.is_admin() {
            AckMessage::Admin(AdminMessage::from(message))
        } else {
            AckMessage::User(Message::from(message))
        };
        AckFrame { message: Some(message), ..AckFrame::default() }
    }

    async fn support_message(
        &mut self,
        content: &str,
        message_type: MessageType,
        client_message_id: Option<uuid::Uuid>,
    ) -> Result<AckFrame, ApiError> {
        self.spend(Budget::Sends)?;
        let new = Self::parse_message(content, message_type, client_message_id)?;
        let caller = self.principal;
        let settings = self.state.settings.support.clone();
        let store = Arc::clone(&self.state.store);
        let sent = store.run(move |tx| support::send_support_message(tx, &caller, &settings, &new)).await?;
        crate::routes::publish_sent(&self.state, &sent);
        Ok(self.ack_message(sent.message))
    }

    async fn support_response(
        &mut self,
        conversation: ConversationId,
        voice: ReplyVoice,
        content: &str,
        message_type: MessageType,
        client_message_id: Option<uuid::Uuid>,
    ) -> Result<AckFrame, ApiError> {
        self.spend(Budget::Sends)?;
        let new = Self::parse_message(content, message_type, client_message_id)?;
        let caller = self.principal;
        let store = Arc::clone(&self.state.store);
        let sent = store.run(move |tx| support::reply_to_support(tx, &caller, conversation, voice, &new)).await?;
        crate::routes::publish_sent(&self.state, &sent);
        Ok(self.ack_message(sent.message))
    }

    async fn dm_message(
        &mut self,
        conversation: ConversationId,
        content: &str,
        message_type: MessageType,
        client_message_id: Option<uuid::Uuid>,
    ) -> Result<AckFrame, ApiError> {
        self.spend(Budget::Sends)?;
        let new = Self::parse_message(content, message_type, client_message_id)?;
        let caller = self.principal;
        let store = Arc::clone(&self.state.store);
        let sent = if caller.is_admin() {
            // An admin writes as a participant where they are one (their own DMs, as over
            // `POST /api/user/chat/direct-messages/{id}/messages`), else as the DM's persona
            // (as over the admin route); one transaction either way.
            store
                .run(move |tx| -> Result<_, ApiError> {
                    match direct_messages::send_dm_message(tx, &caller, conversation, &new) {
                        Err(UserDmError::NotFound) => {
                            Ok(direct_messages::reply_in_persona_dm(tx, &caller, conversation, &new)?)
                        }
                        own => Ok(own?),
                    }
                })
                .await?
        } else {
            store.run(move |tx| direct_messages::send_dm_message(tx, &caller, conversation, &new)).await?
        };
        crate::routes::publish_sent(&self.state, &sent);
        Ok(self.ack_message(sent.message))
    }

    async fn start_dm(&mut self, target_type: TargetType, target_id: i32) -> Result<AckFrame, ApiError> {
        self.spend(Budget::DmStarts)?;
        let target = match target_type {
            TargetType::RealUser => DmTarget::User(UserId(target_id)),
            TargetType::FakeUser => DmTarget::Persona(PersonaId(target_id)),
        };
        let caller = self.principal;
        let settings = self.state.settings.dms;
        let store = Arc::clone(&self.state.store);
        let (dm, created) = store.run(move |tx| direct_messages::start_dm(tx, &caller, target, &settings)).await?;
        if created {
            self.publish(ChatEvent::ConversationUpdated { participants: participants_of_dm(&dm), conversation: dm.id });
        }
        Ok(AckFrame { conversation: Some(UserDm::new(dm, caller.user_id)), ..AckFrame::default() })
    }

    /// Typing is allowed only where the caller may post, decided as for a send: admins
    /// never type in user-to-user DMs or personal groups, and a block stops typing too.
    async fn typing(&mut self, conversation: ConversationId, is_typing: bool) -> Result<(), ApiError> {
        let participants = self.readable(conversation).await?;
        let author =
            access::authorize_post(&self.principal, &participants, Voice::Own).map_err(|denied| match denied {
                Denied::NotVisible => ApiError::NotFound,
                Denied::ReadOnly | Denied::VoiceNotAllowed => ApiError::from(AdminDmError::UserDmReadOnly),
            })?;
        if let Participants::UserDm { a, b } = participants {
            let store = Arc::clone(&self.state.store);
            if store
                .run(move |tx| -> Result<bool, RepoError> { Ok(tx.is_blocked(a, b)? || tx.is_blocked(b, a)?) })
                .await?
            {
                return Err(UserDmError::Blocked.into());
            }
        }
        self.publish(ChatEvent::Typing { participants, conversation, author, is_typing });
        Ok(())
    }

    async fn read(&mut self, conversation: ConversationId, upto: MessageId) -> Result<AckFrame, ApiError> {
        let participants = self.readable(conversation).await?;
        let caller = self.principal;
        let store = Arc::clone(&self.state.store);
        let mark: ReadMark = match participants {
            Participants::Support { user } if user == caller.user_id => {
                store.run(move |tx| support::mark_support_read(tx, &caller, upto)).await?
            }
            Participants::Support { .. } => {
                store.run(move |tx| support::mark_team_read(tx, &caller, conversation, upto)).await?
            }
            Participants::UserDm { .. } | Participants::PersonaDm { .. } => {
                store.run(move |tx| direct_messages::mark_dm_read(tx, &caller, conversation, upto)).await?
            }
            Participants::PersonalGroup { .. } => return Err(ApiError::NotFound),
        };
        self.publish(read_event(&mark, caller.user_id));
        Ok(AckFrame { read: Some(ReadState::from(mark.state)), ..AckFrame::default() })
    }
}

/// The participants of a DM summary.
pub fn participants_of_dm(dm: &direct_messages::DmSummary) -> Participants {
    match &dm.other {
        direct_messages::DmParty::User(other) => Participants::UserDm { a: dm.user_one.id, b: other.id },
        direct_messages::DmParty::Persona(persona) => {
            Participants::PersonaDm { user: dm.user_one.id, persona: persona.id }
        }
    }
}

/// The event of a read.
pub fn read_event(mark: &ReadMark, reader: UserId) -> ChatEvent {
    ChatEvent::Read {
        participants: mark.participants,
        conversation: mark.conversation,
        side: mark.side,
        state: mark.state,
        reader,
    }
}
