//! Schema migrations, embedded from the workspace's top-level `migrations/` folder.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// An arbitrary constant: the advisory lock that serializes migration runs, so several
/// instances starting at once do not race each other.
const MIGRATION_LOCK: i64 = 0x6368_6174_6d69_6772;

/// Why the schema could not be brought up to date (or down).
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The database URL is not usable.
    #[error("invalid database URL: {0}")]
    BadUrl(String),
    /// No connection could be made.
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] ConnectionError),
    /// A statement failed.
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(Box<dyn std::error::Error + Send + Sync>),
}

/// What `migrate` does with an existing app's own notices (`chat_messages` rows with
/// `is_notification = TRUE` that belong to no notification), which migration 000201
/// would otherwise refuse.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OldNotices {
    /// Stop and name them (the default: the operator decides).
    #[default]
    Refuse,
    /// Keep them exactly as they are (the new service shows them as ordinary group
    /// messages; the support migration moves those in support threads as notices).
    Keep,
}

/// Choices an operator makes for `migrate` on an existing app's database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MigrateOptions {
    /// See [`OldNotices`].
    pub old_notices: OldNotices,
}

/// Applies every pending migration and returns the versions applied.
pub fn run_migrations(database_url: &str) -> Result<Vec<String>, MigrationError> {
    run_migrations_with(database_url, &MigrateOptions::default())
}

/// [`run_migrations`] with the operator's choices, which the migrations read from
/// session settings (`chat.old_notices`).
pub fn run_migrations_with(database_url: &str, options: &MigrateOptions) -> Result<Vec<String>, MigrationError> {
    with_migration_lock(database_url, |conn| {
        if options.old_notices == OldNotices::Keep {
            diesel::sql_query("SET chat.old_notices = 'keep'").execute(conn)?;
        }
        let applied = conn.run_pending_migrations(MIGRATIONS).map_err(MigrationError::Migration)?;
        Ok(applied.iter().map(ToString::to_string).collect())
    })
}

/// Reverts every applied migration (tests and development only: it drops the chat
/// tables; the legacy tables are dropped only if the baseline migration created them).
pub fn revert_all_migrations(database_url: &str) -> Result<Vec<String>, MigrationError> {
    with_migration_lock(database_url, |conn| {
        let reverted = conn.revert_all_migrations(MIGRATIONS).map_err(MigrationError::Migration)?;
        Ok(reverted.iter().map(ToString::to_string).collect())
    })
}

fn with_migration_lock<T>(
    database_url: &str,
    f: impl FnOnce(&mut PgConnection) -> Result<T, MigrationError>,
) -> Result<T, MigrationError> {
    let mut conn = crate::establish(database_url)?;
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).execute(&mut conn)?;
    let result = f(&mut conn);
    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).execute(&mut conn)?;
    result
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

/// Creates the database named in `database_url` when it does not exist yet, connecting
/// to the server's `postgres` database to do so. Returns whether it was created.
pub fn ensure_database(database_url: &str) -> Result<bool, MigrationError> {
    let mut url = url::Url::parse(database_url).map_err(|e| MigrationError::BadUrl(e.to_string()))?;
    let name = url.path().trim_start_matches('/').to_owned();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(MigrationError::BadUrl(format!(
            "database name {name:?} must be non-empty and use only letters, digits and _"
        )));
    }
    url.set_path("/postgres");
    let mut conn = crate::establish(url.as_str())?;
    let found = diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
        .bind::<Text, _>(&name)
        .get_result::<Exists>(&mut conn)?;
    if found.exists {
        return Ok(false);
    }
    match diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut conn) {
        Ok(_) => Ok(true),
        // Another process created it in the meantime.
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
