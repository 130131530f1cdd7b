//! Rebuilds the crate when a migration changes: `embed_migrations!` reads the SQL at
//! compile time, and cargo does not know about those files otherwise.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
    println!("cargo:rerun-if-changed=../../migrations-legacy-cleanup");
}
