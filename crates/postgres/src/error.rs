//! Mapping database errors onto the domain's [`RepoError`].
//!
//! An *outage* (the database is shutting down, restarting, out of connection slots, or
//! the connection is gone) is [`RepoError::Unavailable`]: the API answers 503 with
//! `Retry-After`, and a retry will succeed once the database is back. Anything else is a
//! bug or a broken invariant: [`RepoError::Internal`], a logged, opaque 500.
//!
//! The outage conditions are these SQLSTATEs: the whole class `08` (connection
//! exception), `57P01` (admin_shutdown: `pg_terminate_backend`, a fast shutdown),
//! `57P02` (crash_shutdown), `57P03` (cannot_connect_now: starting up, shutting down, in
//! recovery) and `53300` (too_many_connections). A deadline the store sets on every
//! connection is an outage too, since a retry may well succeed: `55P03`
//! (lock_not_available: `lock_timeout`), `57014` (query_canceled: `statement_timeout`)
//! and `25P03` (idle_in_transaction_session_timeout).
//!
//! diesel 2.3 does not expose an error's SQLSTATE. It turns the `08` codes it knows
//! (`08000`, `08001`, `08004`, `08006`), and any error after which libpq reports the
//! connection bad, into [`DatabaseErrorKind::ClosedConnection`]; that is how a
//! `57P01`/`57P02` arrives in practice, since the server closes the connection after
//! sending one (measured with `pg_terminate_backend` while idle, inside a transaction
//! and during a running query). For the cases where the connection has not been seen
//! closed yet, [`sqlstate_of`] recognizes PostgreSQL's own primary messages for these
//! codes (English, the server default `lc_messages`). `57P03` and `53300` are sent only
//! while connecting, which r2d2 reports as a checkout failure: the store maps that to
//! `Unavailable` too.

use chat_domain::RepoError;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Classifies a diesel error: an outage is `Unavailable` (503, retry), anything else
/// `Internal` (500, logged).
pub(crate) fn repo_error(e: DieselError) -> RepoError {
    if is_outage(&e) { RepoError::Unavailable(Box::new(e)) } else { RepoError::internal(e) }
}

/// Whether `e` means the database is unreachable rather than that a query is wrong.
fn is_outage(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) | DieselError::BrokenTransactionManager => {
            true
        }
        DieselError::DatabaseError(_, info) => sqlstate_of(info.message()).is_some_and(is_outage_sqlstate),
        // A commit that failed because the connection went away (its rollback failing too).
        DieselError::RollbackErrorOnCommit { commit_error, .. } => is_outage(commit_error),
        _ => false,
    }
}

/// Whether a SQLSTATE names an outage: class `08`, `57P01`, `57P02`, `57P03`, `53300`,
/// and the deadlines `55P03`, `57014`, `25P03`.
pub(crate) fn is_outage_sqlstate(code: &str) -> bool {
    code.len() == 5
        && (code.starts_with("08")
            || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "55P03" | "57014" | "25P03"))
}

/// The SQLSTATE of an outage error, recognized by PostgreSQL's primary message (diesel
/// keeps the message but not the code). `None` for every other message.
pub(crate) fn sqlstate_of(message: &str) -> Option<&'static str> {
    let m = message.trim();
    if m.starts_with("terminating ")
        && (m.contains("due to administrator command") || m.contains("due to unexpected postmaster exit"))
    {
        return Some("57P01");
    }
    if m.starts_with("terminating connection because of crash of another server process") {
        return Some("57P02");
    }
    if m.starts_with("canceling statement due to lock timeout") {
        return Some("55P03");
    }
    if m.starts_with("canceling statement due to statement timeout") {
        return Some("57014");
    }
    if m.starts_with("terminating connection due to idle-in-transaction timeout") {
        return Some("25P03");
    }
    if m.starts_with("the database system is ") {
        // starting up / shutting down / in recovery mode / not (yet) accepting connections
        return Some("57P03");
    }
    if m.starts_with("sorry, too many clients already")
        || m.starts_with("too many connections for ")
        || m.starts_with("remaining connection slots are reserved")
    {
        return Some("53300");
    }
    // libpq's own wording for a connection lost or never made (client-side class 08).
    const CONNECTION_LOST: [&str; 6] = [
        "server closed the connection unexpectedly",
        "no connection to the server",
        "could not receive data from server",
        "could not send data to server",
        "connection to server",
        "lost synchronization with server",
    ];
    if CONNECTION_LOST.iter().any(|p| m.starts_with(p)) {
        return Some("08006");
    }
    None
}

/// `?`-friendly conversion for repository methods.
pub(crate) trait OrRepoError<T> {
    fn or_repo(self) -> Result<T, RepoError>;
}

impl<T> OrRepoError<T> for Result<T, DieselError> {
    fn or_repo(self) -> Result<T, RepoError> {
        self.map_err(repo_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_error(kind: DatabaseErrorKind, message: &str) -> DieselError {
        DieselError::DatabaseError(kind, Box::new(message.to_owned()))
    }

    fn unavailable(e: DieselError) -> bool {
        matches!(repo_error(e), RepoError::Unavailable(_))
    }

    #[test]
    fn outage_sqlstates() {
        for code in [
            "57P01", "57P02", "57P03", "53300", "08000", "08001", "08003", "08004", "08006", "08007", "08P01", "55P03",
            "57014", "25P03",
        ] {
            assert!(is_outage_sqlstate(code), "{code}");
        }
        for code in ["23505", "40001", "40P01", "57P04", "53200", "53100", "XX000", "0800", "080000", ""] {
            assert!(!is_outage_sqlstate(code), "{code}");
        }
    }

    #[test]
    fn postgres_messages_name_their_sqlstate() {
        let cases = [
            ("terminating connection due to administrator command", Some("57P01")),
            ("terminating background worker \"x\" due to administrator command", Some("57P01")),
            ("terminating connection due to unexpected postmaster exit", Some("57P01")),
            ("terminating connection because of crash of another server process", Some("57P02")),
            ("the database system is starting up", Some("57P03")),
            ("the database system is shutting down", Some("57P03")),
            ("the database system is in recovery mode", Some("57P03")),
            ("the database system is not yet accepting connections", Some("57P03")),
            ("sorry, too many clients already", Some("53300")),
            ("too many connections for role \"app\"", Some("53300")),
            ("too many connections for database \"chat\"", Some("53300")),
            ("remaining connection slots are reserved for roles with the SUPERUSER attribute", Some("53300")),
            ("server closed the connection unexpectedly\n\tThis probably means...", Some("08006")),
            ("no connection to the server\n", Some("08006")),
            ("duplicate key value violates unique constraint \"x\"", None),
            ("canceling statement due to statement timeout", Some("57014")),
            ("canceling statement due to lock timeout", Some("55P03")),
            ("terminating connection due to idle-in-transaction timeout", Some("25P03")),
            ("deadlock detected", None),
            ("relation \"the database system is starting up\" does not exist", None),
        ];
        for (message, code) in cases {
            assert_eq!(sqlstate_of(message), code, "{message}");
        }
    }

    #[test]
    fn outages_are_unavailable_and_everything_else_internal() {
        assert!(unavailable(db_error(DatabaseErrorKind::ClosedConnection, "anything")));
        assert!(unavailable(DieselError::BrokenTransactionManager));
        for message in [
            "terminating connection due to administrator command",
            "terminating connection because of crash of another server process",
            "the database system is shutting down",
            "sorry, too many clients already",
            "server closed the connection unexpectedly",
        ] {
            assert!(unavailable(db_error(DatabaseErrorKind::Unknown, message)), "{message}");
        }
        let commit_lost = DieselError::RollbackErrorOnCommit {
            commit_error: Box::new(db_error(DatabaseErrorKind::Unknown, "the database system is shutting down")),
            rollback_error: Box::new(db_error(DatabaseErrorKind::ClosedConnection, "no connection to the server")),
        };
        assert!(unavailable(commit_lost));

        for e in [
            db_error(DatabaseErrorKind::UniqueViolation, "duplicate key value violates unique constraint \"x\""),
            db_error(DatabaseErrorKind::CheckViolation, "new row violates check constraint \"c\""),
            db_error(DatabaseErrorKind::SerializationFailure, "could not serialize access"),
            db_error(DatabaseErrorKind::Unknown, "syntax error at or near \"x\""),
            DieselError::NotFound,
            DieselError::RollbackErrorOnCommit {
                commit_error: Box::new(db_error(DatabaseErrorKind::SerializationFailure, "could not serialize")),
                rollback_error: Box::new(DieselError::NotInTransaction),
            },
        ] {
            assert!(matches!(repo_error(e), RepoError::Internal(_)));
        }
    }
}
