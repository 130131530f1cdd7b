//! Black-box tests of the HTTP API: the real app on port 0, each test with a database
//! of its own on a real PostgreSQL.

#![expect(clippy::unwrap_used, reason = "test helpers: a panic is a test failure")]

mod append_model;
mod auth;
mod chat_list;
mod deadlines;
mod deploys;
mod direct_messages;
mod dm_isolation;
mod errors;
mod fanout;
mod group_commit;
mod groups;
mod legacy_cleanup;
mod legacy_old_app;
mod legacy_support;
mod migrations;
mod notes;
mod notifications;
mod notifications_isolation;
mod notifications_schema;
mod openapi;
mod operations;
mod personas;
mod plans;
mod read_pool;
mod realtime;
mod search_index;
mod slow_bodies;
mod slow_send;
mod stats;
mod support;
mod support_isolation;
mod tls;
mod two_doors;
mod typing;
mod webhooks;
