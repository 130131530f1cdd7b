//! One task per socket: a single `select!` loop over the outbound queue, the client's
//! frames, the heartbeat, the token's expiry, the hub's kill signal and the server's
//! shutdown. Every exit path deregisters (a drop guard makes that certain).
//!
//! This module is transport only: heartbeat, bounded writes, de-duplication, gap repair
//! and resume. Requests are answered in [`requests`], one function per frame type, through
//! the REST twins' request types and use cases (one use-case path, two doors).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web;
use actix_ws::{AggregatedMessage, CloseCode};
use bytestring::ByteString;
use chat_domain::access::Participants;
use chat_domain::conversations::Message as DomainMessage;
use chat_domain::{ConversationId, Principal, direct_messages, live};
use serde::Serialize;
use tokio::sync::{Notify, mpsc};

use super::hub::{ConnId, Hub, Outbound, Queued, Registration, presence_frame, queue_capacity};
use super::protocol::{AckFrame, ControlFrame, ErrorFrame};
use super::render::{self, message_frame};
use super::signal::Signal;
use crate::problem::ApiError;
use crate::state::AppState;

mod close;
mod limits;
mod requests;

use close::{Stop, answer_close, going_away, peer_gone, protocol_close, reason, slow_consumer};
use limits::{BURST, MAX_STRIKES, TokenBucket};

/// The largest frame a client may send.
pub const MAX_FRAME: usize = 64 * 1024;
/// The most messages a resume replays; beyond it the client gets `resync-required`.
pub const REPLAY_LIMIT: usize = 1000;
const HEARTBEAT: Duration = Duration::from_secs(15);
const IDLE_TIMEOUT: Duration = Duration::from_secs(45);
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
    /// DMs between users where this socket found no block, so that typing there reads
    /// nothing from the store while the verdict stands (the domain decides when that
    /// is, [`live::typing_without_store`]); a change of the pair's blocks drops them.
    no_block: HashMap<ConversationId, live::NoBlock>,
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
        no_block: HashMap::new(),
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

    let online = conn.state.hub.support_online();
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
            // Before the client's frames (biased): a signal queued before a request is
            // acted on before that request is answered.
            out = outbound.recv(), if !conn.holding => match out {
                Some(Queued::Frame(out)) => conn.forward(out).await,
                Some(Queued::Signal(signal)) => {
                    conn.on_signal(signal);
                    Ok(())
                }
                None => Err(going_away()),
            },
            frame = stream.recv() => {
                last_heard = Instant::now();
                match frame {
                    // Boxed: a request's future is large (every use case), and inlined it
                    // would sit in every idle socket's task (docs/performance.md).
                    Some(Ok(AggregatedMessage::Text(text))) => Box::pin(conn.handle_text(&text)).await,
                    Some(Ok(AggregatedMessage::Binary(_))) => {
                        conn.reply(None, Err(ApiError::UnsupportedMediaType)).await
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
        if let Some(notice) = &out.notice {
            notice.handed_now();
        }
        self.send(out.frame).await
    }

    /// Acts on a signal; the client is told nothing.
    fn on_signal(&mut self, signal: Signal) {
        match signal {
            Signal::BlocksChanged { blocker, blocked } => {
                self.no_block.retain(|_, verdict| !verdict.voided_by(blocker, blocked));
            }
        }
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
        let caller = self.principal;
        let fetched =
            self.state.store.run(move |tx| live::missed_messages(tx, &caller, conversation, after, upto)).await;
        match fetched {
            Ok(Some((participants, missed))) => self.deliver_messages(&participants, missed).await,
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
        self.send(message_frame(participants, &message, self.principal.is_admin())).await
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
        self.dispatch(text).await
    }
}
