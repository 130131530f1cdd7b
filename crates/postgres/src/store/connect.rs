//! How a pooled connection is opened: libpq's connection deadlines and the session's
//! statement deadlines, on every connection, and whether the database is refusing us.
//!
//! * libpq parameters (`connect_timeout`, TCP keepalives, `tcp_user_timeout`) are added
//!   to the URL unless the URL sets them itself, so an operator can still override one
//!   there. They bound a connection attempt and notice a peer that vanished from the
//!   network; they cannot notice a database that is alive but stopped (SIGSTOP, a frozen
//!   VM), because its kernel still acknowledges every packet: the store's own
//!   transaction deadline covers that case.
//! * `statement_timeout`, `lock_timeout` and `idle_in_transaction_session_timeout` are
//!   `SET` once per new connection (one round trip per connection, not per request),
//!   which works behind poolers that refuse the `options` startup parameter.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::PgConnection;
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, ManageConnection};

use super::PoolConfig;
use crate::health::DbHealth;

/// libpq's TCP keepalive settings (`keepalives_idle`, `keepalives_interval`,
/// `keepalives_count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalives {
    /// Idle time before the first probe.
    pub idle: Duration,
    /// Time between unanswered probes.
    pub interval: Duration,
    /// Unanswered probes before the connection is declared dead.
    pub count: u32,
}

impl Keepalives {
    /// How long a silent peer takes to be declared dead; also used as libpq's
    /// `tcp_user_timeout` (data left unacknowledged that long ends the connection).
    pub fn dead_after(&self) -> Duration {
        self.idle + self.interval * self.count
    }
}

/// `database_url` with libpq's connection deadlines added where the URL does not set them.
pub(crate) fn connection_url(database_url: &str, config: &PoolConfig) -> String {
    let k = config.keepalives;
    let params = [
        // libpq counts whole seconds and treats less than 2 as 2.
        ("connect_timeout", config.connect_timeout.as_secs().max(2).to_string()),
        ("keepalives", "1".to_owned()),
        ("keepalives_idle", k.idle.as_secs().max(1).to_string()),
        ("keepalives_interval", k.interval.as_secs().max(1).to_string()),
        ("keepalives_count", k.count.max(1).to_string()),
        ("tcp_user_timeout", k.dead_after().as_millis().to_string()),
    ];
    let is_uri = database_url.starts_with("postgres://") || database_url.starts_with("postgresql://");
    match url::Url::parse(database_url) {
        Ok(mut url) if is_uri => {
            let present: Vec<String> = url.query_pairs().map(|(key, _)| key.into_owned()).collect();
            let missing: Vec<_> = params.iter().filter(|(key, _)| !present.iter().any(|p| p == key)).collect();
            if !missing.is_empty() {
                let mut query = url.query_pairs_mut();
                for (key, value) in missing {
                    query.append_pair(key, value);
                }
            }
            url.into()
        }
        // A `key=value` connection string (libpq accepts both forms).
        _ => {
            let present = |key: &str| database_url.split_whitespace().any(|kv| kv.split('=').next() == Some(key));
            let mut conninfo = database_url.to_owned();
            for (key, value) in params.iter().filter(|(key, _)| !present(key)) {
                conninfo.push_str(&format!(" {key}={value}"));
            }
            conninfo
        }
    }
}

/// The `SET`s every pooled (and probe) connection runs once, when it is opened.
pub(crate) fn session_settings(config: &PoolConfig) -> String {
    let ms = |d: Duration| d.as_millis();
    format!(
        "SET statement_timeout = {}; SET lock_timeout = {}; SET idle_in_transaction_session_timeout = {};{}",
        ms(config.statement_timeout),
        ms(config.lock_timeout),
        ms(config.idle_in_transaction_timeout),
        // Read by the outbox triggers (migration 2026-11-30-000400_webhook_outbox).
        if config.webhook_outbox { " SET chat.webhook_outbox = on;" } else { "" },
    )
}

/// Opens one connection with the deadlines set (for the readiness probe).
pub(crate) fn establish(url: &str, settings: &str) -> Result<PgConnection, diesel::r2d2::Error> {
    let mut conn = crate::establish(url).map_err(diesel::r2d2::Error::ConnectionError)?;
    conn.batch_execute(settings).map_err(diesel::r2d2::Error::QueryError)?;
    Ok(conn)
}

/// diesel's connection manager, plus the session settings and a record of whether the
/// last attempt to connect failed (also reported to the [`DbHealth`], which logs a
/// change of state once).
///
/// r2d2 retries a failed connection in the background until it succeeds, so the flag
/// clears by itself when the database is back; meanwhile the store fails requests at
/// once instead of letting each wait out the checkout timeout.
#[derive(Debug)]
pub(crate) struct Manager {
    inner: ConnectionManager<PgConnection>,
    settings: String,
    refusing: Arc<AtomicBool>,
    health: DbHealth,
    warm_up: Option<WarmUp>,
}

/// What a pool runs on each new connection after its settings (e.g. preparing the
/// statements it exists for); its failure is logged, not the connection's.
pub(crate) type WarmUp = fn(&mut PgConnection) -> diesel::QueryResult<()>;

impl Manager {
    pub(crate) fn new(
        url: &str,
        settings: String,
        refusing: Arc<AtomicBool>,
        health: DbHealth,
        warm_up: Option<WarmUp>,
    ) -> Self {
        Self { inner: ConnectionManager::new(url), settings, refusing, health, warm_up }
    }
}

impl ManageConnection for Manager {
    type Connection = PgConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PgConnection, Self::Error> {
        crate::libpq::init_tls();
        let result = self.inner.connect().and_then(|mut conn| {
            conn.batch_execute(&self.settings).map_err(diesel::r2d2::Error::QueryError)?;
            // Best effort: a connection opened before the migrations ran (or one the warm-up
            // failed on for any reason) is still a connection; its first use prepares.
            if let Some(Err(e)) = self.warm_up.map(|warm_up| warm_up(&mut conn)) {
                tracing::debug!(error = %e, "warming a new connection up failed");
            }
            Ok(conn)
        });
        self.refusing.store(result.is_err(), Ordering::Release);
        match &result {
            Ok(_) => self.health.up(),
            Err(e) => self.health.down(e),
        }
        result
    }

    fn is_valid(&self, conn: &mut PgConnection) -> Result<(), Self::Error> {
        self.inner.is_valid(conn)
    }

    fn has_broken(&self, conn: &mut PgConnection) -> bool {
        self.inner.has_broken(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_added_to_a_url_unless_it_sets_them() {
        let config = PoolConfig::default();
        let url = connection_url("postgres://app@db:5432/chat?sslmode=verify-full&connect_timeout=7", &config);
        let parsed = url::Url::parse(&url).unwrap();
        let pairs: Vec<(String, String)> = parsed.query_pairs().map(|(k, v)| (k.into(), v.into())).collect();
        let get = |key: &str| pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
        assert_eq!(get("sslmode"), ["verify-full"], "the URL's own parameters are kept");
        assert_eq!(get("connect_timeout"), ["7"], "the URL wins over the default");
        assert_eq!(get("keepalives"), ["1"]);
        assert_eq!(get("keepalives_idle"), ["30"]);
        assert_eq!(get("tcp_user_timeout"), ["60000"]);
    }

    #[test]
    fn deadlines_are_added_to_a_keyword_connection_string() {
        let config = PoolConfig::default();
        let conninfo = connection_url("host=db dbname=chat keepalives_idle=5", &config);
        assert!(conninfo.starts_with("host=db dbname=chat keepalives_idle=5 "), "{conninfo}");
        assert!(conninfo.contains(" connect_timeout=2"), "{conninfo}");
        assert_eq!(conninfo.matches("keepalives_idle=").count(), 1, "{conninfo}");
    }

    #[test]
    fn session_settings_name_every_statement_deadline() {
        let settings = session_settings(&PoolConfig::default());
        assert_eq!(
            settings,
            "SET statement_timeout = 4000; SET lock_timeout = 1000; SET idle_in_transaction_session_timeout = 10000;"
        );
    }
}
