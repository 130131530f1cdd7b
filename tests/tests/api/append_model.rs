//! The rules a send applies in SQL equal the domain's model.
//!
//! `ConversationRepository::append` applies a message's effect on its conversation row
//! in one statement (`crates/postgres/src/conversations.rs`); the domain states the same
//! effect as `ConversationState::apply_message`. For a user's own DM send
//! (`AppendTarget::DmOf`) the statement also decides what the use case no longer reads
//! first: whether the sender is one of the DM's users (else the DM is missing, as for an
//! outsider), their side, and whether a block stands between the users. This property
//! test runs both on the same random sequences of sends (user and staff in a support
//! conversation, either user and an outsider in a DM, with idempotency keys drawn from
//! a small pool so that retries, reused keys and keys taken by the other side happen),
//! blocks and unblocks either way, resolves and archives, and after every step compares
//! the row PostgreSQL holds with the model's, field by field, and the outcome of each
//! send with the one the model predicts.

use std::collections::HashMap;

use chat_domain::access::Author;
use chat_domain::access::Participants;
use chat_domain::conversations::{
    Append, AppendError, AppendTarget, Appended, ConversationRepository, ConversationState, MessageBody, MessageKind,
    NewMessage, Sent, Side, append_message,
};
use chat_domain::direct_messages::{DirectMessageRepository, DmTarget};
use chat_domain::support::{SupportPatch, SupportRepository, SupportStatus, update_support};
use chat_domain::{ConversationId, Principal, UserId};
use chat_postgres::PgTx;
use chat_tests::TestDb;
use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use proptest::prelude::*;
use uuid::Uuid;

#[derive(Debug, Clone)]
enum Op {
    /// A message from `side` of the support conversation (`support`) or the DM, with
    /// the key `key` of a pool of four (or none) and one of two contents.
    Send { support: bool, side: Side, key: Option<usize>, content: usize },
    /// An admin resolves the support conversation.
    Resolve,
    /// One side archives the DM.
    Archive(Side),
    /// The DM's user on this side blocks (`true`) or unblocks the other.
    Block(Side, bool),
    /// A user who is not in the DM sends to it by its id (key, content).
    Outsider(Option<usize>, usize),
    /// A message to each conversation in one statement, as group commit appends the
    /// sends of a batch: (side, key, content) for the support conversation, then the DM.
    Together([(Side, Option<usize>, usize); 2]),
}

fn op() -> impl Strategy<Value = Op> {
    let side = prop_oneof![Just(Side::One), Just(Side::Two)];
    prop_oneof![
        8 => (any::<bool>(), side.clone(), proptest::option::weighted(0.7, 0..4usize), 0..2usize)
            .prop_map(|(support, side, key, content)| Op::Send { support, side, key, content }),
        1 => Just(Op::Resolve),
        1 => side.clone().prop_map(Op::Archive),
        1 => (side.clone(), proptest::bool::weighted(0.6)).prop_map(|(side, on)| Op::Block(side, on)),
        1 => (proptest::option::weighted(0.7, 0..4usize), 0..2usize).prop_map(|(key, content)| Op::Outsider(key, content)),
        3 => [
            (side.clone(), proptest::option::weighted(0.7, 0..4usize), 0..2usize),
            (side, proptest::option::weighted(0.7, 0..4usize), 0..2usize),
        ]
        .prop_map(Op::Together),
    ]
}

/// What the model predicts for a send.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Created,
    Retry,
    KeyReused,
    ClientIdReused,
    Blocked,
    Missing,
}

struct World {
    conn: PgConnection,
    admin: Principal,
    support: ConversationState,
    dm: ConversationState,
    /// A user in neither conversation.
    outsider: UserId,
    /// Whether the DM's user on side one blocks the other, and side two's.
    blocks: [bool; 2],
    keys: [Uuid; 4],
    /// Per conversation and key: who used it and for which content.
    used: HashMap<(ConversationId, usize), (Author, usize)>,
}

const CONTENTS: [&str; 2] = ["hello", "something else"];

impl World {
    fn new(db: &TestDb) -> Self {
        let tag = Uuid::new_v4().simple().to_string();
        let user = UserId(db.insert_user(&format!("u{tag}")));
        let other = UserId(db.insert_user(&format!("o{tag}")));
        let admin = Principal::admin(UserId(db.insert_user(&format!("a{tag}"))));
        let outsider = UserId(db.insert_user(&format!("x{tag}")));
        let mut conn = db.conn();
        let (support, dm) = conn
            .transaction::<_, diesel::result::Error, _>(|conn| {
                let mut tx = PgTx::new(conn);
                let (support, _) = tx.create_support(user, None).unwrap();
                let (dm, _) = tx.create_dm(user, DmTarget::User(other)).unwrap();
                let support = tx.conversation_state(support).unwrap().unwrap();
                let dm = tx.conversation_state(dm).unwrap().unwrap();
                Ok((support, dm))
            })
            .unwrap();
        let keys = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
        Self { conn, admin, support, dm, outsider, blocks: [false; 2], keys, used: HashMap::new() }
    }

    fn author(&self, support: bool, side: Side) -> Author {
        let state = if support { &self.support } else { &self.dm };
        match (support, side, state.participants) {
            (_, Side::One, _) => Author::User(state.user_one()),
            (true, Side::Two, _) => Author::Team { admin: self.admin.user_id },
            (false, Side::Two, Participants::UserDm { b, .. }) => Author::User(b),
            (false, Side::Two, other) => panic!("not a user DM: {other:?}"),
        }
    }

    /// Runs `op` on PostgreSQL (through the domain's use cases and the adapter) and on
    /// the model, and checks that both agree.
    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Send { support, side, key, content } => self.send(support, side, key, content),
            Op::Together(sends) => self.send_together(sends),
            Op::Resolve => {
                let (id, admin, now) = (self.support.id, self.admin, now());
                self.in_tx(|tx| {
                    let patch = SupportPatch { status: Some(SupportStatus::Resolved), assignee: None };
                    update_support(tx, &admin, id, patch, now).map(drop).map_err(|e| e.to_string())
                })?;
                self.support.support.get_or_insert_default().set_status(SupportStatus::Resolved, now);
                self.compare(true)
            }
            Op::Block(side, on) => {
                let Participants::UserDm { a, b } = self.dm.participants else { unreachable!("a user DM") };
                let (blocker, blocked) = if side == Side::One { (a, b) } else { (b, a) };
                self.in_tx(|tx| {
                    if on { tx.block(blocker, blocked) } else { tx.unblock(blocker, blocked) }
                        .map(drop)
                        .map_err(|e| e.to_string())
                })?;
                self.blocks[usize::from(side == Side::Two)] = on;
                self.compare(false)
            }
            Op::Outsider(key, content) => {
                let (_, new, _) = self.plan(false, Side::One, key, content);
                let (id, outsider) = (self.dm.id, self.outsider);
                let result =
                    self.in_tx(|tx| Ok(append_message(tx, AppendTarget::DmOf(id), Author::User(outsider), &new)))?;
                prop_assert!(matches!(result, Ok(None)), "an outsider's send finds no DM: {result:?}");
                self.compare(false)
            }
            Op::Archive(side) => {
                let (id, now) = (self.dm.id, now());
                self.in_tx(|tx| {
                    let mut state = tx.lock_conversation(id).unwrap().unwrap();
                    state.set_archived(side, Some(now));
                    tx.save_conversation(&state).map_err(|e| e.to_string())
                })?;
                self.dm.set_archived(side, Some(now));
                self.compare(false)
            }
        }
    }

    /// What the model predicts for a send, and the append the use case asks for.
    fn plan(&self, support: bool, side: Side, key: Option<usize>, content: usize) -> (Outcome, NewMessage, Append) {
        let author = self.author(support, side);
        let id = if support { self.support.id } else { self.dm.id };
        let expected = match key.and_then(|k| self.used.get(&(id, k))) {
            // A block is checked before the key: a blocked retry is blocked.
            _ if !support && self.blocks.contains(&true) => Outcome::Blocked,
            None => Outcome::Created,
            Some((by, _)) if *by != author => Outcome::ClientIdReused,
            Some((_, c)) if *c != content => Outcome::KeyReused,
            Some(_) => Outcome::Retry,
        };
        let new = NewMessage {
            body: MessageBody::parse(MessageKind::Text, CONTENTS[content]).unwrap(),
            client_message_id: key.map(|k| self.keys[k]),
        };
        // The support user's own sends find their row by owner, and a DM's users send as
        // themselves, as the user routes do; the team answers by id.
        let target = match (support, side) {
            (true, Side::One) => AppendTarget::SupportOf(self.support.user_one()),
            (true, Side::Two) => AppendTarget::Conversation(id, Side::Two),
            (false, _) => AppendTarget::DmOf(id),
        };
        let append = Append { target, author, body: new.body.clone(), client_id: new.client_message_id };
        (expected, new, append)
    }

    /// Applies a stored send to the model, checking its position and effect.
    fn stored(
        &mut self,
        support: bool,
        side: Side,
        sent: &Sent,
        key: Option<usize>,
        content: usize,
    ) -> Result<(), TestCaseError> {
        let author = sent.message.author;
        let state = if support { &mut self.support } else { &mut self.dm };
        prop_assert_eq!(sent.message.seq, state.next_seq(), "the next position");
        let changed = state.apply_message(sent.message.id, sent.message.created_at, side);
        prop_assert_eq!(sent.status_changed, changed);
        if let Some(k) = key {
            self.used.insert((state.id, k), (author, content));
        }
        Ok(())
    }

    fn send(&mut self, support: bool, side: Side, key: Option<usize>, content: usize) -> Result<(), TestCaseError> {
        let (expected, new, append) = self.plan(support, side, key, content);
        let result = self.in_tx(|tx| Ok(append_message(tx, append.target, append.author, &new)))?;
        let actual = match result {
            Ok(Some(sent)) if sent.created => {
                self.stored(support, side, &sent, key, content)?;
                Outcome::Created
            }
            Ok(Some(_)) => Outcome::Retry,
            Ok(None) => Outcome::Missing,
            Err(AppendError::KeyReused) => Outcome::KeyReused,
            Err(AppendError::ClientIdReused) => Outcome::ClientIdReused,
            Err(AppendError::Blocked) => Outcome::Blocked,
            Err(AppendError::Repo(e)) => return Err(TestCaseError::fail(format!("storage failed: {e:?}"))),
        };
        prop_assert_eq!(actual, expected);
        self.compare(support)
    }

    /// A send to each conversation in one statement: each answered as if alone, with
    /// its row as it was before (a retry or a reused key stores nothing; telling them
    /// apart is the use case's, after the statement).
    fn send_together(&mut self, sends: [(Side, Option<usize>, usize); 2]) -> Result<(), TestCaseError> {
        let plans = [true, false].map(|support| {
            let (side, key, content) = sends[usize::from(!support)];
            self.plan(support, side, key, content)
        });
        let appends = [plans[0].2.clone(), plans[1].2.clone()];
        let answers = self.in_tx(|tx| tx.append_together(&appends).map_err(|e| e.to_string()))?;
        for (support, ((expected, _, _), answer)) in [true, false].into_iter().zip(plans.into_iter().zip(answers)) {
            let (side, key, content) = sends[usize::from(!support)];
            let model = if support { self.support.clone() } else { self.dm.clone() };
            match answer {
                Appended::Stored { before, message } => {
                    prop_assert_eq!(expected, Outcome::Created);
                    prop_assert_eq!(&before, &model, "the row before the send");
                    let mut after = before;
                    let status_changed = after.apply_message(message.id, message.created_at, side);
                    let sent = Sent { message, participants: model.participants, created: true, status_changed };
                    self.stored(support, side, &sent, key, content)?;
                }
                Appended::Duplicate { conversation } => {
                    prop_assert!(matches!(expected, Outcome::Retry | Outcome::KeyReused | Outcome::ClientIdReused));
                    prop_assert_eq!(conversation.id, model.id);
                }
                Appended::Blocked => prop_assert_eq!(expected, Outcome::Blocked),
                Appended::Missing => return Err(TestCaseError::fail("the conversation exists")),
            }
        }
        self.compare(true)?;
        self.compare(false)
    }

    /// The row PostgreSQL holds equals the model's, and its positions have no gap.
    fn compare(&mut self, support: bool) -> Result<(), TestCaseError> {
        let model = if support { self.support.clone() } else { self.dm.clone() };
        let stored = self.in_tx(|tx| Ok(tx.conversation_state(model.id).unwrap().unwrap()))?;
        prop_assert_eq!(&stored, &model);
        #[derive(QueryableByName)]
        struct Seqs {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            top: i64,
        }
        let seqs = diesel::sql_query(
            "SELECT count(*) AS n, COALESCE(max(seq), 0) AS top FROM dm_messages WHERE conversation_id = $1",
        )
        .bind::<diesel::sql_types::BigInt, _>(model.id.get())
        .get_result::<Seqs>(&mut self.conn)
        .unwrap();
        prop_assert_eq!((seqs.n, seqs.top), (model.last_seq, model.last_seq), "positions 1..=last_seq, no gap");
        Ok(())
    }

    fn in_tx<T>(&mut self, f: impl FnOnce(&mut PgTx<'_>) -> Result<T, String>) -> Result<T, TestCaseError> {
        self.conn
            .transaction::<_, diesel::result::Error, _>(|conn| Ok(f(&mut PgTx::new(conn))))
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .map_err(TestCaseError::fail)
    }
}

#[test]
fn the_sql_of_a_send_and_the_domains_model_agree_on_every_sequence() {
    let db = TestDb::migrated();
    let config = ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(ops in proptest::collection::vec(op(), 1..40))| {
        let mut world = World::new(&db);
        for op in &ops {
            world.step(op)?;
        }
    });
}

/// Now, at PostgreSQL's precision (microseconds).
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[test]
fn the_send_statement_is_prepared_once_per_connection() {
    let db = TestDb::migrated();
    let mut world = World::new(&db);
    for content in [0, 1, 0] {
        world.send(false, Side::One, None, content).unwrap();
        world.send(true, Side::One, None, content).unwrap();
    }
    let prepared = db_count(
        &mut world.conn,
        "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE 'WITH i AS (%INSERT INTO dm_messages%'",
    );
    assert_eq!(prepared, 1, "one for every target (by id, by support owner), reused by every send on the connection");
}

fn db_count(conn: &mut PgConnection, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql).get_result::<N>(conn).unwrap().n
}
