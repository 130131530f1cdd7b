//! The API's Prometheus metrics: one named function per measurement, so instrumented
//! code is a one-line call and every name and label lives here.
//!
//! Recording goes through the `metrics` facade: without an installed recorder (tests,
//! `chat-server openapi`) every call is a no-op. The composition root installs the
//! Prometheus exporter and serves it on `CHAT_METRICS_BIND` (docs/operations.md lists
//! every metric with its meaning and example alerts).
//!
//! Labels are bounded by construction: route *templates* (`/api/user/chat/direct-messages/{id}`),
//! never raw paths; methods and status codes; close codes; static kinds. No label ever
//! holds an id or a user-supplied string.

use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

/// HTTP requests answered, by `method`, `route` (template) and `status`.
pub const HTTP_REQUESTS: &str = "chat_http_requests_total";
/// HTTP request latency, by `method` and `route`.
pub const HTTP_DURATION: &str = "chat_http_request_duration_seconds";
/// WebSocket sessions open now.
pub const WS_CONNECTIONS: &str = "chat_ws_connections";
/// Events queued for delivery to a socket.
pub const WS_EVENTS_SENT: &str = "chat_ws_events_sent_total";
/// Ephemeral events (typing, presence) dropped for a socket whose queue was half full.
pub const WS_EVENTS_DROPPED: &str = "chat_ws_events_dropped_total";
/// Deliveries refused by the hub's recipient check (must stay 0).
pub const WS_EVENTS_REFUSED: &str = "chat_ws_events_refused_total";
/// Sockets the server closed, by close `code` (4008: slow consumer).
pub const WS_SERVER_CLOSES: &str = "chat_ws_server_closes_total";
/// Redis fan-out publishes that failed (the event reached only this instance).
pub const FANOUT_PUBLISH_FAILURES: &str = "chat_fanout_publish_failures_total";
/// Redis fan-out (re)connections after a failure, by `side` (`publish`, `subscribe`).
pub const FANOUT_RECONNECTS: &str = "chat_fanout_reconnects_total";
/// Requests refused with 429, by `budget`.
pub const RATE_LIMITED: &str = "chat_rate_limited_total";
/// Support conversations with status `open`.
pub const SUPPORT_OPEN: &str = "chat_support_open_conversations";
/// Open support conversations whose user waits for an answer.
pub const SUPPORT_WAITING: &str = "chat_support_waiting_conversations";
/// How long the longest-waiting user has waited for an answer (0 when nobody waits).
pub const SUPPORT_OLDEST_WAITING: &str = "chat_support_oldest_waiting_seconds";
/// Time a committed send spent in each stage, by `stage` (`crate::send_trace::STAGES`).
pub const SEND_STAGE: &str = "chat_send_stage_seconds";

/// Registers the descriptions (the `# HELP` lines) of the API's metrics.
pub fn describe() {
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by method, route template and status.");
    describe_histogram!(HTTP_DURATION, Unit::Seconds, "HTTP request latency, by method and route template.");
    describe_gauge!(WS_CONNECTIONS, "WebSocket sessions open now.");
    describe_counter!(WS_EVENTS_SENT, "Events queued for delivery to a WebSocket.");
    describe_counter!(WS_EVENTS_DROPPED, "Typing/presence events dropped for a socket whose queue was half full.");
    describe_counter!(WS_EVENTS_REFUSED, "Deliveries refused by the recipient check (isolation; must stay 0).");
    describe_counter!(WS_SERVER_CLOSES, "WebSockets closed by the server, by close code (4008: slow consumer).");
    describe_counter!(FANOUT_PUBLISH_FAILURES, "Redis fan-out publishes that failed.");
    describe_counter!(FANOUT_RECONNECTS, "Redis fan-out reconnections after a failure, by side.");
    describe_counter!(RATE_LIMITED, "Requests refused with 429 rate_limited, by budget.");
    describe_gauge!(SUPPORT_OPEN, "Support conversations with status open.");
    describe_gauge!(SUPPORT_WAITING, "Open support conversations whose user waits for an answer.");
    describe_gauge!(SUPPORT_OLDEST_WAITING, Unit::Seconds, "Age of the oldest unanswered support message.");
    describe_histogram!(
        SEND_STAGE,
        Unit::Seconds,
        "Time a committed send spent in each stage (parse, handoff, queue, statement, commit, wake, announce)."
    );
}

/// One HTTP request ended. `route` is the matched template (`"unmatched"` for none).
pub fn http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let (method, route) = (method.to_owned(), route.to_owned());
    counter!(HTTP_REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    histogram!(HTTP_DURATION, "method" => method, "route" => route).record(elapsed.as_secs_f64());
}

/// A committed send's stages, each with its duration.
pub fn send_stages(stages: impl IntoIterator<Item = (&'static str, Duration)>) {
    for (stage, took) in stages {
        histogram!(SEND_STAGE, "stage" => stage).record(took.as_secs_f64());
    }
}

/// A WebSocket session started.
pub fn ws_opened() {
    gauge!(WS_CONNECTIONS).increment(1.0);
}

/// A WebSocket session ended (every exit path).
pub fn ws_closed() {
    gauge!(WS_CONNECTIONS).decrement(1.0);
}

/// An event was queued for one socket.
pub fn ws_event_sent() {
    counter!(WS_EVENTS_SENT).increment(1);
}

/// A delivery was refused by the recipient check.
pub fn ws_event_refused() {
    counter!(WS_EVENTS_REFUSED).increment(1);
}

/// What kind of ephemeral event was dropped.
#[derive(Debug, Clone, Copy)]
pub enum Dropped {
    /// A typing indicator.
    Typing,
    /// A support presence change.
    Presence,
}

/// An ephemeral event was dropped for a socket under pressure.
pub fn ws_event_dropped(kind: Dropped) {
    let kind = match kind {
        Dropped::Typing => "typing",
        Dropped::Presence => "presence",
    };
    counter!(WS_EVENTS_DROPPED, "kind" => kind).increment(1);
}

/// The server closed a socket with `code`.
pub fn ws_server_close(code: u16) {
    counter!(WS_SERVER_CLOSES, "code" => code.to_string()).increment(1);
}

/// A Redis publish failed.
pub fn fanout_publish_failed() {
    counter!(FANOUT_PUBLISH_FAILURES).increment(1);
}

/// Which Redis connection was re-established.
#[derive(Debug, Clone, Copy)]
pub enum FanoutSide {
    /// The publishing connection.
    Publish,
    /// The subscription.
    Subscribe,
}

/// A Redis connection was re-established after a failure.
pub fn fanout_reconnected(side: FanoutSide) {
    let side = match side {
        FanoutSide::Publish => "publish",
        FanoutSide::Subscribe => "subscribe",
    };
    counter!(FANOUT_RECONNECTS, "side" => side).increment(1);
}

/// A request was refused with 429.
pub fn rate_limited(budget: &'static str) {
    counter!(RATE_LIMITED, "budget" => budget).increment(1);
}

/// The support queue's state, as read from the database.
pub fn support_gauges(open: i64, waiting: i64, oldest_waiting: Duration) {
    // Counts of rows fit an f64 exactly far beyond any real queue.
    #[expect(clippy::cast_precision_loss, reason = "row counts are far below 2^52")]
    let (open, waiting) = (open as f64, waiting as f64);
    gauge!(SUPPORT_OPEN).set(open);
    gauge!(SUPPORT_WAITING).set(waiting);
    gauge!(SUPPORT_OLDEST_WAITING).set(oldest_waiting.as_secs_f64());
}
