//! `chat-server`: serve the API (draining on SIGTERM), check its health, migrate, seed
//! demo data, print the OpenAPI document, and mint development tokens.

use std::io::IsTerminal;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use chat_api::ApiSettings;
use chat_api::auth::{DevClaims, mint_token};
use chat_server::config::{DatabaseArgs, JwtArgs, LogFormat, ServeArgs};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "chat-server", version, about = "Support chat, direct messages and admin notifications.")]
struct Cli {
    /// Log format.
    #[arg(long, env = "CHAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the REST API.
    Serve(Box<ServeArgs>),
    /// Create the database if needed and apply pending migrations.
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
        /// An existing app's own notices (`is_notification = TRUE` rows that belong to no
        /// notification): `refuse` stops and names them, `keep` keeps them as they are
        /// (docs/migration.md).
        #[arg(long, value_enum, default_value_t = OldNoticesArg::Refuse)]
        old_notices: OldNoticesArg,
    },
    /// Write demo users, admins, personas and groups (idempotent) and print their tokens.
    SeedDemo {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        jwt: JwtArgs,
    },
    /// Print the OpenAPI document (the committed openapi/openapi.json).
    Openapi,
    /// Exit 0 when the server listening on CHAT_BIND answers `GET /readyz` with 200 (a
    /// container HEALTHCHECK), else 1.
    Healthcheck {
        /// The address `serve` listens on (a wildcard address is probed on loopback).
        #[arg(long, env = "CHAT_BIND", default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        /// How long to wait for the answer, in milliseconds (more than the 2 s that
        /// `/readyz` may wait for a database connection).
        #[arg(long, default_value_t = 4000)]
        timeout_ms: u64,
    },
    /// Move the group-based support history into support conversations, verify, roll
    /// back, clean up (docs/migration.md).
    #[command(subcommand)]
    Legacy(chat_server::legacy::LegacyCommand),
    /// DEVELOPMENT ONLY: mint a token signed with the configured HS256 secret. In
    /// production, tokens come from the existing app.
    Token {
        #[command(flatten)]
        jwt: JwtArgs,
        /// The user id (`sub`).
        #[arg(long)]
        user_id: i32,
        /// Mint an admin token.
        #[arg(long)]
        admin: bool,
        /// Lifetime in hours.
        #[arg(long, default_value_t = 24)]
        hours: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Migrate { database, old_notices } => migrate(&database.database_url, old_notices.into()),
        Command::SeedDemo { database, jwt } => seed_demo(&database.database_url, &jwt),
        Command::Legacy(command) => chat_server::legacy::run(command),
        Command::Healthcheck { bind, timeout_ms } => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(chat_server::healthcheck::check(bind, Duration::from_millis(timeout_ms))),
        Command::Openapi => {
            print!("{}", chat_api::openapi_json());
            Ok(())
        }
        Command::Token { jwt, user_id, admin, hours } => {
            println!("{}", token(&jwt, user_id, admin, hours)?);
            Ok(())
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal: escape codes garble files and collectors.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// `--old-notices` of `chat-server migrate`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum OldNoticesArg {
    /// Stop and name them.
    Refuse,
    /// Keep them as they are.
    Keep,
}

impl From<OldNoticesArg> for chat_postgres::OldNotices {
    fn from(arg: OldNoticesArg) -> Self {
        match arg {
            OldNoticesArg::Refuse => Self::Refuse,
            OldNoticesArg::Keep => Self::Keep,
        }
    }
}

fn migrate(database_url: &str, old_notices: chat_postgres::OldNotices) -> anyhow::Result<()> {
    if chat_postgres::ensure_database(database_url)? {
        tracing::info!("created the database");
    }
    let options = chat_postgres::MigrateOptions { old_notices };
    let applied = chat_postgres::run_migrations_with(database_url, &options)?;
    tracing::info!(count = applied.len(), ?applied, "migrations applied");
    Ok(())
}

fn seed_demo(database_url: &str, jwt: &JwtArgs) -> anyhow::Result<()> {
    let demo = chat_postgres::seed_demo(database_url)?;
    println!("Demo accounts (DEVELOPMENT tokens, valid 24 hours):");
    for user in demo.users {
        let role = if user.is_admin { "admin" } else { "user" };
        let token = token(jwt, user.id, user.is_admin, 24)?;
        println!("  {:<6} id={:<3} role={role:<5} Authorization: Bearer {token}", user.username, user.id);
    }
    Ok(())
}

fn token(jwt: &JwtArgs, user_id: i32, admin: bool, hours: u64) -> anyhow::Result<String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).context("clock before 1970")?;
    let claims = DevClaims {
        sub: user_id.to_string(),
        role: if admin { "admin" } else { "user" }.to_owned(),
        exp: (now + Duration::from_secs(hours * 3600)).as_secs(),
        iss: jwt.jwt_issuer.clone(),
        aud: jwt.jwt_audience.clone(),
    };
    Ok(mint_token(jwt.jwt_secret.as_bytes(), &claims)?)
}

#[actix_web::main]
async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    if args.migrate {
        migrate(&args.database.database_url, chat_postgres::OldNotices::Refuse)?;
    }
    let auth = args.jwt.auth_config()?;
    let settings = ApiSettings {
        cors_allowed_origins: args.cors_origins.clone(),
        support: args.support.settings(),
        dms: args.dms.settings(),
        rate_limits: args.rate_limits.settings(),
        head_timeout: args.http.head_timeout(),
        body_timeout: args.http.body_timeout(),
        slow_send: Duration::from_millis(args.slow_send_ms),
    };
    let webhooks = args.webhooks.settings();
    let mut pool: chat_postgres::PoolConfig = args.pool.into();
    pool.webhook_outbox = webhooks.is_some();
    let store = chat_postgres::PgStore::new(&args.database.database_url, pool);
    let metrics = match args.metrics_bind {
        Some(address) => {
            let listener = TcpListener::bind(address)
                .with_context(|| format!("cannot listen on {address} (CHAT_METRICS_BIND)"))?;
            let handle = chat_server::telemetry::install_recorder()?;
            tracing::info!(address = %address, "metrics at /metrics");
            Some(chat_server::telemetry::metrics_server(listener, handle, store.clone())?)
        }
        None => None,
    };
    let state = chat_server::app_state_on(store, &auth, settings, &args.fanout)?;
    actix_web::rt::spawn(chat_server::maintenance_loop(
        state.store.clone(),
        state.events.clone(),
        state.hub.notice_deliveries().clone(),
        state.settings.support.hours,
        args.support.auto_resolve_after(),
        args.dms.archive_after(),
    ));
    if let Some(webhooks) = webhooks {
        tracing::info!(url = %webhooks.url, "missed-message webhooks on");
        actix_web::rt::spawn(chat_server::webhooks::webhook_loop(state.store.clone(), webhooks));
    }
    let hub = state.hub.clone();
    let listener = TcpListener::bind(args.bind).with_context(|| format!("cannot listen on {}", args.bind))?;
    let shutdown_timeout = Duration::from_secs(args.shutdown_timeout_secs);
    let server = chat_server::server(listener, state, args.workers, shutdown_timeout)?;
    actix_web::rt::spawn(chat_server::shut_down_on_signal(hub, server.handle())?);
    tracing::info!(address = %args.bind, docs = %format!("http://{}/docs/", args.bind), "serving");
    if let Some(metrics) = metrics {
        // Stops with the process (its own signal handling is off: the API server's
        // drain decides when the process ends).
        actix_web::rt::spawn(metrics);
    }
    server.await?;
    tracing::info!("stopped");
    Ok(())
}
