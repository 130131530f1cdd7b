//! Typed configuration from the environment (each setting also has a flag).
//!
//! clap reports a missing or malformed setting at start-up, naming the variable, before
//! anything connects or binds.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chat_api::auth::AuthConfig;
use chat_api::rate_limit::{BudgetRates, RateLimitSettings, RateSetting};
use chat_api::realtime::fanout::{FanoutKey, RedisConfig};
use chat_domain::PersonaId;
use chat_domain::direct_messages::DmSettings;
use chat_domain::support::{SupportHours, SupportSettings};
use chat_domain::webhooks::{CollectSettings, RetryPolicy};
use chat_postgres::{GroupCommitConfig, Keepalives, PoolConfig};
use clap::{Args, ValueEnum};

use crate::webhooks::{SigningSecret, WebhookSettings};

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/chat
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
}

/// Connection pool settings and the deadlines of database work (docs/operations.md).
#[derive(Debug, Clone, Copy, Args)]
pub struct PoolArgs {
    /// Pooled connections (16-32 lets PostgreSQL group commits on a small machine).
    #[arg(long, env = "CHAT_DB_POOL_SIZE", default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=512))]
    pub db_pool_size: u32,
    /// How long a request may wait for a connection, in all, before answering 503 (ms).
    #[arg(long, env = "CHAT_DB_CHECKOUT_TIMEOUT_MS", default_value_t = 2000)]
    pub db_checkout_timeout_ms: u64,
    /// How long a request's database work may take once it has a connection, commit
    /// included, before answering 503 (ms; measured by the server, not the database).
    #[arg(long, env = "CHAT_DB_TRANSACTION_TIMEOUT_MS", default_value_t = 5000)]
    pub db_transaction_timeout_ms: u64,
    /// libpq `connect_timeout` (seconds; libpq treats less than 2 as 2).
    #[arg(long, env = "CHAT_DB_CONNECT_TIMEOUT_SECS", default_value_t = 2)]
    pub db_connect_timeout_secs: u64,
    /// libpq `keepalives_idle`: seconds of silence before the first TCP keepalive.
    #[arg(long, env = "CHAT_DB_KEEPALIVES_IDLE_SECS", default_value_t = 30)]
    pub db_keepalives_idle_secs: u64,
    /// libpq `keepalives_interval`: seconds between unanswered keepalives.
    #[arg(long, env = "CHAT_DB_KEEPALIVES_INTERVAL_SECS", default_value_t = 10)]
    pub db_keepalives_interval_secs: u64,
    /// libpq `keepalives_count`: unanswered keepalives before the connection is dead.
    #[arg(long, env = "CHAT_DB_KEEPALIVES_COUNT", default_value_t = 3)]
    pub db_keepalives_count: u32,
    /// `statement_timeout` of every pooled connection (ms; 0 disables).
    #[arg(long, env = "CHAT_DB_STATEMENT_TIMEOUT_MS", default_value_t = 4000)]
    pub db_statement_timeout_ms: u64,
    /// `lock_timeout` of every pooled connection (ms; 0 disables).
    #[arg(long, env = "CHAT_DB_LOCK_TIMEOUT_MS", default_value_t = 1000)]
    pub db_lock_timeout_ms: u64,
    /// `idle_in_transaction_session_timeout` of every pooled connection (ms; 0 disables).
    #[arg(long, env = "CHAT_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", default_value_t = 10_000)]
    pub db_idle_in_transaction_timeout_ms: u64,
    /// Transactions per conversation that may hold or wait for its row lock at once, per
    /// instance, once a writer has waited half the lock timeout; more get 503 at once.
    #[arg(long, env = "CHAT_DB_CONVERSATION_WRITERS", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub db_conversation_writers: u32,
    /// How long `/readyz` waits for the database on its own connection (ms).
    #[arg(long, env = "CHAT_READYZ_TIMEOUT_MS", default_value_t = 1000)]
    pub readyz_timeout_ms: u64,
    /// Connections of a separate pool for reads (history pages, lists, the support
    /// queue), so that they never wait behind commits; 0 shares the pool.
    #[arg(long, env = "CHAT_DB_READ_POOL_SIZE", default_value_t = 8, value_parser = clap::value_parser!(u32).range(0..=512))]
    pub db_read_pool_size: u32,
    /// Group commit: sends waiting at the same moment share one transaction and one
    /// commit (`on`), or each send commits alone (`off`).
    #[arg(long, env = "CHAT_GROUP_COMMIT", value_enum, default_value_t = Switch::On)]
    pub group_commit: Switch,
    /// The most sends in one group-commit transaction.
    #[arg(long, env = "CHAT_GROUP_COMMIT_MAX_BATCH", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub group_commit_max_batch: u32,
    /// Group-commit writers, each with a connection of its own.
    #[arg(long, env = "CHAT_GROUP_COMMIT_WRITERS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub group_commit_writers: u32,
    /// How long a batch of two or more sends may wait for more (µs; a lone send never
    /// waits). At most 1 ms.
    #[arg(long, env = "CHAT_GROUP_COMMIT_MAX_WAIT_US", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub group_commit_max_wait_us: u64,
    /// How often the search index's pending entries are merged into it, on a
    /// connection of its own, so that no send does it (ms; 0: only the inserts that
    /// fill the list and autovacuum merge it).
    #[arg(long, env = "CHAT_SEARCH_INDEX_MERGE_MS", default_value_t = 1000)]
    pub search_index_merge_ms: u64,
}

impl From<PoolArgs> for PoolConfig {
    fn from(args: PoolArgs) -> Self {
        let ms = Duration::from_millis;
        Self {
            max_size: args.db_pool_size,
            checkout_timeout: ms(args.db_checkout_timeout_ms),
            transaction_timeout: ms(args.db_transaction_timeout_ms),
            connect_timeout: Duration::from_secs(args.db_connect_timeout_secs),
            keepalives: Keepalives {
                idle: Duration::from_secs(args.db_keepalives_idle_secs),
                interval: Duration::from_secs(args.db_keepalives_interval_secs),
                count: args.db_keepalives_count,
            },
            statement_timeout: ms(args.db_statement_timeout_ms),
            lock_timeout: ms(args.db_lock_timeout_ms),
            idle_in_transaction_timeout: ms(args.db_idle_in_transaction_timeout_ms),
            conversation_writers: args.db_conversation_writers as usize,
            ping_timeout: ms(args.readyz_timeout_ms),
            read_pool_size: args.db_read_pool_size,
            group_commit: (args.group_commit == Switch::On).then(|| GroupCommitConfig {
                max_batch: args.group_commit_max_batch as usize,
                max_wait: Duration::from_micros(args.group_commit_max_wait_us),
                writers: args.group_commit_writers as usize,
            }),
            search_index_merge: (args.search_index_merge_ms > 0).then(|| ms(args.search_index_merge_ms)),
            webhook_outbox: false,
        }
    }
}

/// Fan-out between instances through Redis, separate per deployment.
#[derive(Debug, Clone, Default, Args)]
pub struct FanoutArgs {
    /// Redis URL for fan-out between server instances (one instance needs none);
    /// `rediss://` connects over TLS and verifies the server's certificate.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// PEM root certificate the Redis server's certificate must chain to (`rediss://`);
    /// the system's roots when unset.
    #[arg(long, env = "CHAT_REDIS_CA_FILE", requires = "redis_url")]
    pub redis_ca_file: Option<PathBuf>,
    /// Prefix of this deployment's Redis channel (`{prefix}:events`). Default:
    /// `chat:{system_identifier}-{database oid}` of the database, so that instances on one
    /// database share a channel and two databases never do.
    #[arg(long, env = "CHAT_REDIS_CHANNEL_PREFIX")]
    pub redis_channel_prefix: Option<String>,
    /// Key (at least 32 bytes) signing this deployment's fan-out messages (HMAC-SHA256);
    /// messages that do not verify are dropped. Default: derived from CHAT_JWT_SECRET.
    #[arg(long, env = "CHAT_FANOUT_KEY", hide_env_values = true)]
    pub fanout_key: Option<String>,
}

impl FanoutArgs {
    /// Fan-out through Redis at `redis_url`, with the default prefix and key.
    pub fn redis(redis_url: &str) -> Self {
        Self { redis_url: Some(redis_url.to_owned()), ..Self::default() }
    }

    /// The Redis connection settings, with the root certificate read, if Redis is set.
    pub fn redis_config(&self) -> anyhow::Result<Option<RedisConfig>> {
        let Some(url) = &self.redis_url else { return Ok(None) };
        let root_ca_pem = match &self.redis_ca_file {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("cannot read CHAT_REDIS_CA_FILE {}: {e}", path.display()))?,
            ),
            None => None,
        };
        Ok(Some(RedisConfig { url: url.clone(), root_ca_pem }))
    }

    /// The signing key: the configured one, else one derived from the JWT secret.
    pub fn key(&self, jwt_secret: &[u8]) -> anyhow::Result<FanoutKey> {
        match &self.fanout_key {
            Some(key) => FanoutKey::new(key.as_bytes()).map_err(|e| anyhow::anyhow!("CHAT_FANOUT_KEY: {e}")),
            None => Ok(FanoutKey::derive_from(jwt_secret)),
        }
    }
}

/// Deadlines on reading a request, so that a slow client cannot hold a connection.
#[derive(Debug, Clone, Copy, Args)]
pub struct HttpArgs {
    /// Milliseconds a client may take to send a request's head (408 and close after).
    #[arg(long, env = "CHAT_HTTP_HEAD_TIMEOUT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    pub http_head_timeout_ms: u64,
    /// Milliseconds a client may take to send a request's body (408 and close after).
    #[arg(long, env = "CHAT_HTTP_BODY_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub http_body_timeout_ms: u64,
}

impl HttpArgs {
    /// The head deadline.
    pub const fn head_timeout(&self) -> Duration {
        Duration::from_millis(self.http_head_timeout_ms)
    }

    /// The body deadline.
    pub const fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.http_body_timeout_ms)
    }
}

/// How bearer tokens are verified.
#[derive(Debug, Clone, Args)]
pub struct JwtArgs {
    /// HS256 shared secret with the existing app (at least 32 bytes).
    #[arg(long, env = "CHAT_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: String,
    /// Optional RS256 public key (PEM file) accepted in addition to HS256.
    #[arg(long, env = "CHAT_JWT_RS256_PUBLIC_KEY_FILE")]
    pub jwt_rs256_public_key_file: Option<PathBuf>,
    /// Required `iss` claim, when set.
    #[arg(long, env = "CHAT_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Required `aud` claim, when set.
    #[arg(long, env = "CHAT_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// Name of the claim holding `user` or `admin`.
    #[arg(long, env = "CHAT_JWT_ROLE_CLAIM", default_value = "role")]
    pub jwt_role_claim: String,
    /// Seconds a token's user, once found, is trusted without looking again: the longest
    /// a deleted user's token keeps working.
    #[arg(long, env = "CHAT_AUTH_USER_CACHE_SECS", default_value_t = 60)]
    pub auth_user_cache_secs: u64,
}

impl JwtArgs {
    /// Reads the key file, if any, into an [`AuthConfig`].
    pub fn auth_config(&self) -> anyhow::Result<AuthConfig> {
        let rs256_public_key_pem =
            match &self.jwt_rs256_public_key_file {
                Some(path) => Some(std::fs::read(path).map_err(|e| {
                    anyhow::anyhow!("cannot read CHAT_JWT_RS256_PUBLIC_KEY_FILE {}: {e}", path.display())
                })?),
                None => None,
            };
        Ok(AuthConfig {
            hs256_secret: self.jwt_secret.as_bytes().to_vec(),
            rs256_public_key_pem,
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            role_claim: self.jwt_role_claim.clone(),
            user_cache_ttl: Duration::from_secs(self.auth_user_cache_secs),
        })
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Everything `serve` needs.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub pool: PoolArgs,
    #[command(flatten)]
    pub jwt: JwtArgs,
    /// Address to listen on.
    #[arg(long, env = "CHAT_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Browser origins allowed by CORS (comma-separated), e.g. the admin SPA's.
    #[arg(long, env = "CHAT_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// On SIGTERM, how long in-flight requests may take to finish before the process
    /// exits anyway, in seconds (sockets are closed with 1001 at once).
    #[arg(long, env = "CHAT_SHUTDOWN_TIMEOUT_SECS", default_value_t = 10)]
    pub shutdown_timeout_secs: u64,
    #[command(flatten)]
    pub fanout: FanoutArgs,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "CHAT_WORKERS")]
    pub workers: Option<usize>,
    /// Address of the Prometheus endpoint (`GET /metrics`); off when unset. Keep it
    /// private (loopback or an internal interface): it is a separate listener for that.
    #[arg(long, env = "CHAT_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,
    /// A committed send that takes this many milliseconds or more, from its request to
    /// the announcement of its events, is logged with each stage's time (target
    /// `chat::slow_send`; 0 logs every send).
    #[arg(long, env = "CHAT_SLOW_SEND_MS", default_value_t = 50)]
    pub slow_send_ms: u64,
    #[command(flatten)]
    pub rate_limits: RateLimitArgs,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub support: SupportArgs,
    #[command(flatten)]
    pub dms: DmArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    /// Apply pending migrations before serving.
    #[arg(long, env = "CHAT_MIGRATE_ON_START", default_value_t = false)]
    pub migrate: bool,
}

/// How support behaves.
#[derive(Debug, Clone, Args)]
pub struct SupportArgs {
    /// The persona new support conversations show (default: the first active support agent).
    #[arg(long, env = "CHAT_SUPPORT_PERSONA_ID")]
    pub support_persona_id: Option<i32>,
    /// Daily window (UTC, `HH:MM-HH:MM`) in which support shows as online; always when unset.
    /// The stats' first response and resolution times count only the time inside it.
    #[arg(long, env = "CHAT_SUPPORT_HOURS_UTC", value_parser = parse_hours)]
    pub support_hours_utc: Option<SupportHours>,
    /// Pending conversations with no activity for this many hours are resolved (0: never).
    #[arg(long, env = "CHAT_SUPPORT_AUTO_RESOLVE_HOURS", default_value_t = 72)]
    pub support_auto_resolve_hours: u32,
}

fn parse_hours(raw: &str) -> Result<SupportHours, String> {
    SupportHours::parse(raw).map_err(|e| e.message)
}

impl SupportArgs {
    /// The domain settings.
    pub fn settings(&self) -> SupportSettings {
        SupportSettings { default_persona: self.support_persona_id.map(PersonaId), hours: self.support_hours_utc }
    }

    /// The idle time after which pending conversations resolve, if enabled.
    pub fn auto_resolve_after(&self) -> Option<Duration> {
        (self.support_auto_resolve_hours > 0)
            .then(|| Duration::from_secs(u64::from(self.support_auto_resolve_hours) * 3600))
    }
}

/// Missed-message webhooks to the existing app (docs/webhooks.md); off unless
/// `CHAT_WEBHOOK_URL` is set.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Where digests of missed messages are posted (`https://` in production).
    #[arg(long, env = "CHAT_WEBHOOK_URL", requires = "webhook_secret")]
    pub webhook_url: Option<reqwest::Url>,
    /// The signing secret, `whsec_` and the base64 of at least 24 random bytes (Standard
    /// Webhooks); the receiver verifies `webhook-signature` with it.
    #[arg(long, env = "CHAT_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<SigningSecret>,
    /// A message read within this many seconds after it was sent causes no webhook.
    #[arg(long, env = "CHAT_WEBHOOK_READ_DELAY_SECS", default_value_t = 120)]
    pub webhook_read_delay_secs: u32,
    /// One digest per user per window of this many seconds.
    #[arg(long, env = "CHAT_WEBHOOK_WINDOW_SECS", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..))]
    pub webhook_window_secs: u32,
    /// Put the last message's text in digests (off: digests carry counts and links only).
    #[arg(long, env = "CHAT_WEBHOOK_INCLUDE_CONTENT", default_value_t = false)]
    pub webhook_include_content: bool,
    /// Attempts before a digest is parked for an admin to retry.
    #[arg(long, env = "CHAT_WEBHOOK_MAX_ATTEMPTS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub webhook_max_attempts: u32,
    /// The wait after the first failed attempt, in milliseconds; it doubles with each
    /// failure, up to an hour, with jitter.
    #[arg(long, env = "CHAT_WEBHOOK_RETRY_BASE_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_retry_base_ms: u64,
    /// How long one attempt may take, in milliseconds.
    #[arg(long, env = "CHAT_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub webhook_timeout_ms: u64,
}

impl WebhookArgs {
    /// The dispatcher's settings, if webhooks are on.
    pub fn settings(&self) -> Option<WebhookSettings> {
        let (url, secret) = (self.webhook_url.clone()?, self.webhook_secret.clone()?);
        let window = Duration::from_secs(u64::from(self.webhook_window_secs));
        let seconds = |s: u64| chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX));
        Some(WebhookSettings {
            url,
            secret,
            collect: CollectSettings {
                read_delay: seconds(u64::from(self.webhook_read_delay_secs)),
                window: seconds(window.as_secs()),
                batch: 50_000,
                include_content: self.webhook_include_content,
            },
            retry: RetryPolicy {
                max_attempts: self.webhook_max_attempts,
                first_delay: chrono::Duration::milliseconds(
                    i64::try_from(self.webhook_retry_base_ms).unwrap_or(i64::MAX),
                ),
                max_delay: chrono::Duration::hours(1),
            },
            timeout: Duration::from_millis(self.webhook_timeout_ms),
            tick: window.min(Duration::from_secs(1)),
        })
    }
}

/// How direct messages behave.
#[derive(Debug, Clone, Copy, Args)]
pub struct DmArgs {
    /// The most active (not archived) DMs a user may have when starting another.
    #[arg(long, env = "CHAT_DM_MAX_ACTIVE", default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..))]
    pub dm_max_active: i64,
    /// DMs with no message for this many days are archived for both sides (0: never).
    #[arg(long, env = "CHAT_DM_ARCHIVE_AFTER_DAYS", default_value_t = 30)]
    pub dm_archive_after_days: u32,
}

impl DmArgs {
    /// The domain settings.
    pub const fn settings(&self) -> DmSettings {
        DmSettings { max_active: self.dm_max_active }
    }

    /// The idle time after which DMs are archived, if enabled.
    pub fn archive_after(&self) -> Option<Duration> {
        (self.dm_archive_after_days > 0).then(|| Duration::from_secs(u64::from(self.dm_archive_after_days) * 86_400))
    }
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

/// Per-caller rate limits: `COUNT/PERIOD` (a bucket of COUNT requests, refilled evenly
/// over PERIOD: `20/10s`, `300/1m`) or `off`. Buckets are per instance (docs/operations.md).
#[derive(Debug, Clone, Copy, Args)]
pub struct RateLimitArgs {
    /// `off` disables every budget (load tests); `on` applies the rates below.
    #[arg(long, env = "CHAT_RATE_LIMITS", value_enum, default_value_t = Switch::On)]
    pub rate_limits: Switch,
    /// Messages a user may send (support, DMs), REST and WebSocket together.
    #[arg(long, env = "CHAT_RATE_SENDS", default_value = "30/10s")]
    pub rate_sends: RateSetting,
    /// DMs a user may start.
    #[arg(long, env = "CHAT_RATE_DM_STARTS", default_value = "20/1m")]
    pub rate_dm_starts: RateSetting,
    /// Reads (GETs, sync, resume) a user may make.
    #[arg(long, env = "CHAT_RATE_READS", default_value = "600/1m")]
    pub rate_reads: RateSetting,
    /// Messages an admin may send (support replies, persona DMs).
    #[arg(long, env = "CHAT_RATE_ADMIN_SENDS", default_value = "120/10s")]
    pub rate_admin_sends: RateSetting,
    /// DMs an admin may start.
    #[arg(long, env = "CHAT_RATE_ADMIN_DM_STARTS", default_value = "60/1m")]
    pub rate_admin_dm_starts: RateSetting,
    /// Notifications an admin may send.
    #[arg(long, env = "CHAT_RATE_NOTIFICATIONS", default_value = "30/1m")]
    pub rate_notifications: RateSetting,
    /// Reads an admin may make (the queue and DM oversight page a lot).
    #[arg(long, env = "CHAT_RATE_ADMIN_READS", default_value = "2400/1m")]
    pub rate_admin_reads: RateSetting,
}

impl RateLimitArgs {
    /// The API's settings.
    pub fn settings(&self) -> RateLimitSettings {
        if self.rate_limits == Switch::Off {
            return RateLimitSettings::default();
        }
        RateLimitSettings {
            user: BudgetRates {
                sends: self.rate_sends.0,
                dm_starts: self.rate_dm_starts.0,
                // Users cannot send notifications (403 before any budget is spent).
                notifications: None,
                reads: self.rate_reads.0,
            },
            admin: BudgetRates {
                sends: self.rate_admin_sends.0,
                dm_starts: self.rate_admin_dm_starts.0,
                notifications: self.rate_notifications.0,
                reads: self.rate_admin_reads.0,
            },
        }
    }
}
