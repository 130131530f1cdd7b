//! The hub: the connection registry and the rooms, behind one mutex. A publisher
//! delivers on its own thread (the request's actix worker, the group-commit announcer,
//! the Redis subscriber): it takes the lock, hands the event to each recipient's queue and
//! lets go, with no hop through a hub task in between. The lock is held only for that
//! bookkeeping, which never blocks (`try_send`), and never across an await.
//!
//! Delivery never waits on a client: each connection has a bounded queue, and the hub
//! only `try_send`s into it. A client whose queue is full is cut off (it will resume from
//! PostgreSQL when it reconnects); typing and presence events are dropped first, when a
//! queue is half full. Every delivery is checked against the event's audience and the connection's
//! principal, and each connection gets the frame rendered for its role. Signals (a change
//! of blocks) go into the same queues, in order with the frames, to the connections of
//! the users they name; they are never dropped (a full queue cuts the socket off).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytestring::ByteString;
use chat_domain::{ConversationId, Principal, UserId};
use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc, watch};

use super::deliveries::{NoticeDeliveries, Tracker};
use super::protocol::PresenceEvent;
use super::render::{Envelope, Priority};
use super::signal::Signal;
use crate::metrics::{self, Dropped};

/// Capacity of a user connection's outbound queue.
pub const QUEUE_CAPACITY: usize = 256;
/// Capacity of an admin connection's outbound queue: watching the support queue is a
/// feed of every support and persona-DM message, so staff sockets get more room before
/// they count as slow (there are few of them; frames are shared, not copied).
pub const STAFF_QUEUE_CAPACITY: usize = 1024;

/// The outbound queue capacity of a connection of `principal`.
pub fn queue_capacity(principal: &Principal) -> usize {
    if principal.is_admin() { STAFF_QUEUE_CAPACITY } else { QUEUE_CAPACITY }
}

/// Whether a connection's queue is at least half full (ephemeral events are dropped).
fn half_full(queue: &mpsc::Sender<Queued>) -> bool {
    queue.capacity() < queue.max_capacity() / 2
}

/// Identifies a connection within this process.
pub type ConnId = u64;

/// A frame on its way to one connection.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// The JSON frame.
    pub frame: ByteString,
    /// For message events: where it belongs (dedupe and gap repair by the connection).
    pub position: Option<(ConversationId, i64)>,
    /// For events carrying a DM's message content: the DM (admin deliveries are logged).
    pub dm_content: Option<ConversationId>,
    /// For a new notice: where its hand-over to the socket is counted.
    pub notice: Option<Arc<Tracker>>,
}

/// What a connection's queue carries, in the order the hub queued it.
#[derive(Debug, Clone)]
pub enum Queued {
    /// A frame for the client.
    Frame(Outbound),
    /// Something the session acts on, never shown to the client.
    Signal(Signal),
}

/// How a connection is reached and cut off.
#[derive(Debug)]
pub struct Registration {
    /// Who is connected.
    pub principal: Principal,
    /// Its outbound queue.
    pub queue: mpsc::Sender<Queued>,
    /// Notified when the hub cuts it off (slow consumer).
    pub kill: Arc<Notify>,
}

/// Counters, for tests and operations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubStats {
    /// Connections registered now.
    pub connections: usize,
    /// Session tasks running now (a cut-off connection is deregistered at once; its
    /// session task ends when it notices, within the send timeout).
    pub sessions: usize,
    /// The most events ever waiting in one connection's queue (never above
    /// [`QUEUE_CAPACITY`]).
    pub peak_queue_depth: usize,
    /// Connections cut off because their queue was full, since start.
    pub cut_off: u64,
    /// Ephemeral events dropped under pressure, since start.
    pub dropped_ephemeral: u64,
    /// Deliveries refused by the recipient check (`Registry::may_receive`), since
    /// start: a candidate connection that is not in the event's audience. Must stay 0
    /// (the admin stats report it as the isolation figure).
    pub refused: u64,
}

/// A handle to the hub (cheap to clone).
#[derive(Debug, Clone)]
pub struct Hub {
    registry: Arc<Mutex<Registry>>,
    /// How many admins watch the support queue here, for [`Hub::local_watchers`].
    watchers: Arc<watch::Sender<usize>>,
    next_id: Arc<AtomicU64>,
    sessions: Arc<AtomicUsize>,
    local_watchers: watch::Receiver<usize>,
    /// `true` once the server drains for shutdown: every session closes with 1001.
    shutdown: Arc<watch::Sender<bool>>,
    /// When this hub started (and its counters with it).
    started_at: DateTime<Utc>,
    /// Live deliveries of notices, until the housekeeping loop takes them.
    deliveries: NoticeDeliveries,
}

impl Hub {
    /// An empty hub.
    pub fn start() -> Self {
        let (watchers, local_watchers) = watch::channel(0);
        let deliveries = NoticeDeliveries::default();
        let registry = Registry { deliveries: deliveries.clone(), ..Registry::default() };
        Self {
            registry: Arc::new(Mutex::new(registry)),
            watchers: Arc::new(watchers),
            next_id: Arc::new(AtomicU64::new(1)),
            sessions: Arc::new(AtomicUsize::new(0)),
            local_watchers,
            shutdown: Arc::new(watch::channel(false).0),
            started_at: Utc::now(),
            deliveries,
        }
    }

    /// The live deliveries of notices on this instance (taken by the housekeeping loop).
    pub fn notice_deliveries(&self) -> &NoticeDeliveries {
        &self.deliveries
    }

    /// When this hub started counting ([`HubStats`] are since then).
    pub const fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// Starts draining for shutdown: every open socket closes with 1001 (going away),
    /// and a socket opened from now on closes at once. Idempotent.
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    /// Whether the server is draining for shutdown.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Resolves when the server starts draining (at once if it already has).
    pub fn shutting_down(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut draining = self.shutdown.subscribe();
        async move {
            // An error means the hub is gone, which is a shutdown too.
            let _ = draining.wait_for(|draining| *draining).await;
        }
    }

    /// How many admins watch the support queue on this instance (for other instances).
    pub fn local_watchers(&self) -> watch::Receiver<usize> {
        self.local_watchers.clone()
    }

    /// The registry, locked (a panic while it was held left nothing half-done that
    /// matters more than delivering on: each call's changes are independent).
    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `change` to the registry; then, when support went on- or offline, tells
    /// every user connection, and publishes how many admins watch the queue here.
    fn update<R>(&self, change: impl FnOnce(&mut Registry) -> R) -> R {
        let mut registry = self.registry();
        let was_online = registry.online();
        let result = change(&mut registry);
        if registry.online() != was_online {
            registry.broadcast_presence();
        }
        let watching = registry.queue_watchers.len();
        self.watchers.send_if_modified(|n| std::mem::replace(n, watching) != watching);
        result
    }

    /// Registers a connection; events flow to its queue from now on.
    pub fn register(&self, registration: Registration) -> ConnId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.update(|registry| registry.register(id, registration));
        id
    }

    /// A session task started (counted for [`HubStats::sessions`]).
    pub fn session_started(&self) {
        self.sessions.fetch_add(1, Ordering::Relaxed);
        metrics::ws_opened();
    }

    /// A session task ended.
    pub fn session_ended(&self) {
        self.sessions.fetch_sub(1, Ordering::Relaxed);
        metrics::ws_closed();
    }

    /// Removes a connection (idempotent).
    pub fn unregister(&self, id: ConnId) {
        self.update(|registry| registry.remove(id));
    }

    /// An admin connection watches the support queue (and persona DMs).
    pub fn join_queue(&self, id: ConnId) {
        self.update(|registry| registry.join_queue(id));
    }

    /// An admin connection watches one conversation.
    pub fn join_conversation(&self, id: ConnId, conversation: ConversationId) {
        self.update(|registry| registry.join_conversation(id, conversation));
    }

    /// Delivers an envelope to the connections of this process that may see it, now,
    /// on the caller's thread: when this returns, it is in every recipient's queue.
    pub fn publish(&self, envelope: Arc<Envelope>) {
        self.update(|registry| registry.deliver(&envelope));
    }

    /// Queues a signal for every connection of this process of the users it names.
    pub fn signal(&self, signal: Signal) {
        self.update(|registry| registry.signal(signal));
    }

    /// Another instance reports how many admins watch the queue there.
    pub fn remote_presence(&self, instance: String, watchers: usize) {
        self.update(|registry| registry.remote_watchers.insert(instance, watchers));
    }

    /// Whether at least one admin watches the support queue (on any known instance).
    pub fn support_online(&self) -> bool {
        self.registry().online()
    }

    /// Current counters.
    pub fn stats(&self) -> HubStats {
        let registry = self.registry();
        HubStats {
            connections: registry.conns.len(),
            sessions: self.sessions.load(Ordering::Relaxed),
            ..registry.stats
        }
    }
}

#[derive(Debug)]
struct Conn {
    principal: Principal,
    queue: mpsc::Sender<Queued>,
    kill: Arc<Notify>,
    joined: HashSet<ConversationId>,
}

#[derive(Debug, Default)]
struct Registry {
    conns: HashMap<ConnId, Conn>,
    by_user: HashMap<UserId, Vec<ConnId>>,
    queue_watchers: HashSet<ConnId>,
    by_conversation: HashMap<ConversationId, HashSet<ConnId>>,
    remote_watchers: HashMap<String, usize>,
    stats: HubStats,
    deliveries: NoticeDeliveries,
}

impl Registry {
    fn online(&self) -> bool {
        !self.queue_watchers.is_empty() || self.remote_watchers.values().any(|n| *n > 0)
    }

    fn register(&mut self, id: ConnId, registration: Registration) {
        let Registration { principal, queue, kill } = registration;
        self.by_user.entry(principal.user_id).or_default().push(id);
        self.conns.insert(id, Conn { principal, queue, kill, joined: HashSet::new() });
    }

    fn join_queue(&mut self, id: ConnId) {
        if self.conns.get(&id).is_some_and(|c| c.principal.is_admin()) {
            self.queue_watchers.insert(id);
        }
    }

    fn join_conversation(&mut self, id: ConnId, conversation: ConversationId) {
        if let Some(conn) = self.conns.get_mut(&id).filter(|c| c.principal.is_admin()) {
            conn.joined.insert(conversation);
            self.by_conversation.entry(conversation).or_default().insert(id);
        }
    }

    fn remove(&mut self, id: ConnId) -> Option<Conn> {
        let conn = self.conns.remove(&id)?;
        if let Some(ids) = self.by_user.get_mut(&conn.principal.user_id) {
            ids.retain(|c| *c != id);
            if ids.is_empty() {
                self.by_user.remove(&conn.principal.user_id);
            }
        }
        self.queue_watchers.remove(&id);
        for conversation in &conn.joined {
            if let Some(set) = self.by_conversation.get_mut(conversation) {
                set.remove(&id);
                if set.is_empty() {
                    self.by_conversation.remove(conversation);
                }
            }
        }
        Some(conn)
    }

    /// Whether `conn` may receive an event for `envelope`'s audience.
    fn may_receive(&self, id: ConnId, conn: &Conn, envelope: &Envelope) -> bool {
        let audience = &envelope.audience;
        audience.users.contains(&conn.principal.user_id)
            // Every user, admins included: an all-users notice lands in every personal group.
            || audience.everyone
            || (conn.principal.is_admin()
                && ((audience.staff_feed && self.queue_watchers.contains(&id))
                    || audience.conversation.is_some_and(|c| conn.joined.contains(&c))))
    }

    fn deliver(&mut self, envelope: &Envelope) {
        let mut candidates: Vec<ConnId> = Vec::new();
        for user in &envelope.audience.users {
            candidates.extend(self.by_user.get(user).into_iter().flatten());
        }
        if envelope.audience.staff_feed {
            candidates.extend(self.queue_watchers.iter());
        }
        if let Some(conversation) = envelope.audience.conversation {
            candidates.extend(self.by_conversation.get(&conversation).into_iter().flatten());
        }
        if envelope.audience.everyone {
            candidates.extend(self.conns.keys().copied());
        }
        candidates.sort_unstable();
        candidates.dedup();

        // One lookup per notice, not per recipient; the sessions count the hand-overs.
        let tracker = envelope
            .notice
            .filter(|_| !candidates.is_empty())
            .and_then(|id| self.deliveries.tracker(chat_domain::notifications::NotificationId(id)));
        let mut cut = Vec::new();
        for id in candidates {
            let Some(conn) = self.conns.get(&id) else { continue };
            if !self.may_receive(id, conn, envelope) {
                self.stats.refused += 1;
                metrics::ws_event_refused();
                continue;
            }
            // A staff-only event (an internal note) has no user frame: users get nothing.
            let frame = if conn.principal.is_admin() {
                &envelope.admin_frame
            } else {
                let Some(frame) = &envelope.user_frame else { continue };
                frame
            };
            if envelope.priority == Priority::Ephemeral && half_full(&conn.queue) {
                self.stats.dropped_ephemeral += 1;
                metrics::ws_event_dropped(Dropped::Typing);
                continue;
            }
            let outbound = Outbound {
                frame: frame.clone(),
                position: envelope.audience.conversation.zip(envelope.seq),
                dm_content: envelope.audience.conversation.filter(|_| envelope.dm_content),
                notice: tracker.clone(),
            };
            if conn.queue.try_send(Queued::Frame(outbound)).is_err() {
                cut.push(id);
            } else {
                metrics::ws_event_sent();
                let depth = conn.queue.max_capacity() - conn.queue.capacity();
                self.stats.peak_queue_depth = self.stats.peak_queue_depth.max(depth);
            }
        }
        self.cut_off(cut);
    }

    /// Queues `signal` for every connection of the users it names. It is not a frame
    /// (no audience check picks a rendering, nothing reaches the client) and is never
    /// dropped: a connection whose queue is full is cut off, as for a message.
    fn signal(&mut self, signal: Signal) {
        let mut cut = Vec::new();
        for user in signal.users() {
            for &id in self.by_user.get(&user).into_iter().flatten() {
                let Some(conn) = self.conns.get(&id) else { continue };
                if conn.queue.try_send(Queued::Signal(signal)).is_err() {
                    cut.push(id);
                }
            }
        }
        self.cut_off(cut);
    }

    /// Cuts off connections whose queue was full.
    fn cut_off(&mut self, cut: Vec<ConnId>) {
        for id in cut {
            if let Some(conn) = self.remove(id) {
                self.stats.cut_off += 1;
                tracing::info!(
                    user = conn.principal.user_id.get(),
                    admin = conn.principal.is_admin(),
                    "socket cut off as a slow consumer (4008): its queue is full"
                );
                conn.kill.notify_one();
            }
        }
    }

    /// Tells every user connection whether support is online. Presence is ephemeral like
    /// typing: dropped first for a connection whose queue is half full.
    fn broadcast_presence(&mut self) {
        let frame = presence_frame(self.online());
        for conn in self.conns.values().filter(|c| !c.principal.is_admin()) {
            if half_full(&conn.queue) {
                self.stats.dropped_ephemeral += 1;
                metrics::ws_event_dropped(Dropped::Presence);
                continue;
            }
            if conn
                .queue
                .try_send(Queued::Frame(Outbound {
                    frame: frame.clone(),
                    position: None,
                    dm_content: None,
                    notice: None,
                }))
                .is_ok()
            {
                metrics::ws_event_sent();
            }
        }
    }
}

/// The `presence` frame.
pub fn presence_frame(support_online: bool) -> ByteString {
    serde_json::to_string(&PresenceEvent { event_type: "presence", support_online }).unwrap_or_default().into()
}

#[cfg(test)]
mod tests {
    use chat_domain::access::Participants;

    use super::*;
    use crate::realtime::render::Audience;

    fn connect(hub: &Hub, principal: Principal) -> (ConnId, mpsc::Receiver<Queued>) {
        let (queue, rx) = mpsc::channel(queue_capacity(&principal));
        (hub.register(Registration { principal, queue, kill: Arc::new(Notify::new()) }), rx)
    }

    /// Everything queued for a connection so far.
    fn queued(rx: &mut mpsc::Receiver<Queued>) -> Vec<Queued> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    /// The frames queued for a connection that contain `needle`.
    fn frames_with(rx: &mut mpsc::Receiver<Queued>, needle: &str) -> usize {
        queued(rx).iter().filter(|q| matches!(q, Queued::Frame(out) if out.frame.contains(needle))).count()
    }

    fn presence_frames(rx: &mut mpsc::Receiver<Queued>) -> usize {
        frames_with(rx, "\"presence\"")
    }

    #[test]
    fn a_staff_only_event_reaches_no_user_connection_even_one_it_names() {
        let hub = Hub::start();
        let alice = UserId(1);
        let (_, mut alice_rx) = connect(&hub, Principal::user(alice));
        let (admin, mut admin_rx) = connect(&hub, Principal::admin(UserId(9)));
        hub.join_queue(admin);
        let mut audience = Audience::of(&Participants::Support { user: alice }, ConversationId(1));
        // Even an audience naming the user (a bug elsewhere) cannot give them a frame
        // that does not exist.
        audience.users.push(alice);
        hub.publish(Arc::new(Envelope {
            audience,
            priority: Priority::Normal,
            seq: None,
            dm_content: false,
            user_frame: None,
            admin_frame: "{\"type\":\"note\"}".into(),
            notice: None,
        }));
        hub.stats();
        assert_eq!(frames_with(&mut admin_rx, "\"note\""), 1);
        assert_eq!(frames_with(&mut alice_rx, "\"note\""), 0);
    }

    #[test]
    fn a_signal_reaches_every_connection_of_its_two_users_and_nobody_else() {
        let hub = Hub::start();
        let (alice, bob, carol) = (UserId(1), UserId(2), UserId(3));
        let (_, mut alice_phone) = connect(&hub, Principal::user(alice));
        let (_, mut alice_laptop) = connect(&hub, Principal::user(alice));
        let (_, mut bob_rx) = connect(&hub, Principal::user(bob));
        let (_, mut carol_rx) = connect(&hub, Principal::user(carol));
        let (admin, mut admin_rx) = connect(&hub, Principal::admin(UserId(9)));
        hub.join_queue(admin);
        let signal = Signal::BlocksChanged { blocker: bob, blocked: alice };
        hub.signal(signal);
        let stats = hub.stats();
        let signals = |rx: &mut mpsc::Receiver<Queued>| {
            let got = queued(rx);
            got.into_iter().filter_map(|q| if let Queued::Signal(s) = q { Some(s) } else { None }).collect::<Vec<_>>()
        };
        for rx in [&mut alice_phone, &mut alice_laptop, &mut bob_rx] {
            assert_eq!(signals(rx), [signal]);
        }
        for rx in [&mut carol_rx, &mut admin_rx] {
            assert_eq!(signals(rx), []);
        }
        assert_eq!((stats.cut_off, stats.refused), (0, 0), "{stats:?}");
    }

    #[test]
    fn presence_is_dropped_first_when_a_queue_is_half_full() {
        let hub = Hub::start();
        let (busy, idle) = (UserId(1), UserId(2));
        let (_, mut busy_rx) = connect(&hub, Principal::user(busy));
        let (_, mut idle_rx) = connect(&hub, Principal::user(idle));
        for _ in 0..=QUEUE_CAPACITY / 2 {
            hub.publish(Arc::new(Envelope {
                audience: Audience::of(&Participants::Support { user: busy }, ConversationId(1)),
                priority: Priority::Normal,
                seq: None,
                dm_content: false,
                user_frame: Some("{\"type\":\"conversation-updated\"}".into()),
                admin_frame: "{\"type\":\"conversation-updated\"}".into(),
                notice: None,
            }));
        }
        // An admin opens the queue: support goes online, and every user is told, except
        // the one whose queue is more than half full.
        let (admin, _admin_rx) = connect(&hub, Principal::admin(UserId(9)));
        hub.join_queue(admin);
        let stats = hub.stats();
        assert_eq!(presence_frames(&mut idle_rx), 1);
        assert_eq!(presence_frames(&mut busy_rx), 0);
        assert_eq!((stats.dropped_ephemeral, stats.cut_off), (1, 0), "{stats:?}");
    }

    /// The isolation figure of the admin stats: a candidate that fails the recipient
    /// check is refused and counted, and gets nothing. The hub's own indexes never
    /// produce one (only admins enter a conversation's room), so the test plants a user's
    /// connection in a room directly, as a routing bug would.
    #[test]
    fn a_refused_delivery_is_counted_and_nothing_is_sent() {
        let (owner, stranger) = (UserId(1), UserId(2));
        let mut registry = Registry::default();
        let mut queues = Vec::new();
        for (id, user) in [(1, owner), (2, stranger)] {
            let (queue, rx) = mpsc::channel(QUEUE_CAPACITY);
            let conn =
                Conn { principal: Principal::user(user), queue, kill: Arc::new(Notify::new()), joined: HashSet::new() };
            registry.conns.insert(id, conn);
            registry.by_user.entry(user).or_default().push(id);
            queues.push(rx);
        }
        registry.by_conversation.entry(ConversationId(7)).or_default().insert(2);
        registry.deliver(&Envelope {
            audience: Audience::of(&Participants::Support { user: owner }, ConversationId(7)),
            priority: Priority::Normal,
            seq: None,
            dm_content: false,
            user_frame: Some("{\"type\":\"conversation-updated\"}".into()),
            admin_frame: "{\"type\":\"conversation-updated\"}".into(),
            notice: None,
        });
        assert_eq!(registry.stats.refused, 1, "{:?}", registry.stats);
        assert!(queues[0].try_recv().is_ok(), "the owner got the event");
        assert!(queues[1].try_recv().is_err(), "the stranger got nothing");
    }

    #[test]
    fn the_hub_counts_from_its_start() {
        let before = Utc::now();
        let hub = Hub::start();
        assert!(before <= hub.started_at() && hub.started_at() <= Utc::now());
        assert_eq!(hub.stats().refused, 0);
    }
}
