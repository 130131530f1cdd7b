//! `chat-bench`: scenarios against a running contender, and the bare relay.

use chat_bench::scenarios::{self, Env};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "chat-bench", about = "Open-loop benchmarks of the chat service; see docs/performance.md.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the bare WebSocket relay (the limit) until killed.
    Relay {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:9100")]
        bind: std::net::SocketAddr,
    },
    /// S1: hold N idle authenticated sockets.
    Idle {
        #[command(flatten)]
        env: Env,
        #[command(flatten)]
        args: scenarios::idle::IdleArgs,
    },
    /// S2 (open loop, `--rate`) / S2b (closed loop, `--workers`): sends with receivers online.
    Send {
        #[command(flatten)]
        env: Env,
        #[command(flatten)]
        args: scenarios::send::SendArgs,
    },
    /// S3/S4/S5: reads.
    Read {
        #[command(flatten)]
        env: Env,
        #[command(flatten)]
        args: scenarios::reads::ReadArgs,
    },
    /// S6: a notice to 1, 1,000 and all online users; first and last delivery, fan-out rate.
    Notices {
        #[command(flatten)]
        env: Env,
        #[command(flatten)]
        args: scenarios::notices::NoticeArgs,
    },
    /// S7: reconnect storm with resume.
    Storm {
        #[command(flatten)]
        env: Env,
        #[command(flatten)]
        args: scenarios::storm::StormArgs,
    },
    /// Typing relayed between pairs of users, at stepped rates.
    Typing {
        #[command(flatten)]
        env: Env,
        #[command(flatten)]
        args: scenarios::typing::TypingArgs,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let passed = runtime.block_on(async {
        match cli.command {
            Command::Relay { bind } => {
                let listener = tokio::net::TcpListener::bind(bind).await?;
                eprintln!("relay listening on {bind}");
                chat_bench::relay::serve(listener).await?;
                Ok::<bool, anyhow::Error>(true)
            }
            Command::Idle { env, args } => scenarios::idle::run(&env, &args).await,
            Command::Send { env, args } => scenarios::send::run(&env, &args).await,
            Command::Read { env, args } => scenarios::reads::run(&env, &args).await,
            Command::Notices { env, args } => scenarios::notices::run(&env, &args).await,
            Command::Storm { env, args } => scenarios::storm::run(&env, &args).await,
            Command::Typing { env, args } => scenarios::typing::run(&env, &args).await,
        }
    })?;
    // Sockets still open are dropped with the runtime.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    if !passed {
        eprintln!("chat-bench: a correctness gate failed");
        std::process::exit(2);
    }
    Ok(())
}
