//! The move on an old database shaped the way the plan writes SQL (the `--old-app`
//! fixture: `TIMESTAMP` without time zone in Europe/Berlin, nullable columns, no CHECKs,
//! a reactions table cascading from messages, notices the old app sent): one test per
//! defect of issue 13, and the whole runbook with checksums computed by the test itself.

use std::collections::BTreeMap;

use chat_postgres::legacy::{self, CleanupOutcome, ExecuteOptions, ExecuteOutcome, LegacyError};
use chat_postgres::{MigrateOptions, OldNotices};
use chat_tests::TestDb;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Int4, Text};

use crate::legacy_support::checksum;

/// The old app's database, not migrated yet.
fn old_app() -> TestDb {
    let db = TestDb::empty();
    legacy::old_app_fixture(&db.url).unwrap();
    db
}

/// The old app's database after `chat-server migrate --old-notices keep`.
fn migrated_old_app() -> TestDb {
    let db = old_app();
    chat_postgres::run_migrations_with(&db.url, &MigrateOptions { old_notices: OldNotices::Keep }).unwrap();
    db
}

fn execute(db: &TestDb) -> Result<ExecuteOutcome, LegacyError> {
    legacy::execute(&db.url, &ExecuteOptions::default(), &mut |_| {})
}

fn finished(db: &TestDb) -> legacy::BatchSummary {
    match execute(db).unwrap() {
        ExecuteOutcome::Finished { batch, .. } => batch,
        other => panic!("expected a finished batch, got {other:?}"),
    }
}

fn text(db: &TestDb, sql: &str) -> String {
    #[derive(QueryableByName)]
    struct T {
        #[diesel(sql_type = Text)]
        t: String,
    }
    diesel::sql_query(sql).get_result::<T>(&mut db.conn()).unwrap().t
}

/// Defect 1: old notices stop `migrate` with their ids and a remedy, not a CHECK violation.
#[test]
fn migrate_names_the_old_notices_instead_of_failing_on_a_check() {
    let db = old_app();
    let err = chat_postgres::run_migrations(&db.url).unwrap_err().to_string();
    assert!(err.contains("1007, 2001, 2002, 2003, 2004, 2005"), "the rows are named: {err}");
    assert!(err.contains("--old-notices keep"), "a remedy is given: {err}");
    assert!(!err.contains("violated"), "no bare CHECK violation: {err}");
    assert_eq!(db.count("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'dm_messages'"), 0);

    // With the policy the old notices stay as they are.
    let before = checksum(&db, "SELECT id, is_notification, notification_style FROM chat_messages");
    chat_postgres::run_migrations_with(&db.url, &MigrateOptions { old_notices: OldNotices::Keep }).unwrap();
    assert_eq!(checksum(&db, "SELECT id, is_notification, notification_style FROM chat_messages"), before);
}

/// Defect 2: "dry run clean" implies "execute succeeds": system senders and NULLs are
/// either moved under a documented policy or counted as unmovable by both.
#[test]
fn the_dry_run_counts_as_unmovable_exactly_what_execute_refuses() {
    let db = migrated_old_app();
    let report = legacy::report(&db.url).unwrap();
    let unmovable: Vec<(i32, &str)> = report.unmovable.iter().map(|u| (u.id, u.reason.as_str())).collect();
    assert!(unmovable.contains(&(1003, "no_content")), "{unmovable:?}");
    assert!(unmovable.contains(&(1004, "no_time")), "{unmovable:?}");
    let batch = finished(&db);
    assert_eq!(batch.messages_migrated, report.messages_to_move());
    assert_eq!(batch.messages_migrated + report.unmovable.len() as i64, report.in_scope);
    let moved = |id: i32| db.count(&format!("SELECT count(*) AS n FROM dm_messages WHERE legacy_message_id = {id}"));
    assert_eq!((moved(1002), moved(1005), moved(1006)), (1, 1, 1), "system, NULL is_active, NULL type move");
    assert_eq!(moved(1003) + moved(1004), 0);
    assert_eq!(
        db.count("SELECT count(*) AS n FROM dm_messages WHERE legacy_message_id = 1005 AND hidden_at IS NULL"),
        1
    );
    assert_eq!(
        db.count("SELECT count(*) AS n FROM dm_messages WHERE legacy_message_id = 1006 AND message_type = 'text'"),
        1
    );
}

/// Defect 3: a row committed after a later id was verified is not lost by the cleanup.
#[test]
fn the_cleanup_refuses_after_a_late_commit_of_an_earlier_id() {
    let db = migrated_old_app();
    let mut early = db.conn();
    early.batch_execute("BEGIN").unwrap();
    let insert = "INSERT INTO chat_messages (group_id, sender_id, sender_type, content, support_conversation_user_id,
                  created_at) VALUES (2, 2, 'real_user', 'late', 2, localtimestamp) RETURNING id";
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = Int4)]
        id: i32,
    }
    let first = diesel::sql_query(insert).get_result::<Id>(&mut early).unwrap().id;
    let second = diesel::sql_query(insert).get_result::<Id>(&mut db.conn()).unwrap().id;
    assert!(first < second, "ids {first} and {second}: the later id commits first");
    finished(&db);
    assert!(legacy::verify(&db.url).unwrap().passed());
    early.batch_execute("COMMIT").unwrap();

    match legacy::cleanup(&db.url) {
        Err(LegacyError::Refused(why)) => assert!(why.contains(&first.to_string()), "the row is named: {why}"),
        other => panic!("the cleanup must refuse, got {other:?}"),
    }
    assert_eq!(db.count(&format!("SELECT count(*) AS n FROM chat_messages WHERE id = {first}")), 1);
}

/// Defect 4: rows of other tables pointing at what the cleanup removes come back with
/// `--revert` (the old app's reactions and the service's own group read marks).
#[test]
fn the_cleanup_keeps_rows_of_other_tables_that_point_at_removed_rows() {
    let db = migrated_old_app();
    db.conn()
        .batch_execute(
            "INSERT INTO chat_group_reads (group_id, user_id, last_read_message_id) VALUES (2, 2, 25), (1, 2, 3001)",
        )
        .unwrap();
    let reactions = checksum(&db, "SELECT * FROM chat_message_reactions");
    let reads = checksum(&db, "SELECT * FROM chat_group_reads");
    finished(&db);
    assert!(legacy::verify(&db.url).unwrap().passed());
    assert_eq!(legacy::cleanup(&db.url).unwrap(), CleanupOutcome::Done);
    assert_eq!(db.count("SELECT count(*) AS n FROM chat_message_reactions WHERE message_id = 3001"), 1);
    assert_eq!(legacy::revert_cleanup(&db.url).unwrap(), CleanupOutcome::Done);
    assert_eq!(checksum(&db, "SELECT * FROM chat_message_reactions"), reactions, "every reaction is back");
    assert_eq!(checksum(&db, "SELECT * FROM chat_group_reads"), reads, "every read mark is back");
}

/// Defect 5: `TIMESTAMP` without time zone is local time of the database's zone.
#[test]
fn local_times_move_as_the_instants_they_were() {
    let db = migrated_old_app();
    finished(&db);
    let moved = text(
        &db,
        "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') AS t FROM dm_messages WHERE legacy_message_id = 1001",
    );
    assert_eq!(moved, "2024-03-01 09:00", "10:00 in Berlin is 09:00 UTC");
    assert!(legacy::verify(&db.url).unwrap().passed());
    // A time moved an hour off is a difference verify finds.
    db.conn()
        .batch_execute(
            "UPDATE dm_messages SET created_at = created_at + interval '1 hour' WHERE legacy_message_id = 1001",
        )
        .unwrap();
    assert!(!legacy::verify(&db.url).unwrap().passed());
}

/// Defect 6: an old notice in a support thread stays a notice.
#[test]
fn an_old_notice_in_a_support_thread_moves_as_a_notice() {
    let db = migrated_old_app();
    finished(&db);
    assert_eq!(
        db.count(
            "SELECT count(*) AS n FROM dm_messages WHERE legacy_message_id = 1007
             AND is_notification AND message_type = 'notification' AND content = 'Wartungsarbeiten heute Nacht'"
        ),
        1
    );
}

/// Defect 7: the old app deletes users as before (their memberships cascade).
#[test]
fn a_user_with_moved_support_history_can_still_be_deleted() {
    let db = migrated_old_app();
    finished(&db);
    // User 6 owns no personal group (the old app's own foreign key would stop that).
    assert!(db.count("SELECT count(*) AS n FROM direct_messages WHERE user1_id = 6") > 0);
    db.conn().batch_execute("DELETE FROM users WHERE id = 6").unwrap();
    assert_eq!(db.count("SELECT count(*) AS n FROM direct_messages WHERE user1_id = 6"), 0);
    // An admin who answered in the old support can be deleted too.
    db.conn().batch_execute("DELETE FROM users WHERE id = 41").unwrap();
}

/// Defect 8: old threads do not flood the queue; recent waiting users are at its head.
#[test]
fn old_threads_arrive_resolved_and_recent_waiting_users_open() {
    let db = migrated_old_app();
    finished(&db);
    let open: Vec<i32> = {
        #[derive(QueryableByName)]
        struct U {
            #[diesel(sql_type = Int4)]
            user1_id: i32,
        }
        diesel::sql_query(
            "SELECT user1_id FROM direct_messages WHERE support_status = 'open' ORDER BY waiting_since, id",
        )
        .load::<U>(&mut db.conn())
        .unwrap()
        .into_iter()
        .map(|u| u.user1_id)
        .collect()
    };
    assert_eq!(open, [31, 32, 33, 34], "only the users who wrote in the last days wait");
}

/// Per user: the count and an md5 over (sender type, sender id, instant, content) in
/// time order, of the rows the test itself expects to move, computed from the old table
/// with its own SQL (local times read in Europe/Berlin).
fn expected_per_user(db: &TestDb) -> BTreeMap<i32, (i64, String)> {
    per_user(
        db,
        "SELECT cm.support_conversation_user_id AS user_id, count(*) AS n,
                md5(string_agg(CASE cm.sender_type WHEN 'system' THEN 'admin' ELSE cm.sender_type END || ':'
                    || cm.sender_id || ':' || extract(epoch FROM timezone('Europe/Berlin', cm.created_at))::bigint
                    || ':' || cm.content, '|' ORDER BY cm.created_at, cm.id)) AS sum
         FROM chat_messages cm
         WHERE cm.support_conversation_user_id IS NOT NULL AND cm.content IS NOT NULL AND cm.created_at IS NOT NULL
         GROUP BY 1",
    )
}

fn moved_per_user(db: &TestDb) -> BTreeMap<i32, (i64, String)> {
    per_user(
        db,
        "SELECT d.user1_id AS user_id, count(*) AS n,
                md5(string_agg(m.sender_type || ':' || m.sender_id || ':' || extract(epoch FROM m.created_at)::bigint
                    || ':' || m.content, '|' ORDER BY m.seq)) AS sum
         FROM dm_messages m JOIN direct_messages d ON d.id = m.conversation_id
         WHERE m.legacy_message_id IS NOT NULL GROUP BY 1",
    )
}

fn per_user(db: &TestDb, sql: &str) -> BTreeMap<i32, (i64, String)> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Int4)]
        user_id: i32,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
        #[diesel(sql_type = Text)]
        sum: String,
    }
    diesel::sql_query(sql).load::<Row>(&mut db.conn()).unwrap().into_iter().map(|r| (r.user_id, (r.n, r.sum))).collect()
}

/// The whole runbook on the old app's database.
#[test]
fn the_runbook_passes_on_an_old_apps_database() {
    let db = old_app();
    chat_postgres::run_migrations_with(&db.url, &MigrateOptions { old_notices: OldNotices::Keep }).unwrap();
    let old_tables = ["chat_messages", "chat_groups", "chat_group_members", "chat_message_reactions"]
        .map(|t| checksum(&db, &format!("SELECT * FROM {t}")));

    let preflight = legacy::preflight(&db.url, &legacy::Policies::default()).unwrap();
    assert!(preflight.blocking().is_empty(), "{preflight:?}");
    assert_eq!(preflight.time_zone.zone, "Europe/Berlin");
    assert!(preflight.time_zone.local_columns.iter().any(|c| c == "chat_messages.created_at"));

    let report = legacy::report(&db.url).unwrap();
    let batch = finished(&db);
    assert_eq!(batch.messages_migrated, report.messages_to_move());
    let expected = expected_per_user(&db);
    assert_eq!(moved_per_user(&db), expected, "per-user counts and checksums, computed by the test");
    assert!(legacy::verify(&db.url).unwrap().passed());

    assert_eq!(legacy::cleanup(&db.url).unwrap(), CleanupOutcome::Done);
    assert_eq!(db.count("SELECT count(*) AS n FROM chat_groups WHERE kind = 'support'"), 0);
    assert_eq!(legacy::revert_cleanup(&db.url).unwrap(), CleanupOutcome::Done);
    let after = ["chat_messages", "chat_groups", "chat_group_members", "chat_message_reactions"]
        .map(|t| checksum(&db, &format!("SELECT * FROM {t}")));
    // The groups were deactivated by the move; everything else is as it was.
    assert_eq!(after[0], old_tables[0]);
    assert_eq!(after[2..], old_tables[2..]);

    legacy::rollback(&db.url, batch.id).unwrap();
    assert_eq!(db.count("SELECT count(*) AS n FROM dm_messages"), 0);
    let back = ["chat_messages", "chat_groups", "chat_group_members", "chat_message_reactions"]
        .map(|t| checksum(&db, &format!("SELECT * FROM {t}")));
    assert_eq!(back, old_tables, "after revert and rollback the old tables are as they were");
}

fn kinds(preflight: &legacy::Preflight) -> BTreeMap<String, (bool, Vec<String>)> {
    preflight.findings.iter().map(|f| (f.kind.clone(), (f.blocking, f.ids.clone()))).collect()
}

/// Preflight reads the old database as it is, before `migrate`, and names every row.
#[test]
fn preflight_names_every_problem_row_with_its_kind() {
    let db = old_app();
    let before = legacy::preflight(&db.url, &legacy::Policies::default()).unwrap();
    let found = kinds(&before);
    let ids = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(found["old_notice"], (true, ids(&["1007", "2001", "2002", "2003", "2004", "2005"])), "{before}");
    assert_eq!(before.time_zone.zone, "Europe/Berlin");
    assert!(before.to_string().contains("--old-notices keep"), "a remedy per kind: {before}");

    chat_postgres::run_migrations_with(&db.url, &MigrateOptions { old_notices: OldNotices::Keep }).unwrap();
    let after = legacy::preflight(&db.url, &legacy::Policies::default()).unwrap();
    let found = kinds(&after);
    assert!(after.blocking().is_empty(), "{after}");
    for (kind, id) in [
        ("system_message", "1002"),
        ("no_content", "1003"),
        ("no_time", "1004"),
        ("null_is_active", "1005"),
        ("null_message_type", "1006"),
        ("support_notice", "1007"),
    ] {
        assert_eq!(found[kind].1, [id], "{kind}: {after}");
    }
    // Reactions on support messages (and nothing else) point at what the cleanup removes.
    let keys: Vec<&legacy::Finding> = after.findings.iter().filter(|f| f.kind == "foreign_key").collect();
    assert_eq!(keys.len(), 1, "{after}");
    assert_eq!(keys[0].ids, ["chat_message_reactions.message_id -> chat_messages"]);
    assert_eq!(keys[0].count, 37, "one per thread's second message and one on 1001");
}

/// A key the cleanup could not restore blocks every command, named.
#[test]
fn every_command_runs_preflight_first() {
    let db = migrated_old_app();
    db.conn()
        .batch_execute(
            "CREATE TABLE chat_reaction_votes (id SERIAL PRIMARY KEY,
                 reaction_id INTEGER REFERENCES chat_message_reactions(id) ON DELETE CASCADE);
             INSERT INTO chat_reaction_votes (reaction_id) SELECT min(id) FROM chat_message_reactions",
        )
        .unwrap();
    let found = legacy::preflight(&db.url, &legacy::Policies::default()).unwrap();
    assert_eq!(found.blocking().len(), 1, "{found}");
    for result in [execute(&db).map(drop), legacy::report(&db.url).map(drop), legacy::verify(&db.url).map(drop)] {
        match result {
            Err(LegacyError::Refused(why)) => assert!(why.contains("chat_message_reactions"), "{why}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(db.count("SELECT count(*) AS n FROM dm_messages"), 0);
}

/// The policies decide, the dry run agrees with execute, and a batch keeps its choices.
#[test]
fn policies_decide_and_the_dry_run_agrees() {
    let db = migrated_old_app();
    let policies = legacy::Policies {
        system_messages: legacy::RowPolicy::Skip,
        support_notices: legacy::RowPolicy::Hidden,
        time_zone: Some("UTC".to_owned()),
        ..legacy::Policies::default()
    };
    let report = legacy::report_with(&db.url, &policies, &legacy::Cohort::All).unwrap();
    assert!(report.unmovable.iter().any(|u| u.id == 1002 && u.reason == "system_message"));
    let options = ExecuteOptions { policies: policies.clone(), ..ExecuteOptions::default() };
    let ExecuteOutcome::Finished { batch, .. } = legacy::execute(&db.url, &options, &mut |_| {}).unwrap() else {
        panic!("finished");
    };
    assert_eq!(batch.messages_migrated, report.messages_to_move());
    assert_eq!(
        db.count("SELECT count(*) AS n FROM dm_messages WHERE legacy_message_id = 1007 AND hidden_at IS NOT NULL"),
        1
    );
    let at = text(
        &db,
        "SELECT to_char(created_at AT TIME ZONE 'UTC', 'HH24:MI') AS t FROM dm_messages WHERE legacy_message_id = 1001",
    );
    assert_eq!(at, "10:00", "an explicit zone is used as given");
    assert!(legacy::verify(&db.url).unwrap().passed(), "verify uses the batch's choices");
    db.conn().batch_execute("UPDATE chat_messages SET content = 'fixed' WHERE id = 1003").unwrap();
    let mixed = execute(&db);
    assert!(matches!(mixed, Err(LegacyError::Refused(ref why)) if why.contains("other choices")), "{mixed:?}");
}

/// Gradual rollout: a tenth of the users, then the rest; the first cohort is cleaned
/// up alone (and reverted), rolls back alone; the final cleanup waits for everyone.
#[test]
fn a_cohort_moves_first_and_rolls_back_alone() {
    use crate::legacy_support::{SMALL, fixture_db};
    let db = fixture_db(SMALL);
    let cohort = |share| ExecuteOptions { cohort: legacy::Cohort::Percent(share), ..ExecuteOptions::default() };
    let run = |share| match legacy::execute(&db.url, &cohort(share), &mut |_| {}).unwrap() {
        ExecuteOutcome::Finished { batch, .. } => batch,
        other => panic!("{other:?}"),
    };
    let on_new = "SELECT count(*) AS n FROM chat_support_users";
    let moved_outside = |filter: &str| {
        db.count(&format!(
            "SELECT count(*) AS n FROM dm_messages m JOIN direct_messages d ON d.id = m.conversation_id
             WHERE m.legacy_message_id IS NOT NULL AND {filter}"
        ))
    };
    let first = run(10);
    assert_eq!(db.count(on_new), db.count("SELECT count(*) AS n FROM users WHERE id % 100 < 10"));
    assert_eq!(moved_outside("d.user1_id % 100 >= 10"), 0, "only the cohort moved");
    assert!(moved_outside("d.user1_id % 100 < 10") > 0);
    assert!(first.deactivated_group_ids.is_empty(), "the others still use the old support groups");
    let verified = legacy::verify(&db.url).unwrap();
    assert!(verified.passed() && verified.users_pending > 100, "{verified:?}");
    assert!(matches!(legacy::cleanup(&db.url), Err(LegacyError::Refused(_))), "not before everyone moved");

    // The cohort's old rows can go before the others': archived, and put back by --revert.
    let old_rows = checksum(&db, "SELECT * FROM chat_messages");
    let cleaned = legacy::cleanup_cohort(&db.url).unwrap();
    assert!(cleaned.messages > 0);
    let cohort_rows = "SELECT count(*) AS n FROM chat_messages cm JOIN chat_groups g ON g.id = cm.group_id
                       WHERE g.kind = 'support' AND cm.support_conversation_user_id IN (SELECT user_id FROM chat_support_users)";
    assert_eq!(db.count(cohort_rows), 0);
    assert!(db.count("SELECT count(*) AS n FROM chat_messages WHERE support_conversation_user_id % 100 >= 10") > 0);
    assert!(legacy::verify(&db.url).unwrap().passed(), "verify reads the archived rows");
    assert!(matches!(legacy::rollback(&db.url, first.id), Err(LegacyError::Refused(_))), "revert first");
    assert_eq!(legacy::revert_cleanup(&db.url).unwrap(), CleanupOutcome::Done);
    assert_eq!(checksum(&db, "SELECT * FROM chat_messages"), old_rows, "every old row is back");

    let rest = run(100);
    assert!(!rest.deactivated_group_ids.is_empty());
    assert_eq!(db.count(on_new), db.count("SELECT count(*) AS n FROM users"));
    assert!(legacy::verify(&db.url).unwrap().passed());
    let rest_state = checksum(
        &db,
        "SELECT m.* FROM dm_messages m JOIN direct_messages d ON d.id = m.conversation_id WHERE d.user1_id % 100 >= 10",
    );

    legacy::rollback(&db.url, first.id).unwrap();
    assert_eq!(moved_outside("d.user1_id % 100 < 10"), 0, "the first cohort is back on the old support");
    assert_eq!(db.count("SELECT count(*) AS n FROM chat_support_users WHERE user_id % 100 < 10"), 0);
    assert_eq!(
        checksum(
            &db,
            "SELECT m.* FROM dm_messages m JOIN direct_messages d ON d.id = m.conversation_id WHERE d.user1_id % 100 >= 10"
        ),
        rest_state,
        "the second cohort is untouched"
    );
    assert_eq!(db.count("SELECT count(*) AS n FROM chat_groups WHERE kind = 'support' AND NOT is_active"), 0);
    let verified = legacy::verify(&db.url).unwrap();
    assert!(verified.passed() && verified.users_pending > 0, "{verified:?}");

    run(10);
    assert!(legacy::verify(&db.url).unwrap().passed());
    legacy::cleanup_cohort(&db.url).unwrap();
    assert_eq!(legacy::cleanup(&db.url).unwrap(), CleanupOutcome::Done);
    assert_eq!(legacy::revert_cleanup(&db.url).unwrap(), CleanupOutcome::Done);
    assert_eq!(checksum(&db, "SELECT * FROM chat_messages"), old_rows, "both archives restored");
}
