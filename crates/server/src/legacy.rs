//! `chat-server legacy ...`: the operator commands that move the group-based support
//! history into support conversations (runbook: docs/migration.md).
//!
//! Exit codes: 0 done (or nothing to do), 1 failure (database unreachable, SQL error),
//! 2 bad usage, 3 verification found differences, 4 refused (the message says why).

use std::io::Write;
use std::time::Instant;

use chat_postgres::legacy::{
    self, CleanupOutcome, Cohort, ExecuteOptions, ExecuteOutcome, LegacyError, Policies, Report, RowPolicy,
};
use clap::{Args, Subcommand, ValueEnum};

use crate::config::DatabaseArgs;

/// Exit code: verification found differences.
pub const EXIT_DIFFERENCES: i32 = 3;
/// Exit code: the command refused to run.
pub const EXIT_REFUSED: i32 = 4;

/// Exit code: preflight found problems that block the migration.
pub const EXIT_PREFLIGHT: i32 = 5;

/// The `legacy` command group.
#[derive(Debug, Subcommand)]
pub enum LegacyCommand {
    /// Read the old database as it is and name every row that would stop or distort the
    /// move, with the remedy per kind (exit 5 while something blocks). Every other
    /// command runs it first.
    Preflight {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        policies: PolicyArgs,
    },
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
        /// Chunks moved at once, each on its own database connection.
        #[arg(long, default_value_t = ExecuteOptions::WORKERS)]
        workers: usize,
        #[command(flatten)]
        policies: PolicyArgs,
        #[command(flatten)]
        cohort: CohortArgs,
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
        /// Put the old column, groups and rows back from the archives.
        #[arg(long, conflicts_with = "cohort")]
        revert: bool,
        /// Only the old rows of the users already on the new support (a verified
        /// cohort), archived; the groups and the other users' rows stay.
        #[arg(long)]
        cohort: bool,
    },
    /// Fill the database with old-style support data (testing and measuring only).
    Fixture(FixtureArgs),
}

/// A row policy on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PolicyArg {
    /// Move as a notice from the support team.
    Notice,
    /// Move hidden (kept for audit, not shown to the user).
    Hidden,
    /// Leave in place and report (archived by the cleanup).
    Skip,
}

impl From<PolicyArg> for RowPolicy {
    fn from(arg: PolicyArg) -> Self {
        match arg {
            PolicyArg::Notice => Self::Notice,
            PolicyArg::Hidden => Self::Hidden,
            PolicyArg::Skip => Self::Skip,
        }
    }
}

/// The operator's choices for rows without an exact place in the new schema, and time.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Rows with sender_type 'system'.
    #[arg(long, value_enum, default_value_t = PolicyArg::Notice)]
    system_messages: PolicyArg,
    /// Old notices (is_notification = TRUE) inside support threads.
    #[arg(long, value_enum, default_value_t = PolicyArg::Notice)]
    support_notices: PolicyArg,
    /// The zone `timestamp without time zone` columns are read in (default: the
    /// database's TimeZone).
    #[arg(long)]
    time_zone: Option<String>,
    /// A thread whose last message is older than this many days arrives resolved.
    #[arg(long, default_value_t = 30)]
    resolve_after_days: u32,
}

impl PolicyArgs {
    fn policies(&self) -> Policies {
        Policies {
            system_messages: self.system_messages.into(),
            support_notices: self.support_notices.into(),
            time_zone: self.time_zone.clone(),
            resolve_after_days: self.resolve_after_days,
        }
    }
}

/// Whose support moves (gradual rollout); default everyone.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub struct CohortArgs {
    /// These users (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    user_ids: Option<Vec<i32>>,
    /// The members of this group.
    #[arg(long)]
    group_id: Option<i32>,
    /// The users whose id % 100 is below this number (10, then 100 for the rest).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=100))]
    percent: Option<u8>,
}

impl CohortArgs {
    fn cohort(&self) -> Cohort {
        match (&self.user_ids, self.group_id, self.percent) {
            (Some(ids), _, _) => Cohort::Users(ids.clone()),
            (_, Some(group), _) => Cohort::Group(group),
            (_, _, Some(share)) => Cohort::Percent(share),
            _ => Cohort::All,
        }
    }
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
        LegacyCommand::Preflight { database, policies } => {
            let found = legacy::preflight(&database.database_url, &policies.policies())?;
            print!("{found}");
            Ok(if found.blocking().is_empty() { 0 } else { EXIT_PREFLIGHT })
        }
        LegacyCommand::MigrateSupport { database, execute, batch_rows, workers, policies, cohort, .. } => {
            let options = ExecuteOptions {
                policies: policies.policies(),
                cohort: cohort.cohort(),
                batch_rows,
                workers,
                ..ExecuteOptions::default()
            };
            if execute {
                migrate(&database.database_url, &options)
            } else {
                let report = legacy::report_with(&database.database_url, &options.policies, &options.cohort)?;
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
        LegacyCommand::CleanupSupport { database, cohort: true, .. } => {
            let done = legacy::cleanup_cohort(&database.database_url)?;
            println!(
                "cohort cleanup applied: {} old support messages and {} rows of other tables archived and removed \
                 (restore with --revert)",
                done.messages, done.other_rows
            );
            Ok(0)
        }
        LegacyCommand::CleanupSupport { database, revert, .. } => {
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
            println!(
                "fixture: the old app's schema and rows (time zone Europe/Berlin); next: chat-server legacy preflight"
            );
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

fn migrate(database_url: &str, options: &ExecuteOptions) -> Result<i32, LegacyError> {
    let started = Instant::now();
    let outcome = legacy::execute(database_url, options, &mut |p| {
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
    println!("users still on the old support (not in a migrated cohort): {}", report.users_pending);
    if !report.unfinished_batches.is_empty() {
        println!("unfinished batches (resume with --execute): {:?}", report.unfinished_batches);
    }
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
    let _ = writeln!(
        out,
        "times:                            {}",
        if report.local_time {
            format!("chat_messages.created_at is local time (no time zone), read in {}", report.time_zone)
        } else {
            "chat_messages.created_at has a time zone; moved as is".to_owned()
        }
    );
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
