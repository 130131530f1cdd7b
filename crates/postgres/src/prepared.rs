//! Hand-written SQL that diesel keeps as a prepared statement.
//!
//! diesel never caches a `sql_query`: its text may be built at run time, so every call
//! is parsed and planned again (PostgreSQL's unnamed statement). A statement the query
//! builder cannot express (a `WITH` of data-modifying statements) but whose text is a
//! constant is safe to cache: [`prepared`] marks it so, and diesel's statement cache
//! (keyed by the SQL text and the bind types) prepares it once per connection. The
//! cache stays bounded because the texts are `&'static str`s: fixed at compile time, or
//! one of a statement's few shapes ([`Shapes`]).

use std::sync::OnceLock;

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId, SqlQuery};
use diesel::result::QueryResult;
use diesel::sql_types::Untyped;
use diesel::{RunQueryDsl, sql_query};

/// A `sql_query` with a constant text, cached as a prepared statement.
#[derive(Debug, Clone)]
pub(crate) struct Prepared<Q>(Q);

/// `sql` with its binds (`bind` adds them: `|q| q.bind::<BigInt, _>(id)`), prepared once
/// per connection.
pub(crate) fn prepared<Q>(sql: &'static str, bind: impl FnOnce(SqlQuery) -> Q) -> Prepared<Q> {
    Prepared(bind(sql_query(sql)))
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    /// The text is a constant (see [`prepared`]), unlike what `SqlQuery` must assume.
    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> QueryId for Prepared<Q> {
    // Cached by its SQL text, not by type.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for Prepared<Q> {
    type SqlType = Untyped;
}

impl<Q, Conn> RunQueryDsl<Conn> for Prepared<Q> {}

/// The texts of a statement whose shape (which of its optional filters a request holds)
/// is one of `N`, each built on first use and kept for the life of the process.
///
/// A filter the request does not hold is left out of the text, never written as a
/// `$n IS NULL OR ...` catch-all: a prepared statement is planned once for every value
/// of its parameters (its generic plan), and a catch-all makes that one plan serve
/// "filter" and "no filter" at once, which it does badly (a queue page's took 35-95 ms).
/// Each shape is a constant text, so diesel's statement cache holds at most `N` of them
/// per connection.
pub(crate) struct Shapes<const N: usize>([OnceLock<String>; N]);

impl<const N: usize> Shapes<N> {
    /// No text built yet.
    pub(crate) const fn new() -> Self {
        Self([const { OnceLock::new() }; N])
    }

    /// The text of shape `shape` (below `N`), built by `build` the first time.
    pub(crate) fn text(&'static self, shape: usize, build: impl FnOnce() -> String) -> &'static str {
        self.0[shape].get_or_init(build)
    }
}

/// A parameter's value written as an SQL literal (`value`, already quoted where its type
/// needs it) or `NULL`, for `EXECUTE`, which takes no bound parameters (the plans tests).
pub(crate) fn literal_or_null(value: Option<String>) -> String {
    value.unwrap_or_else(|| "NULL".to_owned())
}
