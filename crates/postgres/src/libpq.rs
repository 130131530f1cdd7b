//! Opening libpq connections: every connection of this crate starts here.
//!
//! libpq does TLS through OpenSSL, and OpenSSL by default registers an `atexit` handler
//! that frees its global state. A process that exits while another thread is still in a
//! handshake or holds a TLS connection (a pool's worker, a test's server) then frees that
//! state under the other thread: "double free or corruption" at exit, seen in CI. Setting
//! OpenSSL up first with `OPENSSL_INIT_NO_ATEXIT`, which is what `openssl_sys::init`
//! does, leaves that memory to the operating system. The first initialisation decides, so
//! it must run before libpq's own.

use diesel::{Connection, ConnectionResult, PgConnection};

/// Sets OpenSSL up without its exit handler; cheap and idempotent.
pub(crate) fn init_tls() {
    openssl_sys::init();
}

/// Opens one connection to `database_url`.
pub fn establish(database_url: &str) -> ConnectionResult<PgConnection> {
    init_tls();
    PgConnection::establish(database_url)
}
