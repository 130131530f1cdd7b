//! `chat-bench`: the benchmark harness of the chat service (see `docs/performance.md`).
//!
//! * an **open-loop** load generator: every request has an intended send time fixed by
//!   the schedule before the run, and its latency is measured from that time, so a
//!   stalled server shows up as latency instead of hiding behind a slowed-down client
//!   (coordinated omission);
//! * clients for our REST + WebSocket protocol, for a bare relay, and for Socket.IO 4
//!   (the peer), so one tool drives every contender the same way;
//! * the bare tokio-tungstenite relay itself: the WebSocket limit;
//! * every loop bounded in count and time; sockets spread over `127.0.x.y` sources.

pub mod client;
pub mod gate;
pub mod load;
pub mod net;
pub mod relay;
pub mod report;
pub mod scenarios;
pub mod seed;
pub mod sio;
pub mod stats;
pub mod token;
pub mod ws;
