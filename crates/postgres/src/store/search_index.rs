//! The search index's pending entries, merged off the send path.
//!
//! `dm_messages_content_search` is a GIN index with `fastupdate` on: an insert only
//! appends its entries to the index's pending list, which is what keeps a send cheap.
//! But the insert that finds that list past `gin_pending_list_limit` (4 MB by default)
//! merges all of it into the index inside its own statement: on the bench that one
//! send's statement took 130-340 ms, about every 6 s at 5,000 sends/s, and every send
//! batched with it or queued behind its writer waited as long (docs/performance.md).
//! Turning `fastupdate` off moves the merge into every insert instead (6-9 % more of
//! PostgreSQL's CPU per send, measured); so the store merges the list itself, every
//! `interval`, on a connection of its own (`gin_clean_pending_list`). The list then
//! holds about one interval of sends, far below the limit, and no send pays for it; a
//! merge running meanwhile does not hold inserts back (they append to the list).
//!
//! The function needs the index's owner (as `VACUUM` does). The statement asks only
//! when the pool's role has the owner's privileges; where it has not (migrations run by
//! another role), the store says so once and leaves the merging to the inserts and to
//! autovacuum, as PostgreSQL does by default; a server started before the migrations
//! created the index looks again at every tick. Several instances merging at once wait
//! for each other's merge and find little left.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable};

use super::{PgPool, checkout};

/// The GIN index whose pending list is merged.
const INDEX: &str = "dm_messages_content_search";

/// Merges the pending list when the pool's role may: no row when the index does not
/// exist (yet), a null when the role does not own it.
const MERGE_SQL: &str =
    "SELECT CASE WHEN pg_has_role(c.relowner, 'USAGE') THEN gin_clean_pending_list(c.oid) END AS pages
                           FROM pg_class c
                          WHERE c.oid = to_regclass($1)";

#[derive(QueryableByName)]
struct Merged {
    #[diesel(sql_type = Nullable<BigInt>)]
    pages: Option<i64>,
}

/// What one merge found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMerge {
    /// Merged this many pages of the pending list into the index.
    Pages(i64),
    /// The pool's role does not own the index: it may not merge it.
    NotOwner,
    /// The index does not exist (the migrations have not run yet).
    Missing,
}

/// Merges the search index's pending list once, on `conn` (what the store's thread does
/// every interval).
///
/// # Errors
/// The statement's (an outage, a statement timeout).
pub fn merge_search_pending(conn: &mut PgConnection) -> QueryResult<SearchMerge> {
    let merged =
        diesel::sql_query(MERGE_SQL).bind::<diesel::sql_types::Text, _>(INDEX).get_result::<Merged>(conn).optional()?;
    Ok(match merged {
        None => SearchMerge::Missing,
        Some(Merged { pages: None }) => SearchMerge::NotOwner,
        Some(Merged { pages: Some(pages) }) => SearchMerge::Pages(pages),
    })
}

/// The handle that keeps the merging thread alive: it stops when the last clone of the
/// store (holding this) is dropped.
#[derive(Debug, Clone)]
pub(crate) struct SearchIndexUpkeep {
    _alive: Sender<()>,
}

impl SearchIndexUpkeep {
    /// Starts merging every `interval` on `pool` (a pool of its own: one connection).
    pub(crate) fn start(
        pool: PgPool,
        refusing: Arc<AtomicBool>,
        checkout_timeout: Duration,
        interval: Duration,
    ) -> Self {
        let (alive, stopped) = mpsc::channel();
        std::thread::Builder::new()
            .name("chat-search-index".to_owned())
            .spawn(move || run(&stopped, &pool, &refusing, checkout_timeout, interval))
            .expect("the search index thread starts");
        Self { _alive: alive }
    }
}

fn run(stopped: &Receiver<()>, pool: &PgPool, refusing: &AtomicBool, checkout_timeout: Duration, interval: Duration) {
    loop {
        match stopped.recv_timeout(interval) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let started = Instant::now();
        // An outage is the health tracking's to report (the requests see it); this
        // thread tries again at the next tick.
        let Ok(mut conn) = checkout(pool, refusing, started + checkout_timeout, checkout_timeout) else {
            continue;
        };
        match merge_search_pending(&mut conn) {
            Ok(SearchMerge::Pages(pages)) => {
                tracing::debug!(
                    pages,
                    took_ms = started.elapsed().as_secs_f64() * 1e3,
                    "merged the search index's pending list"
                );
            }
            Ok(SearchMerge::NotOwner) => {
                tracing::warn!(
                    index = INDEX,
                    "the database role does not own the search index: its pending list is merged by the sends \
                     that fill it (a slow send every few thousand) and by autovacuum; run the server as the \
                     role that ran the migrations, or set CHAT_SEARCH_INDEX_MERGE_MS=0 to silence this"
                );
                return;
            }
            Ok(SearchMerge::Missing) => {
                tracing::debug!(index = INDEX, "no search index yet; looking again at the next tick");
            }
            Err(e) => {
                tracing::debug!(error = %e, "merging the search index's pending list failed; retrying at the next tick")
            }
        }
    }
}
