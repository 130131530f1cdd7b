//! `chat-server legacy ...`: the operator commands that move the group-based support
//! history into support conversations (runbook: docs/migration.md).
//!
//! Exit codes: 0 done (or nothing to do), 1 failure (database unreachable, SQL error),
//! 2 bad usage, 3 verification found differences, 4 refused (the message says why).

use std::io::Write;
use std::time::Instant;

use chat_postgres::legacy::{self, CleanupOutcome, ExecuteOptions, ExecuteOutcome, LegacyError, Report};
use clap::{Args, Subcommand};

use crate::config::DatabaseArgs;

/// Exit code: verification found differences.
pub const EXIT_DIFFERENCES: i32 = 3;
/// Exit code: the command refused to run.
pub const EXIT_REFUSED: i32 = 4;

/// The `legacy` command group.
#[derive(Debug, Subcommand)]
pub enum LegacyCommand {
    /// Move the old support messages into per-user support conversations (dry run by
    /// default: prints the report and changes nothing).
    MigrateSupport {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Only report (the default).
        #[arg(long, conflicts_with = "execute")]
        dry_run: bool,
        /// Move the messages (resumes an interrupted run; moves nothing twice).
        #[arg(long)]
        execute: bool,
        /// Rows per transaction (users are never split across transactions).
        #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(i64).range(1..))]
        batch_rows: i64,
    },
    /// Compare every user's old and new side (count and checksum); exit 3 on a difference.
    VerifySupport {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Remove what a migration batch created and reactivate the old support groups.
    RollbackSupport {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The batch id (printed by migrate-support --execute).
        #[arg(long)]
        batch: i64,
    },
    /// Drop the old support column and groups (archived); refuses before verification.
    CleanupSupport {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Put the old column, groups and rows back from the archive.
        #[arg(long)]
        revert: bool,
    },
    /// Fill the database with old-style support data (testing and measuring only).
    Fixture(FixtureArgs),
}

/// Fixture size.
#[derive(Debug, Args)]
pub struct FixtureArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// Users to create.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(i32).range(100..))]
    users: i32,
    /// Old support messages to create.
    #[arg(long, default_value_t = 100_000)]
    messages: i64,
    /// Instead: write an existing app's schema and rows in the plan's style (TIMESTAMP
    /// without time zone, Europe/Berlin, nullable columns, a reactions table, old
    /// notices) into an EMPTY database, before `chat-server migrate`.
    #[arg(long, conflicts_with_all = ["users", "messages"])]
    old_app: bool,
}

/// Runs a legacy command and exits with its code.
pub fn run(command: LegacyCommand) -> anyhow::Result<()> {
    let code = match dispatch(command) {
        Ok(code) => code,
        Err(LegacyError::Refused(why)) => {
            eprintln!("refused: {why}");
            EXIT_REFUSED
        }
        Err(e) => return Err(e.into()),
    };
    std::io::stdout().flush()?;
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

fn dispatch(command: LegacyCommand) -> Result<i32, LegacyError> {
    match command {
        LegacyCommand::MigrateSupport { database, execute, batch_rows, .. } => {
            if execute {
                migrate(&database.database_url, batch_rows)
            } else {
                let report = legacy::report(&database.database_url)?;
                // A reader that stops early (`| head`) is not an error.
                let _ = std::io::stdout().write_all(render_report(&report).as_bytes());
                Ok(0)
            }
        }
        LegacyCommand::VerifySupport { database } => verify(&database.database_url),
        LegacyCommand::RollbackSupport { database, batch } => {
            let s = legacy::rollback(&database.database_url, batch)?;
            println!(
                "batch {}: rolled back\n  messages removed: {}\n  conversations removed: {}\n  \
                 conversations restored as they were: {}\n  conversations kept (new messages since the move, \
                 recomputed): {}\n  old support groups reactivated: {}",
                s.batch,
                s.messages_removed,
                s.conversations_removed,
                s.conversations_restored,
                s.conversations_kept,
                s.groups_reactivated
            );
            Ok(0)
        }
        LegacyCommand::CleanupSupport { database, revert } => {
            let (outcome, done, nothing) = if revert {
                (legacy::revert_cleanup(&database.database_url)?, "cleanup reverted", "cleanup was not applied")
            } else {
                (legacy::cleanup(&database.database_url)?, "cleanup applied", "cleanup was already applied")
            };
            println!("{}", if outcome == CleanupOutcome::Done { done } else { nothing });
            Ok(0)
        }
        LegacyCommand::Fixture(args) if args.old_app => {
            legacy::old_app_fixture(&args.database.database_url)?;
            println!("fixture: the old app's schema and rows (time zone Europe/Berlin); next: chat-server legacy preflight");
            Ok(0)
        }
        LegacyCommand::Fixture(args) => {
            let started = Instant::now();
            let spec = legacy::FixtureSpec { users: args.users, messages: args.messages };
            let s = legacy::fixture(&args.database.database_url, spec)?;
            println!(
                "fixture: {} users, {} old support messages, {} new-style support conversations ({:.1} s)",
                s.users,
                s.messages,
                s.conversations,
                started.elapsed().as_secs_f64()
            );
            Ok(0)
        }
    }
}

fn migrate(database_url: &str, batch_rows: i64) -> Result<i32, LegacyError> {
    let started = Instant::now();
    let options = ExecuteOptions { batch_rows, ..ExecuteOptions::default() };
    let outcome = legacy::execute(database_url, &options, &mut |p| {
        println!(
            "batch {}: chunk {} committed, {}/{} users, {} messages moved ({:.1} s)",
            p.batch,
            p.chunks,
            p.users,
            p.users_total,
            p.moved,
            started.elapsed().as_secs_f64()
        );
    })?;
    match outcome {
        ExecuteOutcome::NothingToDo { moved_before } => {
            println!(
                "nothing to move: every movable message was moved already ({moved_before} moved by earlier batches); no row was changed"
            );
        }
        ExecuteOutcome::Finished { batch, resumed } => {
            println!(
                "batch {}{}: finished in {:.1} s\n  users: {}\n  messages moved: {}\n  conversations created: {}\n  \
                 unmovable messages left in place: {}\n  checksum: {}\n  old support groups deactivated: {:?}\n\
                 next: chat-server legacy verify-support",
                batch.id,
                if resumed { " (resumed)" } else { "" },
                started.elapsed().as_secs_f64(),
                batch.users_migrated,
                batch.messages_migrated,
                batch.conversations_created,
                batch.messages_unmovable,
                batch.checksum.as_deref().unwrap_or("-"),
                batch.deactivated_group_ids,
            );
        }
    }
    Ok(0)
}

fn verify(database_url: &str) -> Result<i32, LegacyError> {
    let report = legacy::verify(database_url)?;
    println!("users compared: {}", report.users_checked);
    for d in &report.differences {
        println!(
            "DIFFERS user {}: old {} messages (checksum {}), new {} messages (checksum {})",
            d.user_id,
            d.old_count,
            d.old_checksum.as_deref().unwrap_or("-"),
            d.new_count,
            d.new_checksum.as_deref().unwrap_or("-")
        );
    }
    println!("moved messages outside their owner's conversation: {}", report.misplaced);
    println!("conversations with broken positions: {}", report.broken_sequences);
    if !report.left_in_place.is_empty() {
        let rows: i64 = report.left_in_place.iter().map(|u| u.rows).sum();
        println!(
            "note: {} users have {rows} attributed rows that cannot move and stayed in the old tables \
             (see the dry-run report for ids and reasons):",
            report.left_in_place.len()
        );
        for u in &report.left_in_place {
            println!("LEFT IN PLACE user {}: {} rows", u.user_id, u.rows);
        }
    }
    if report.passed() {
        println!("verification passed; batches marked verified: {:?}", report.verified_batches);
        Ok(0)
    } else {
        println!("verification FAILED: {} users differ", report.differences.len());
        Ok(EXIT_DIFFERENCES)
    }
}

/// The dry-run report, as printed.
pub fn render_report(report: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let existing = report.users.iter().filter(|u| u.conversation_id.is_some()).count();
    let _ = writeln!(out, "support migration dry run: nothing was changed");
    let _ = writeln!(out, "old support rows in scope:        {}", report.in_scope);
    let _ = writeln!(out, "users found:                      {}", report.users.len());
    let _ = writeln!(out, "  with a support conversation:    {existing} (reused)");
    let _ = writeln!(out, "conversations to create:          {}", report.conversations_to_create());
    let _ = writeln!(out, "messages to move:                 {}", report.messages_to_move());
    let _ = writeln!(out, "messages moved already:           {}", report.messages_moved());
    let _ = writeln!(out, "unmovable messages (left in place): {}", report.unmovable.len());
    let _ = writeln!(out, "old support groups to deactivate: {:?}", report.active_support_groups);
    let _ = writeln!(out, "\nper user: user_id | messages | movable | moved | to move | conversation | persona");
    for u in &report.users {
        let conversation = u.conversation_id.map_or_else(|| "new".to_owned(), |id| format!("existing {id}"));
        let persona = match (u.persona_id, &u.persona_name) {
            (Some(id), Some(name)) => format!("{id} {name:?}"),
            _ => "none (shown as Support)".to_owned(),
        };
        let _ = writeln!(
            out,
            "{} {:?} | {} | {} | {} | {} | {conversation} | {persona}",
            u.user_id,
            u.display_name,
            u.messages,
            u.movable,
            u.moved,
            u.pending()
        );
    }
    let _ = writeln!(out, "\nunmovable messages by reason (chat_messages id, or id:owner):");
    let mut reasons: Vec<&str> = report.unmovable.iter().map(|u| u.reason.as_str()).collect();
    reasons.dedup();
    for reason in reasons {
        let ids: Vec<String> = report
            .unmovable
            .iter()
            .filter(|u| u.reason == reason)
            .map(|u| u.owner.map_or_else(|| u.id.to_string(), |owner| format!("{}:{owner}", u.id)))
            .collect();
        let _ = writeln!(out, "{reason} ({}): {}", ids.len(), ids.join(", "));
    }
    out
}
