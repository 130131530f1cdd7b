//! The slow-send trace: when a send passed each stage, from its request to the
//! announcement of its events, and one log event for a send slower than
//! [`ApiSettings::slow_send`](crate::ApiSettings::slow_send) (`CHAT_SLOW_SEND_MS`).
//!
//! A send's instants come from three places: the API ([`SendClock`] when its request
//! arrived, then when the handler handed it to the store, got the store's answer back and
//! announced its events) and the store ([`SendStages`]: queued for a writer, picked with
//! a batch, its append statement done, committed). The stages are the spans between
//! consecutive instants ([`STAGES`]); every send's stages feed `chat_send_stage_seconds`,
//! and a send at or past the threshold is logged (target `chat::slow_send`, INFO) with its
//! `client_message_id`, so a client's slow send can be found in the server's log.
//!
//! Clock reads only: no allocation unless the event is logged (or a metrics recorder
//! is installed).

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use chat_domain::conversations::Message;
use chat_domain::store::SendStages;

use crate::access_log::millis;

/// When a send's request arrived: taken by a REST handler's extractor (so before the
/// caller is authenticated and the body read and validated), or when a socket's send
/// frame reaches its handler.
#[derive(Debug, Clone, Copy)]
pub struct SendClock {
    received: Instant,
}

impl SendClock {
    /// Starts the clock now.
    pub fn start() -> Self {
        Self { received: Instant::now() }
    }
}

impl FromRequest for SendClock {
    type Error = Infallible;
    type Future = Ready<Result<Self, Infallible>>;

    fn from_request(_: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self::start()))
    }
}

/// The stages of a send, in order; each ends at one instant of its [`SendTimeline`].
///
/// * `parse`: the request's authentication, body and validation (received -> handed to
///   the store);
/// * `handoff`: to the store's queue (-> queued);
/// * `queue`: waiting for a group-commit writer, or alone for a pooled connection
///   (-> picked);
/// * `statement`: the writer's connection and `BEGIN`, the batch's sends before it, its
///   append statement (-> appended);
/// * `commit`: the rest of the batch's work and the commit (-> committed);
/// * `wake`: the answer back to the request's task (-> resumed);
/// * `announce`: publishing its events to the hub and the fan-out (-> announced).
pub const STAGES: [&str; 7] = ["parse", "handoff", "queue", "statement", "commit", "wake", "announce"];

/// A committed send's instants.
#[derive(Debug, Clone, Copy)]
pub struct SendTimeline {
    /// Its request arrived.
    pub received: Instant,
    /// Handed to the store.
    pub parsed: Instant,
    /// The store's stages.
    pub store: SendStages,
    /// The store's answer reached the request's task.
    pub resumed: Instant,
    /// Its events published.
    pub announced: Instant,
}

impl SendTimeline {
    /// Starts a timeline at `clock`, handed to the store now.
    pub fn handed_over(clock: SendClock) -> Self {
        let now = Instant::now();
        Self { received: clock.received, parsed: now, store: SendStages::default(), resumed: now, announced: now }
    }

    /// Each stage's duration, in [`STAGES`]' order. A stage whose end the store did not
    /// observe takes nothing (the next one takes its time), so the durations always add
    /// up to [`Self::total`].
    pub fn durations(&self) -> [Duration; STAGES.len()] {
        let SendStages { queued, picked, appended, committed, .. } = self.store;
        let ends = [Some(self.parsed), queued, picked, appended, committed, Some(self.resumed), Some(self.announced)];
        let mut last = self.received;
        ends.map(|end| {
            let end = end.map_or(last, |end| end.max(last));
            let took = end - last;
            last = end;
            took
        })
    }

    /// From the request's arrival to its events' announcement.
    pub fn total(&self) -> Duration {
        self.announced.saturating_duration_since(self.received)
    }

    /// How the store ran it: `batch` (a group-commit transaction), `alone` (group commit
    /// off), `batch_then_alone` (its batch rolled back for another send's sake).
    pub const fn path(&self) -> &'static str {
        match (self.store.split, self.store.batch) {
            (true, _) => "batch_then_alone",
            (false, 0) => "alone",
            (false, _) => "batch",
        }
    }

    /// Feeds the stage histograms and, when the send took `threshold` or more, logs it
    /// as one `chat::slow_send` event naming `message`.
    pub fn report(&self, message: &Message, threshold: Duration) {
        let durations = self.durations();
        crate::metrics::send_stages(STAGES.iter().copied().zip(durations));
        let total = self.total();
        if total < threshold {
            return;
        }
        let [parse, handoff, queue, statement, commit, wake, announce] = durations.map(millis);
        tracing::info!(
            target: "chat::slow_send",
            client_message_id = message.client_message_id.map(tracing::field::display),
            conversation = message.conversation_id.get(),
            message_id = message.id.get(),
            path = self.path(),
            batch = self.store.batch,
            total_ms = millis(total),
            parse_ms = parse,
            handoff_ms = handoff,
            queue_ms = queue,
            statement_ms = statement,
            commit_ms = commit,
            wake_ms = wake,
            announce_ms = announce,
            "slow send"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use chat_domain::access::Author;
    use chat_domain::conversations::MessageKind;
    use chat_domain::{ConversationId, MessageId, UserId};
    use tracing::field::{Field, Visit};
    use tracing::{Event, Subscriber};
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A timeline whose stages took 1, 2, 3, ... ms, in order.
    fn timeline(store: SendStages) -> SendTimeline {
        let t0 = Instant::now();
        let at = |ms: u32| t0 + MS * ms;
        let stamped = |stage: Option<Instant>, ms| stage.map(|_| at(ms));
        let store = SendStages {
            queued: stamped(store.queued, 3),
            picked: stamped(store.picked, 6),
            appended: stamped(store.appended, 10),
            committed: stamped(store.committed, 15),
            ..store
        };
        SendTimeline { received: t0, parsed: at(1), store, resumed: at(21), announced: at(28) }
    }

    fn every_stage(batch: usize) -> SendStages {
        let now = Some(Instant::now());
        SendStages { queued: now, picked: now, appended: now, committed: now, batch, split: false }
    }

    fn message(client: uuid::Uuid) -> Message {
        Message {
            id: MessageId(7),
            conversation_id: ConversationId(42),
            seq: 1,
            author: Author::User(UserId(1)),
            sender_name: None,
            acting_admin_name: None,
            kind: MessageKind::Text,
            content: "hi".to_owned(),
            client_message_id: Some(client),
            created_at: chrono::Utc::now(),
            hidden: false,
        }
    }

    #[test]
    fn each_stage_runs_from_the_previous_instant_and_they_add_up() {
        let t = timeline(every_stage(3));
        let want: Vec<Duration> = (1..=7).map(|n| MS * n).collect();
        assert_eq!(t.durations().to_vec(), want);
        assert_eq!(t.total(), MS * 28);
        assert_eq!(t.durations().iter().sum::<Duration>(), t.total());
        assert_eq!(t.path(), "batch");
    }

    #[test]
    fn a_stage_the_store_did_not_see_gives_its_time_to_the_next() {
        let t = timeline(SendStages::default());
        let d = t.durations();
        assert_eq!(d[0], MS, "parse");
        assert_eq!(&d[1..5], &[Duration::ZERO; 4], "no store stage observed");
        assert_eq!(d[5], MS * 20, "wake takes the store's whole time");
        assert_eq!(d.iter().sum::<Duration>(), t.total());
        assert_eq!(t.path(), "alone");
        let split = timeline(SendStages { split: true, ..every_stage(4) });
        assert_eq!(split.path(), "batch_then_alone");
    }

    /// The fields of every `chat::slow_send` event, as text.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<HashMap<String, String>>>>);

    impl<S: Subscriber> Layer<S> for Captured {
        fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
            struct Fields(HashMap<String, String>);
            impl Visit for Fields {
                fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                    self.0.insert(field.name().to_owned(), format!("{value:?}"));
                }
            }
            if event.metadata().target() == "chat::slow_send" {
                let mut fields = Fields(HashMap::new());
                event.record(&mut fields);
                self.0.lock().expect("the capture").push(fields.0);
            }
        }
    }

    fn events_of(threshold: Duration, t: &SendTimeline, client: uuid::Uuid) -> Vec<HashMap<String, String>> {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::registry().with(captured.clone());
        tracing::subscriber::with_default(subscriber, || t.report(&message(client), threshold));
        captured.0.lock().expect("the capture").clone()
    }

    #[test]
    fn a_send_at_the_threshold_is_logged_with_every_stage() {
        let client = uuid::Uuid::new_v4();
        let events = events_of(Duration::ZERO, &timeline(every_stage(3)), client);
        assert_eq!(events.len(), 1, "{events:?}");
        let event = &events[0];
        assert_eq!(event["client_message_id"], client.to_string());
        assert_eq!(event["conversation"], "42");
        assert_eq!(event["message_id"], "7");
        assert_eq!(event["path"], "\"batch\"");
        assert_eq!(event["batch"], "3");
        assert_eq!(event["total_ms"], "28.0");
        for (n, stage) in STAGES.iter().enumerate() {
            assert_eq!(event[&format!("{stage}_ms")], format!("{}.0", n + 1), "{stage}");
        }
    }

    #[test]
    fn a_faster_send_is_not_logged() {
        let t = timeline(every_stage(1));
        assert!(events_of(MS * 29, &t, uuid::Uuid::new_v4()).is_empty());
        assert_eq!(events_of(MS * 28, &t, uuid::Uuid::new_v4()).len(), 1, "the threshold itself is slow");
    }
}
