//! The plans of the hot read paths, for tests and `docs/architecture.md`.
//!
//! Each plan is produced from the very SQL the repositories run (the same builder
//! functions), with representative parameters, so a test can prove that every list is
//! served by an index in its ORDER BY order and never by a sort over a scan.

use chat_domain::access::Author;
use chat_domain::conversations::{Append, AppendTarget, HistoryQuery, MessageBody, MessageKind, Side};
use chat_domain::direct_messages::{AdminDmQuery, DmListQuery};
use chat_domain::support::QueueQuery;
use chat_domain::{ConversationId, MessageId, UserId};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};

use crate::conversations::{APPEND_SQL, client_id_sql, explain_append_query, explain_history_query, history_sql};
use crate::direct_messages::{DmListFilter, dm_list_sql};
use crate::support::{QueueParameters, queue_sql};

/// A read path whose plan matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HotPath {
    /// A page of the support queue.
    SupportQueue(QueueQuery),
    /// [`Self::SupportQueue`] as the generic plan of its prepared statement: the plan
    /// every page of that shape gets once PostgreSQL stops planning it per execution.
    SupportQueueGeneric(QueueQuery),
    /// A history page, newest first, before a cursor.
    HistoryOlder(ConversationId, MessageId),
    /// A history page, oldest first, after a cursor.
    HistoryNewer(ConversationId, MessageId),
    /// [`Self::HistoryOlder`] as the generic plan of its prepared statement: the plan
    /// every page gets once PostgreSQL stops planning it per execution.
    HistoryOlderGeneric(ConversationId, MessageId),
    /// The idempotency lookup of a send.
    SendClientIdLookup(ConversationId),
    /// The one statement of a send to a conversation named by id.
    SendAppend(ConversationId),
    /// The one statement of a user's send to their support conversation.
    SendAppendToSupport(UserId),
    /// [`Self::SendAppendToSupport`] as the generic plan the group-commit writers run
    /// (`plan_cache_mode = force_generic_plan` on their connections).
    SendAppendToSupportGeneric(UserId),
    /// The one statement of a user's own send to a DM (found and checked by the append).
    SendAppendToDm(ConversationId, UserId),
    /// [`Self::SendAppendToDm`] as the group-commit writers' generic plan.
    SendAppendToDmGeneric(ConversationId, UserId),
    /// A page of a user's DM list, most recent activity first.
    UserDmList(UserId, DmListQuery),
    /// A page of every DM, for admins, by activity.
    AdminDmList(AdminDmQuery),
    /// [`Self::UserDmList`] as the generic plan of its prepared statement.
    UserDmListGeneric(UserId, DmListQuery),
    /// [`Self::AdminDmList`] as the generic plan of its prepared statement.
    AdminDmListGeneric(AdminDmQuery),
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// Whether the support queue plans `page` per request instead of preparing it (its
/// generic plan misjudges it).
pub fn queue_planned_per_request(page: &QueueQuery) -> bool {
    crate::support::planned_per_request(page)
}

fn dm_list_filter(path: HotPath) -> DmListFilter {
    match path {
        HotPath::UserDmList(user, page) | HotPath::UserDmListGeneric(user, page) => DmListFilter::of_user(user, &page),
        HotPath::AdminDmList(page) | HotPath::AdminDmListGeneric(page) => DmListFilter::of_admin(&page),
        _ => unreachable!("a DM list"),
    }
}

/// `EXPLAIN` of the generic plan of `sql` prepared with parameters of `types` (PostgreSQL
/// 15 has no `EXPLAIN (GENERIC_PLAN)`), executed with `literals` (`EXECUTE` takes no bound
/// parameters).
fn generic_plan(
    conn: &mut PgConnection,
    types: &str,
    sql: &str,
    literals: &str,
) -> Result<Vec<PlanLine>, diesel::result::Error> {
    conn.batch_execute(&format!("SET plan_cache_mode = force_generic_plan; PREPARE hot({types}) AS {sql}"))?;
    diesel::sql_query(format!("EXPLAIN EXECUTE hot({literals})")).load(conn)
}

/// `EXPLAIN` of `path` as the repositories would run it.
pub fn explain(database_url: &str, path: HotPath) -> Result<String, diesel::result::Error> {
    let mut conn = crate::establish(database_url).map_err(|e| diesel::result::Error::QueryBuilderError(Box::new(e)))?;
    let lines: Vec<PlanLine> = match path {
        HotPath::SupportQueue(page) => QueueParameters::of(&page)
            .bind(diesel::sql_query(format!("EXPLAIN {}", queue_sql(&page))).into_boxed())
            .load(&mut conn)?,
        HotPath::SupportQueueGeneric(page) => {
            generic_plan(&mut conn, QueueParameters::TYPES, queue_sql(&page), &QueueParameters::of(&page).literals())?
        }
        HotPath::HistoryOlder(id, before) | HotPath::HistoryNewer(id, before) => {
            let query = match path {
                HotPath::HistoryOlder(..) => HistoryQuery::Older { before: Some(before), limit: 50 },
                _ => HistoryQuery::Newer { after: before, limit: 50 },
            };
            explain_history_query(id, &query).load(&mut conn)?
        }
        HotPath::SendAppendToSupportGeneric(_) | HotPath::SendAppendToDmGeneric(..) => {
            conn.batch_execute(&format!("SET plan_cache_mode = force_generic_plan; PREPARE hot AS {APPEND_SQL}"))?;
            // $1 conversation, $2 support user, $4 sender, $9 side, as one-element arrays.
            let (conversation, support_user, sender, side) = match path {
                HotPath::SendAppendToSupportGeneric(user) => ("NULL".into(), user.to_string(), user, "1"),
                HotPath::SendAppendToDmGeneric(id, user) => (id.to_string(), "NULL".into(), user, "NULL"),
                _ => unreachable!("matched above"),
            };
            diesel::sql_query(format!(
                "EXPLAIN EXECUTE hot('{{{conversation}}}', '{{{support_user}}}', '{{real_user}}', '{{{sender}}}', \
                 '{{NULL}}', '{{hello}}', '{{text}}', '{{NULL}}', '{{{side}}}')"
            ))
            .load(&mut conn)?
        }
        HotPath::HistoryOlderGeneric(id, before) => {
            // The plan a prepared page statement settles on whatever its binds (PostgreSQL
            // 15 has no `EXPLAIN (GENERIC_PLAN)`).
            let sql = history_sql(&HistoryQuery::Older { before: Some(before), limit: 50 });
            conn.batch_execute(&format!("SET plan_cache_mode = force_generic_plan; PREPARE hot AS {sql}"))?;
            diesel::sql_query(format!("EXPLAIN EXECUTE hot({}, {}, 51)", id.get(), before.get())).load(&mut conn)?
        }
        HotPath::UserDmList(..) | HotPath::AdminDmList(_) => {
            let filter = dm_list_filter(path);
            filter.bind(diesel::sql_query(format!("EXPLAIN {}", dm_list_sql(&filter))).into_boxed()).load(&mut conn)?
        }
        HotPath::UserDmListGeneric(..) | HotPath::AdminDmListGeneric(_) => {
            let filter = dm_list_filter(path);
            generic_plan(&mut conn, DmListFilter::TYPES, dm_list_sql(&filter), &filter.literals())?
        }
        HotPath::SendAppend(_) | HotPath::SendAppendToSupport(_) | HotPath::SendAppendToDm(..) => {
            let (target, author) = match path {
                HotPath::SendAppendToSupport(user) => (AppendTarget::SupportOf(user), Author::User(user)),
                HotPath::SendAppend(id) => (AppendTarget::Conversation(id, Side::One), Author::User(UserId(1))),
                HotPath::SendAppendToDm(id, user) => (AppendTarget::DmOf(id), Author::User(user)),
                _ => unreachable!("matched above"),
            };
            let body = MessageBody::parse(MessageKind::Text, "hello")
                .map_err(|e| diesel::result::Error::QueryBuilderError(e.to_string().into()))?;
            let append = Append { target, author, body, client_id: Some(uuid::Uuid::nil()) };
            explain_append_query(&append).load(&mut conn)?
        }
        HotPath::SendClientIdLookup(id) => diesel::sql_query(format!("EXPLAIN {}", client_id_sql()))
            .bind::<BigInt, _>(id.get())
            .bind::<SqlUuid, _>(uuid::Uuid::nil())
            .load(&mut conn)?,
    };
    Ok(lines.into_iter().map(|l| l.line).collect::<Vec<_>>().join("\n"))
}
