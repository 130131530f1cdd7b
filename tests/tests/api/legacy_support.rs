//! Moving the group-based support history (docs/migration.md) on the fixture: the
//! move verifies, isolates and reports; a second run changes nothing; an interrupted
//! run finishes like an uninterrupted one; a rollback restores the state exactly.

use std::collections::BTreeMap;

use chat_postgres::legacy::{self, ExecuteOptions, ExecuteOutcome, FixtureSpec, LegacyError};
use chat_tests::TestDb;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

/// The fixture: 100,000 messages over 1,000 users.
pub(crate) const FULL: FixtureSpec = FixtureSpec { users: 1000, messages: 100_000 };
/// Enough of every case for the scenario tests.
pub(crate) const SMALL: FixtureSpec = FixtureSpec { users: 200, messages: 12_000 };

/// Every table the move may touch, old and new (bookkeeping tables excluded).
pub(crate) const TABLES: [&str; 7] = [
    "users",
    "chat_fake_users",
    "chat_groups",
    "chat_group_members",
    "chat_messages",
    "direct_messages",
    "dm_messages",
];

pub(crate) fn fixture_db(spec: FixtureSpec) -> TestDb {
    let db = TestDb::migrated();
    legacy::fixture(&db.url, spec).unwrap();
    db
}

/// A copy of `db` (which must have no open connection).
fn clone_db(db: &TestDb) -> TestDb {
    db.copy()
}

#[derive(QueryableByName)]
struct Sum {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Text)]
    sum: String,
}

/// Row count and an md5 over every row (as JSON, so column order does not matter).
pub(crate) fn checksum(db: &TestDb, sql: &str) -> (i64, String) {
    let s = diesel::sql_query(format!(
        "SELECT count(*) AS n, COALESCE(md5(string_agg(r::text, E'\\n' ORDER BY r::text)), '') AS sum
         FROM (SELECT to_jsonb(t) AS r FROM ({sql}) t) x"
    ))
    .get_result::<Sum>(&mut db.conn())
    .unwrap();
    (s.n, s.sum)
}

pub(crate) fn table_checksums(db: &TestDb) -> BTreeMap<&'static str, (i64, String)> {
    TABLES.iter().map(|t| (*t, checksum(db, &format!("SELECT * FROM {t}")))).collect()
}

/// The state with surrogate ids of new rows replaced by natural keys (owner, position),
/// so two runs that consumed different ids compare equal when they did the same thing.
fn canonical_state(db: &TestDb) -> BTreeMap<&'static str, (i64, String)> {
    let pos = |col: &str| format!("(SELECT seq FROM dm_messages x WHERE x.id = d.{col})");
    let queries = [
        ("chat_groups", "SELECT * FROM chat_groups".to_owned()),
        ("chat_messages", "SELECT * FROM chat_messages".to_owned()),
        (
            "direct_messages",
            format!(
                "SELECT user1_id, fake_user_id, support_status, waiting_since, user1_unread, user2_unread, last_seq,
                        last_message_at, created_at, {}, {}, {} FROM direct_messages d",
                pos("user1_last_read_id"),
                pos("user2_last_read_id"),
                pos("last_message_id")
            ),
        ),
        (
            "dm_messages",
            "SELECT d.user1_id, m.seq, m.sender_type, m.sender_id, m.acting_admin_id, m.content, m.message_type,
                    m.created_at, m.hidden_at, m.legacy_message_id, m.legacy_batch_id
             FROM dm_messages m JOIN direct_messages d ON d.id = m.conversation_id"
                .to_owned(),
        ),
        (
            "batches",
            "SELECT id, users_migrated, messages_migrated, conversations_created, messages_unmovable, checksum,
                    deactivated_group_ids, finished_at IS NOT NULL AS finished FROM chat_support_migration_batches"
                .to_owned(),
        ),
        (
            "batch_conversations",
            "SELECT batch_id, user_id, created, previous FROM chat_support_migration_conversations".to_owned(),
        ),
    ];
    queries.into_iter().map(|(name, sql)| (name, checksum(db, &sql))).collect()
}

fn run(db: &TestDb, options: ExecuteOptions) -> Result<ExecuteOutcome, LegacyError> {
    legacy::execute(&db.url, &options, &mut |_| {})
}

#[test]
fn the_fixture_moves_verifies_and_isolates() {
    let db = fixture_db(FULL);
    let old_rows = checksum(&db, "SELECT * FROM chat_messages");
    let report = legacy::report(&db.url).unwrap();
    assert_eq!(report.in_scope, 100_000);
    assert!(report.users.len() >= 900, "{}", report.users.len());
    let reasons: std::collections::BTreeSet<_> = report.unmovable.iter().map(|u| u.reason.as_str()).collect();
    for reason in ["no_owner", "unknown_owner", "no_sender", "sender_not_owner", "unknown_persona", "content_length"] {
        assert!(reasons.contains(reason), "{reason} missing from {reasons:?}");
    }
    let existing = report.users.iter().filter(|u| u.conversation_id.is_some()).count();
    assert!(existing > 0 && report.conversations_to_create() > 0);

    let ExecuteOutcome::Finished { batch, resumed: false } = run(&db, ExecuteOptions::default()).unwrap() else {
        panic!("the first run finishes a new batch");
    };
    assert_eq!(batch.messages_migrated, report.messages_to_move());
    assert_eq!(batch.messages_migrated + report.unmovable.len() as i64, report.in_scope);
    assert_eq!(batch.conversations_created as usize, report.conversations_to_create());
    assert_eq!(batch.deactivated_group_ids, report.active_support_groups);

    let verified = legacy::verify(&db.url).unwrap();
    assert!(verified.passed(), "{:?}", verified.differences);
    assert_eq!(verified.users_checked, report.users.len(), "per-user counts and checksums compared for all");
    assert_eq!(verified.verified_batches, [batch.id]);
    // Attributed rows of existing users that could not move are named per user.
    let mut expected_left: BTreeMap<i32, i64> = BTreeMap::new();
    for u in report.unmovable.iter().filter(|u| !matches!(u.reason.as_str(), "no_owner" | "unknown_owner")) {
        *expected_left.entry(u.owner.expect("attributed")).or_default() += 1;
    }
    let left: BTreeMap<i32, i64> = verified.left_in_place.iter().map(|u| (u.user_id, u.rows)).collect();
    assert!(!left.is_empty(), "the fixture has attributed rows that cannot move");
    assert_eq!(left, expected_left);

    // Independently of verify: nothing sits in another user's conversation, nothing
    // unmovable moved, the old rows are untouched, positions follow old time order.
    assert_eq!(
        db.count(
            "SELECT count(*) AS n FROM dm_messages m JOIN direct_messages d ON d.id = m.conversation_id
             JOIN chat_messages cm ON cm.id = m.legacy_message_id WHERE cm.support_conversation_user_id <> d.user1_id"
        ),
        0
    );
    let unmovable: Vec<String> = report.unmovable.iter().map(|u| u.id.to_string()).collect();
    let moved_unmovable =
        format!("SELECT count(*) AS n FROM dm_messages WHERE legacy_message_id IN ({})", unmovable.join(","));
    assert_eq!(db.count(&moved_unmovable), 0);
    assert_eq!(checksum(&db, "SELECT * FROM chat_messages"), old_rows, "old rows never change");
    assert_eq!(db.count("SELECT count(*) AS n FROM chat_groups WHERE kind = 'support' AND is_active"), 0);
    assert_eq!(
        db.count(
            "SELECT count(*) AS n FROM (SELECT m.seq, d.last_seq,
                 row_number() OVER (PARTITION BY m.conversation_id ORDER BY m.legacy_message_id IS NULL,
                     m.created_at, m.legacy_message_id, m.id) AS expected,
                 count(*) OVER (PARTITION BY m.conversation_id) AS total
             FROM dm_messages m JOIN direct_messages d ON d.id = m.conversation_id) s
             WHERE s.seq <> s.expected OR s.last_seq <> s.total"
        ),
        0,
        "positions are 1..n: moved history in old time order, then the conversation's own messages"
    );

    // A difference is found and named.
    db.conn()
        .batch_execute("UPDATE dm_messages SET content = content || '!' WHERE id = (SELECT max(id) FROM dm_messages)")
        .unwrap();
    let tampered = legacy::verify(&db.url).unwrap();
    assert!(!tampered.passed());
    assert_eq!(tampered.differences.len(), 1);
    assert_eq!(
        db.count("SELECT count(*) AS n FROM chat_support_migration_batches WHERE verified_at IS NOT NULL"),
        0,
        "a failed verification withdraws the earlier one"
    );
}

#[test]
fn a_second_execute_changes_no_row() {
    let db = fixture_db(SMALL);
    assert!(matches!(run(&db, ExecuteOptions::default()).unwrap(), ExecuteOutcome::Finished { .. }));
    let before = table_checksums(&db);
    let batches = checksum(&db, "SELECT * FROM chat_support_migration_batches");
    let xid = db.count("SELECT (pg_current_xact_id()::text::bigint % 4294967296) AS n");

    let again = run(&db, ExecuteOptions::default()).unwrap();
    assert!(matches!(again, ExecuteOutcome::NothingToDo { moved_before } if moved_before > 10_000), "{again:?}");
    assert_eq!(table_checksums(&db), before);
    assert_eq!(checksum(&db, "SELECT * FROM chat_support_migration_batches"), batches);
    for table in TABLES.iter().chain(&["chat_support_migration_batches", "chat_support_migration_conversations"]) {
        let written = db.count(&format!("SELECT count(*) AS n FROM {table} WHERE xmin::text::bigint > {xid}"));
        assert_eq!(written, 0, "{table}: no row version written by the second run");
    }
}

#[test]
fn an_interrupted_run_finishes_like_an_uninterrupted_one() {
    let interrupted = fixture_db(SMALL);
    let uninterrupted = clone_db(&interrupted);
    let small_batches = ExecuteOptions { batch_rows: 700, fail_after_chunks: Some(3), ..ExecuteOptions::default() };

    let crash = run(&interrupted, small_batches.clone()).unwrap_err();
    assert!(matches!(crash, LegacyError::Injected(3)), "{crash:?}");
    let partial = interrupted.count("SELECT count(*) AS n FROM dm_messages WHERE legacy_message_id IS NOT NULL");
    assert!(partial > 0 && partial < 3 * 1500, "three chunks committed, the fourth rolled back: {partial}");
    assert!(!legacy::verify(&interrupted.url).unwrap().passed(), "a partial move does not verify");

    let resumed = run(&interrupted, ExecuteOptions { fail_after_chunks: None, ..small_batches.clone() }).unwrap();
    assert!(matches!(resumed, ExecuteOutcome::Finished { resumed: true, .. }), "{resumed:?}");
    run(&uninterrupted, ExecuteOptions { fail_after_chunks: None, ..small_batches }).unwrap();

    assert_eq!(canonical_state(&interrupted), canonical_state(&uninterrupted));
    assert!(legacy::verify(&interrupted.url).unwrap().passed());
}

#[test]
fn a_rollback_restores_the_state_before_the_move_exactly() {
    let db = fixture_db(SMALL);
    let before = table_checksums(&db);
    let ExecuteOutcome::Finished { batch, .. } = run(&db, ExecuteOptions::default()).unwrap() else {
        panic!("the run finishes");
    };
    assert_ne!(table_checksums(&db), before);

    let undone = legacy::rollback(&db.url, batch.id).unwrap();
    assert_eq!(undone.messages_removed as i64, batch.messages_migrated);
    assert_eq!(undone.conversations_removed as i32, batch.conversations_created);
    assert_eq!(undone.conversations_kept, 0);
    assert_eq!(table_checksums(&db), before, "every table as it was, byte for byte");

    assert!(matches!(legacy::rollback(&db.url, batch.id), Err(LegacyError::Refused(_))), "only once");
    assert!(matches!(legacy::rollback(&db.url, 999), Err(LegacyError::Refused(_))), "unknown batch");
    // The move can be done again after a rollback.
    assert!(matches!(run(&db, ExecuteOptions::default()).unwrap(), ExecuteOutcome::Finished { .. }));
    assert!(legacy::verify(&db.url).unwrap().passed());
}
