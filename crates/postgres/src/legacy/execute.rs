//! `migrate-support --execute`: moves the history in chunks of users, one transaction
//! per chunk, under a batch that an interrupted run resumes.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int4, Nullable, Text, Timestamptz};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use super::chunk::{PENDING, move_chunk, stage_sql};
use super::cohort::Cohort;
use super::preflight::require_clean;
use super::scope::{Policies, Scope, row_hash};
use super::{LegacyError, connect, exclusively, require_legacy_column};

/// How `execute` runs.
#[derive(Debug, Clone, Default)]
pub struct ExecuteOptions {
    /// How rows without an exact place in the new schema move, and the time zone.
    pub policies: Policies,
    /// Whose support moves in this run (the rest stays on the old support groups).
    pub cohort: Cohort,
    /// Rows per transaction, roughly: users are added to a chunk until it holds this
    /// many rows (a user is never split, so one large thread makes a larger chunk);
    /// 0: [`ExecuteOptions::BATCH_ROWS`].
    pub batch_rows: i64,
    /// Chunks moved at once, each by a worker on its own connection; 0:
    /// [`ExecuteOptions::WORKERS`].
    pub workers: usize,
    /// Tests only: after this many committed chunks, the next chunk does its work and
    /// then fails before committing, like a crash mid-run.
    pub fail_after_chunks: Option<usize>,
}

impl ExecuteOptions {
    /// The default chunk size.
    pub const BATCH_ROWS: i64 = 5000;

    /// The default number of parallel workers (the machine this was measured on has 2
    /// cores; the database does the work).
    pub const WORKERS: usize = 2;

    fn batch_rows(&self) -> i64 {
        if self.batch_rows == 0 { Self::BATCH_ROWS } else { self.batch_rows }
    }

    fn workers(&self) -> usize {
        if self.workers == 0 { Self::WORKERS } else { self.workers }
    }
}

/// Reported after each committed chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecuteProgress {
    /// The batch.
    pub batch: i64,
    /// Chunks committed so far in this run.
    pub chunks: usize,
    /// Users done so far in this run, of `users_total`.
    pub users: usize,
    /// Users this run had to move.
    pub users_total: usize,
    /// Rows moved so far in this run.
    pub moved: u64,
}

/// A migration batch as recorded.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct BatchSummary {
    /// Its id (for `rollback-support --batch`).
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// Users whose threads it moved.
    #[diesel(sql_type = Int4)]
    pub users_migrated: i32,
    /// Rows it moved.
    #[diesel(sql_type = BigInt)]
    pub messages_migrated: i64,
    /// Support conversations it created (the others existed and were reused).
    #[diesel(sql_type = Int4)]
    pub conversations_created: i32,
    /// Rows in scope left where they are.
    #[diesel(sql_type = BigInt)]
    pub messages_unmovable: i64,
    /// md5 over the moved rows (sender, time, content) in old id order.
    #[diesel(sql_type = Nullable<Text>)]
    pub checksum: Option<String>,
    /// The old support groups it deactivated.
    #[diesel(sql_type = Array<Int4>)]
    pub deactivated_group_ids: Vec<i32>,
    /// When it finished.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What `execute` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecuteOutcome {
    /// Nothing was left to move and no batch was unfinished: no row was changed.
    NothingToDo {
        /// Rows moved by earlier batches.
        moved_before: i64,
    },
    /// A batch finished (`resumed`: it had been started by an interrupted run).
    Finished {
        /// The batch as recorded.
        batch: BatchSummary,
        /// Whether an interrupted batch was resumed.
        resumed: bool,
    },
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct OwnerRows {
    #[diesel(sql_type = Int4)]
    owner: i32,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Moves every movable row not moved yet; see the module docs and docs/migration.md.
pub fn execute(
    database_url: &str,
    options: &ExecuteOptions,
    progress: &mut dyn FnMut(&ExecuteProgress),
) -> Result<ExecuteOutcome, LegacyError> {
    let mut conn = connect(database_url)?;
    require_legacy_column(&mut conn)?;
    exclusively(&mut conn, |conn| {
        let scope = require_clean(conn, &options.policies)?;
        require_same_policies(conn, &scope)?;
        // Staging sorts the whole scope by owner: in memory rather than in temp files.
        conn.batch_execute("SET work_mem = '256MB'; SET maintenance_work_mem = '256MB'")?;
        let unfinished = diesel::sql_query(
            "SELECT id FROM chat_support_migration_batches
             WHERE finished_at IS NULL AND rolled_back_at IS NULL ORDER BY id LIMIT 1",
        )
        .get_result::<Id>(conn)
        .optional()?
        .map(|b| b.id);
        let owners = pending_owners(conn, &scope, &options.cohort)?;
        let cohort_new = cohort_users_missing(conn, &options.cohort)?;
        if unfinished.is_none() && owners.is_empty() && cohort_new == 0 {
            conn.batch_execute(&format!("DROP TABLE IF EXISTS {PENDING}"))?;
            let moved_before =
                diesel::sql_query("SELECT count(*) AS n FROM dm_messages WHERE legacy_message_id IS NOT NULL")
                    .get_result::<Count>(conn)?
                    .n;
            return Ok(ExecuteOutcome::NothingToDo { moved_before });
        }
        let batch = match unfinished {
            Some(id) => id,
            None => {
                diesel::sql_query("INSERT INTO chat_support_migration_batches (options) VALUES ($1) RETURNING id")
                    .bind::<diesel::sql_types::Jsonb, _>(scope.recorded())
                    .get_result::<Id>(conn)?
                    .id
            }
        };
        let chunks = chunks(&owners, options.batch_rows());
        let mut done = ExecuteProgress { batch, chunks: 0, users: 0, users_total: owners.len(), moved: 0 };
        // An injected failure counts chunks in order: one worker then.
        let workers = if options.fail_after_chunks.is_some() { 1 } else { options.workers() };
        let run = Run { database_url, batch, resolve_after_days: scope.policies.resolve_after_days, options };
        let moved = run.move_chunks(&chunks, workers, &mut |chunk_users, moved| {
            done.chunks += 1;
            done.users += chunk_users;
            done.moved += moved as u64;
            progress(&done);
        });
        let summary =
            moved.and_then(|()| conn.transaction::<_, LegacyError, _>(|conn| finish(conn, &options.cohort, batch)));
        conn.batch_execute(&format!("DROP TABLE IF EXISTS {PENDING}"))?;
        Ok(ExecuteOutcome::Finished { batch: summary?, resumed: unfinished.is_some() })
    })
}

/// One run's chunks, moved by parallel workers.
struct Run<'a> {
    database_url: &'a str,
    batch: i64,
    resolve_after_days: u32,
    options: &'a ExecuteOptions,
}

impl Run<'_> {
    /// Moves every chunk, `workers` at a time, each worker on its own connection taking
    /// the next chunk; `done(users, rows)` is called (on this thread) per committed
    /// chunk. Chunks hold disjoint users, so workers never wait for each other. The
    /// first failure stops every worker after its current chunk; what was committed
    /// stays, and the next run resumes exactly the users left.
    fn move_chunks(
        &self,
        chunks: &[Vec<i32>],
        workers: usize,
        done: &mut dyn FnMut(usize, usize),
    ) -> Result<(), LegacyError> {
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let (tx, rx) = mpsc::channel::<(usize, usize)>();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers.max(1))
                .map(|_| {
                    let tx = tx.clone();
                    let (next, failed) = (&next, &failed);
                    s.spawn(move || -> Result<(), LegacyError> {
                        let mut conn = connect(self.database_url)?;
                        // A chunk lost with an unflushed commit is moved again by the
                        // next run (the bookkeeping commits with it): no flush wait.
                        conn.batch_execute("SET synchronous_commit = off")?;
                        while !failed.load(Ordering::Relaxed) {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(chunk) = chunks.get(i) else { break };
                            match self.move_one(&mut conn, chunk, i) {
                                Ok(moved) => {
                                    let _ = tx.send((chunk.len(), moved));
                                }
                                Err(e) => {
                                    failed.store(true, Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                        }
                        Ok(())
                    })
                })
                .collect();
            drop(tx);
            for (users, moved) in rx {
                done(users, moved);
            }
            // The scope joins the others too.
            handles.into_iter().try_for_each(|h| h.join().unwrap_or_else(|_| Err(LegacyError::Worker)))
        })
    }

    /// Moves one chunk in one transaction; the users switch to the new support in the
    /// same transaction as their history.
    fn move_one(&self, conn: &mut PgConnection, chunk: &[i32], index: usize) -> Result<usize, LegacyError> {
        conn.transaction::<_, LegacyError, _>(|conn| {
            let moved = move_chunk(conn, self.batch, chunk, self.resolve_after_days)?;
            diesel::sql_query(
                "INSERT INTO chat_support_users (user_id, batch_id) SELECT unnest($1::int[]), $2
                 ON CONFLICT (user_id) DO NOTHING",
            )
            .bind::<Array<Int4>, _>(chunk)
            .bind::<BigInt, _>(self.batch)
            .execute(conn)?;
            if self.options.fail_after_chunks == Some(index) {
                return Err(LegacyError::Injected(index));
            }
            Ok(moved)
        })
    }
}

/// Refuses to mix choices: rows moved by a live batch were classified with its
/// policies and time zone, and verification compares with those.
fn require_same_policies(conn: &mut PgConnection, scope: &Scope) -> Result<(), LegacyError> {
    #[derive(QueryableByName)]
    struct Recorded {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = diesel::sql_types::Jsonb)]
        options: serde_json::Value,
    }
    let live = diesel::sql_query(
        // A batch moved before the choices were recorded has '{}': nothing to compare.
        "SELECT id, options FROM chat_support_migration_batches WHERE rolled_back_at IS NULL AND options <> '{}'
         ORDER BY id",
    )
    .load::<Recorded>(conn)?;
    for batch in live {
        if batch.options != scope.recorded() {
            return Err(LegacyError::Refused(format!(
                "batch {} was moved with other choices ({}) than this run ({}): pass the same options, or roll it back first",
                batch.id,
                batch.options,
                scope.recorded()
            )));
        }
    }
    Ok(())
}

/// Cohort users not yet on the new support (users without old rows switch too).
fn cohort_users_missing(conn: &mut PgConnection, cohort: &Cohort) -> QueryResult<i64> {
    Ok(diesel::sql_query(format!(
        "SELECT count(*) AS n FROM ({}) c WHERE NOT EXISTS (SELECT 1 FROM chat_support_users s WHERE s.user_id = c.id)",
        cohort.users_sql()
    ))
    .get_result::<Count>(conn)?
    .n)
}

/// Stages the rows to move and returns their owners, by id, with their row counts.
fn pending_owners(conn: &mut PgConnection, scope: &Scope, cohort: &Cohort) -> QueryResult<Vec<(i32, i64)>> {
    conn.batch_execute(&stage_sql(scope, &cohort.owner_filter()))?;
    let sql = format!("SELECT owner, count(*) AS n FROM {PENDING} WHERE reason IS NULL GROUP BY owner ORDER BY owner");
    Ok(diesel::sql_query(sql).load::<OwnerRows>(conn)?.into_iter().map(|r| (r.owner, r.n)).collect())
}

/// Consecutive owners, cut when a chunk reaches `rows` rows.
fn chunks(owners: &[(i32, i64)], rows: i64) -> Vec<Vec<i32>> {
    let mut out = Vec::new();
    let (mut current, mut size) = (Vec::new(), 0);
    for &(owner, n) in owners {
        current.push(owner);
        size += n;
        if size >= rows.max(1) {
            out.push(std::mem::take(&mut current));
            size = 0;
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Switches the cohort's users without old rows too, deactivates the old support groups
/// once no user with old rows is left on them, and closes the batch with its counts.
fn finish(conn: &mut PgConnection, cohort: &Cohort, batch: i64) -> Result<BatchSummary, LegacyError> {
    diesel::sql_query(format!(
        "INSERT INTO chat_support_users (user_id, batch_id) SELECT c.id, $1 FROM ({}) c ON CONFLICT (user_id) DO NOTHING",
        cohort.users_sql()
    ))
    .bind::<BigInt, _>(batch)
    .execute(conn)?;
    let unmovable = diesel::sql_query(format!("SELECT count(*) AS n FROM {PENDING} WHERE reason IS NOT NULL"))
        .get_result::<Count>(conn)?
        .n;
    // Everyone is on the new support after a run for all users: no need to look.
    let left_on_old = if *cohort == Cohort::All {
        "FALSE"
    } else {
        "EXISTS (SELECT 1 FROM chat_messages cm JOIN users u ON u.id = cm.support_conversation_user_id
                 WHERE NOT EXISTS (SELECT 1 FROM chat_support_users s WHERE s.user_id = u.id))"
    };
    let hash = row_hash("m");
    diesel::sql_query(format!(
        "WITH g AS (UPDATE chat_groups SET is_active = FALSE WHERE kind = 'support' AND is_active
                    AND NOT {left_on_old} RETURNING id)
         UPDATE chat_support_migration_batches b SET
             finished_at = now(),
             deactivated_group_ids = b.deactivated_group_ids || ARRAY(SELECT id FROM g ORDER BY id),
             messages_migrated = (SELECT count(*) FROM dm_messages WHERE legacy_batch_id = b.id),
             users_migrated = (SELECT count(*) FROM chat_support_migration_conversations WHERE batch_id = b.id),
             conversations_created = (SELECT count(*) FROM chat_support_migration_conversations
                                      WHERE batch_id = b.id AND created),
             messages_unmovable = $2,
             checksum = (SELECT md5(string_agg({hash}, '' ORDER BY m.legacy_message_id))
                         FROM dm_messages m WHERE m.legacy_batch_id = b.id)
         WHERE b.id = $1"
    ))
    .bind::<BigInt, _>(batch)
    .bind::<BigInt, _>(unmovable)
    .execute(conn)?;
    Ok(batch_summary(conn, batch)?)
}

/// A batch's record.
pub(crate) fn batch_summary(conn: &mut PgConnection, batch: i64) -> QueryResult<BatchSummary> {
    diesel::sql_query(
        "SELECT id, users_migrated, messages_migrated, conversations_created, messages_unmovable, checksum,
                deactivated_group_ids, finished_at
         FROM chat_support_migration_batches WHERE id = $1",
    )
    .bind::<BigInt, _>(batch)
    .get_result(conn)
}

#[cfg(test)]
mod tests {
    use super::chunks;

    #[test]
    fn chunks_cut_at_the_row_budget_without_splitting_a_user() {
        let owners = [(1, 3), (2, 3), (3, 10), (4, 1), (5, 1)];
        assert_eq!(chunks(&owners, 5), vec![vec![1, 2], vec![3], vec![4, 5]]);
        assert_eq!(chunks(&owners, 0), vec![vec![1], vec![2], vec![3], vec![4], vec![5]]);
        assert!(chunks(&[], 5).is_empty());
    }
}
