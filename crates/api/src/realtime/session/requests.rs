//! One function per client frame type: it parses the frame into the request type of its
//! REST twin ([`RawFrame::body`]: the same serde rules and problem codes) and runs the
//! same use case; sends are acknowledged after their commit.

use std::collections::HashMap;
use std::time::Instant;

use chat_domain::ConversationId;
use chat_domain::access::{self, Participants};
use chat_domain::conversations::{self, Message as DomainMessage, Replay};
use chat_domain::direct_messages;
use chat_domain::live::{self, LiveError};
use chat_domain::notes::{self, NoteTarget};
use chat_domain::notifications;
use chat_domain::support;
use chrono::Utc;

use super::{Connection, ControlFrame, Delivered, REPLAY_LIMIT, Stop, text_json};
use crate::dto::direct_messages::{StartDmRequest, UserDm};
use crate::dto::messages::{AdminMessage, Message, ReadRequest, ReadState, SendMessageRequest};
use crate::dto::notes::{AddNoteRequest, AdminNote};
use crate::dto::notifications::{NotificationSent, SendNotificationRequest};
use crate::dto::support::SupportReplyRequest;
use crate::extract::Validated;
use crate::problem::{ADMIN_ONLY, ApiError};
use crate::rate_limit::Budget;
use crate::realtime::protocol::{AckFrame, AckMessage, NoFields, RawFrame, ResumeRequest, TypingRequest};
use crate::send_trace::SendClock;

impl From<direct_messages::DmPostError> for ApiError {
    fn from(e: direct_messages::DmPostError) -> Self {
        match e {
            direct_messages::DmPostError::AsParticipant(e) => e.into(),
            direct_messages::DmPostError::AsStaff(e) => e.into(),
        }
    }
}

impl From<LiveError> for ApiError {
    fn from(e: LiveError) -> Self {
        match e {
            LiveError::NotFound => Self::NotFound,
            LiveError::ReadOnly => direct_messages::AdminDmError::UserDmReadOnly.into(),
            LiveError::Blocked => direct_messages::UserDmError::Blocked.into(),
            LiveError::Repo(e) => e.into(),
        }
    }
}

impl Connection {
    /// Spends one request of the caller's budget, as the REST twin of the request does
    /// (the same bucket: a client cannot double its budget by switching doors).
    fn spend(&self, budget: Budget) -> Result<(), ApiError> {
        self.state.limits.check(&self.principal, budget).map(drop)
    }

    /// Answers one request frame.
    pub(super) async fn dispatch(&mut self, text: &str) -> Result<(), Stop> {
        let mut frame = match RawFrame::parse(text) {
            Ok(frame) => frame,
            Err((id, error)) => return self.reply(id, Err(error)).await,
        };
        let id = frame.id.take();
        let result = match frame.kind.as_str() {
            "ping" => {
                return match frame.body::<NoFields>() {
                    Ok(NoFields {}) => {
                        self.send(text_json(&ControlFrame { event_type: "pong", id, replayed: None })).await
                    }
                    Err(error) => self.reply(id, Err(error)).await,
                };
            }
            "resume" => {
                return match frame.body::<ResumeRequest>() {
                    Ok(request) => self.resume(id, request.positions).await,
                    Err(error) => self.reply(id, Err(error)).await,
                };
            }
            "join-support-queue" => self.join_support_queue(frame),
            "join-support-conversation" => self.join_support_conversation(frame).await,
            "join-dm-conversation" => self.join_dm_conversation(frame).await,
            "support-message" => self.support_message(frame).await,
            "support-response" => self.support_response(frame).await,
            "dm-message" => self.dm_message(frame).await,
            "start-dm" => self.start_dm(frame).await,
            "read" => self.read(frame).await,
            "admin-notification" => self.admin_notification(frame).await,
            "add-note" => self.add_note(frame).await,
            "typing" => match self.typing(frame).await {
                // Typing is not acknowledged; only a refusal answers.
                Ok(()) => return Ok(()),
                Err(error) => Err(error),
            },
            _ => Err(frame.unknown_type()),
        };
        self.reply(id, result).await
    }

    fn join_support_queue(&mut self, frame: RawFrame) -> Result<AckFrame, ApiError> {
        if !self.principal.is_admin() {
            return Err(ADMIN_ONLY);
        }
        frame.body::<NoFields>()?;
        self.state.hub.join_queue(self.id);
        Ok(AckFrame::default())
    }

    async fn join_support_conversation(&mut self, mut frame: RawFrame) -> Result<AckFrame, ApiError> {
        let conversation = frame.conversation()?;
        frame.body::<NoFields>()?;
        self.join(conversation, |p| matches!(p, Participants::Support { .. })).await
    }

    async fn join_dm_conversation(&mut self, mut frame: RawFrame) -> Result<AckFrame, ApiError> {
        let conversation = frame.conversation()?;
        frame.body::<NoFields>()?;
        if !self.principal.is_admin() {
            return self
                .join(conversation, |p| matches!(p, Participants::UserDm { .. } | Participants::PersonaDm { .. }))
                .await;
        }
        let caller = self.principal;
        let dm = self.state.store.run(move |tx| direct_messages::watch_dm(tx, &caller, conversation)).await?;
        // Recorded in the access log by the join itself.
        self.audited.insert(conversation);
        self.state.hub.join_conversation(self.id, conversation);
        self.participants.insert(conversation, dm.participants());
        Ok(AckFrame::default())
    }

    /// The participants of `conversation`, if the caller may read it (cached).
    async fn readable(&mut self, conversation: ConversationId) -> Result<Participants, ApiError> {
        if let Some(participants) = self.participants.get(&conversation) {
            return Ok(*participants);
        }
        let caller = self.principal;
        let participants =
            self.state.store.run(move |tx| live::readable_participants(tx, &caller, conversation)).await?;
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

    fn ack_message(&self, message: DomainMessage) -> AckFrame {
        let message = if self.principal.is_admin() {
            AckMessage::Admin(AdminMessage::from(message))
        } else {
            AckMessage::User(Message::from(message))
        };
        AckFrame { message: Some(message), ..AckFrame::default() }
    }

    /// `POST /api/user/chat/support/messages`.
    async fn support_message(&mut self, frame: RawFrame) -> Result<AckFrame, ApiError> {
        let clock = SendClock::start();
        self.spend(Budget::Sends)?;
        let new = frame.body::<SendMessageRequest>()?.validated()?;
        let caller = self.principal;
        let settings = self.state.settings.support.clone();
        let sent = self
            .state
            .perform_send(clock, move |tx| support::send_support_message(tx, &caller, &settings, &new))
            .await?;
        Ok(self.ack_message(sent.message))
    }

    /// `POST /api/admin/chat/support/{id}/messages`.
    async fn support_response(&mut self, mut frame: RawFrame) -> Result<AckFrame, ApiError> {
        let clock = SendClock::start();
        self.spend(Budget::Sends)?;
        let conversation = frame.conversation()?;
        let (voice, new) = frame.body::<SupportReplyRequest>()?.validated()?;
        let caller = self.principal;
        let sent = self
            .state
            .perform_send(clock, move |tx| support::reply_to_support(tx, &caller, conversation, voice, &new))
            .await?;
        Ok(self.ack_message(sent.message))
    }

    /// `POST /api/user/chat/direct-messages/{id}/messages`, and for admins outside their
    /// own DMs `POST /api/admin/chat/direct-messages/{id}/messages`.
    async fn dm_message(&mut self, mut frame: RawFrame) -> Result<AckFrame, ApiError> {
        let clock = SendClock::start();
        self.spend(Budget::Sends)?;
        let conversation = frame.conversation()?;
        let new = frame.body::<SendMessageRequest>()?.validated()?;
        let caller = self.principal;
        let sent = self
            .state
            .perform_send(clock, move |tx| direct_messages::send_in_dm(tx, &caller, conversation, &new))
            .await?;
        Ok(self.ack_message(sent.message))
    }

    /// `POST /api/user/chat/direct-messages`.
    async fn start_dm(&mut self, frame: RawFrame) -> Result<AckFrame, ApiError> {
        self.spend(Budget::DmStarts)?;
        let target = frame.body::<StartDmRequest>()?.target();
        let caller = self.principal;
        let settings = self.state.settings.dms;
        let (dm, _) = self.state.perform(move |tx| direct_messages::start_dm(tx, &caller, target, &settings)).await?;
        Ok(AckFrame { conversation: Some(UserDm::new(dm, caller.user_id)), ..AckFrame::default() })
    }

    /// The read routes of every conversation kind: the side is the caller's
    /// ([`live::reader_side`]), the team's for staff in support and persona DMs.
    async fn read(&mut self, mut frame: RawFrame) -> Result<AckFrame, ApiError> {
        let conversation = frame.conversation()?;
        let upto = frame.body::<ReadRequest>()?.validated()?;
        let caller = self.principal;
        let mark = self.state.perform(move |tx| live::mark_read_as_reader(tx, &caller, conversation, upto)).await?;
        Ok(AckFrame { read: Some(ReadState::from(mark.state)), ..AckFrame::default() })
    }

    /// `POST /api/admin/chat/notifications`.
    async fn admin_notification(&mut self, frame: RawFrame) -> Result<AckFrame, ApiError> {
        if !self.principal.is_admin() {
            return Err(ADMIN_ONLY);
        }
        self.spend(Budget::Notifications)?;
        let request = frame.body::<SendNotificationRequest>()?;
        let user_ids = request.user_ids.clone();
        let new = request.try_into_domain(Utc::now())?;
        let caller = self.principal;
        let sent = self
            .state
            .perform(move |tx| notifications::send_notification(tx, &caller, &new))
            .await
            .map_err(|e| crate::dto::notifications::send_error(e, user_ids.as_deref()))?;
        Ok(AckFrame { notification: Some(NotificationSent::from(&sent)), ..AckFrame::default() })
    }

    /// `POST /api/admin/chat/support/{id}/notes` and `.../direct-messages/{id}/notes`:
    /// the frame names only a conversation, so either kind is taken.
    async fn add_note(&mut self, mut frame: RawFrame) -> Result<AckFrame, ApiError> {
        if !self.principal.is_admin() {
            return Err(ADMIN_ONLY);
        }
        self.spend(Budget::Sends)?;
        let conversation = frame.conversation()?;
        let new = frame.body::<AddNoteRequest>()?.validated()?;
        let caller = self.principal;
        let added =
            self.state.perform(move |tx| notes::add_note(tx, &caller, conversation, NoteTarget::Any, &new)).await?;
        Ok(AckFrame { note: Some(AdminNote::from(added.note)), ..AckFrame::default() })
    }

    /// Typing, allowed where the caller may post ([`live::typing_author`]). In a DM
    /// between users the blocks are read once, then the verdict this socket keeps
    /// answers ([`live::typing_without_store`]) until it ages out or a change of the
    /// pair's blocks drops it ([`Connection::on_signal`]).
    async fn typing(&mut self, mut frame: RawFrame) -> Result<(), ApiError> {
        let conversation = frame.conversation()?;
        let TypingRequest { is_typing } = frame.body()?;
        let participants = self.readable(conversation).await?;
        let caller = self.principal;
        let now = Instant::now();
        let verdict = self.no_block.get(&conversation);
        if let Some(done) = live::typing_without_store(&caller, conversation, &participants, verdict, now, is_typing)? {
            self.state.announce(done);
            return Ok(());
        }
        let checked = self
            .state
            .perform(move |tx| live::typing(tx, &caller, conversation, &participants, now, is_typing))
            .await?;
        if let Some(verdict) = checked {
            self.no_block.insert(conversation, verdict);
        }
        Ok(())
    }

    /// Replays what the client missed since its positions, then `resumed`; what this
    /// socket already forwarded live is not sent again.
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
        let known = parsed.clone();
        let replay = self.state.store.run(move |tx| conversations::replay(tx, &caller, &known, REPLAY_LIMIT)).await;
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
                    if crate::realtime::render::is_dm(&participants) {
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
}
