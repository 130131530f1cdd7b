//! The PostgreSQL adapter: diesel and r2d2 behind the chat-domain ports.
//!
//! All blocking database work stays in this crate. [`PgStore`] implements the domain's
//! unit-of-work [`Store`](chat_domain::store::Store): each use case gets one pooled
//! connection on a blocking thread and one transaction, through [`PgTx`], which
//! implements every repository port.

mod conversations;
mod direct_messages;
mod error;
pub mod explain;
mod group_members;
mod group_messages;
pub mod health;
pub mod legacy;
mod libpq;
mod messages;
mod migrations;
mod moderation;
mod notes;
mod notifications;
mod personas;
mod prepared;
mod replay;
mod schema;
mod search;
mod seed;
mod stats;
mod store;
mod support;
mod tx;
mod users;
mod webhooks;

pub use self::libpq::establish;
pub use self::migrations::{
    MigrateOptions, MigrationError, OldNotices, ensure_database, revert_all_migrations, run_migrations,
    run_migrations_with,
};
pub use self::seed::{DemoData, DemoUser, SeedError, seed_demo};
pub use self::store::{
    GroupCommitConfig, Keepalives, PgStore, PoolConfig, SearchMerge, SupportQueueGauges, merge_search_pending,
};
pub use self::tx::PgTx;
