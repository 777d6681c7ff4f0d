//! The `tickwire` command: `tickwire serve` runs the server with the built-in
//! arena game.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use tickwire::{Arena, Config};

#[derive(Parser, Debug)]
#[command(
    name = "tickwire",
    version,
    about = "Authoritative game-state sync server over WebSocket"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs the server with the built-in arena game (scenario arena-v1).
    Serve(ServeArgs),
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Address to listen on for HTTP and WebSocket (`GET /ws`).
    #[arg(long, default_value = "127.0.0.1:7777", env = "TICKWIRE_BIND")]
    bind: SocketAddr,
    /// Simulation ticks (and snapshots) per second.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u16).range(1..=240), env = "TICKWIRE_TICK_RATE")]
    tick_rate: u16,
    /// Most players in one match.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024), env = "TICKWIRE_PLAYERS_PER_MATCH")]
    players_per_match: u16,
    /// OS threads running match simulations [default: half the cores, at least 1].
    #[arg(long, env = "TICKWIRE_TICK_THREADS")]
    tick_threads: Option<usize>,
    /// Seconds an empty match lives before it ends.
    #[arg(long, default_value_t = 10, env = "TICKWIRE_EMPTY_MATCH_GRACE")]
    empty_match_grace: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match cli.command {
        Command::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let defaults = Config::default();
    let config = Config {
        bind: args.bind,
        tick_rate: args.tick_rate,
        players_per_match: args.players_per_match,
        tick_threads: args.tick_threads.unwrap_or(defaults.tick_threads).max(1),
        empty_match_grace: std::time::Duration::from_secs(args.empty_match_grace),
        ..defaults
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tickwire-net")
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let server = tickwire::net::start::<Arena>(config)
            .await
            .with_context(|| format!("binding {}", args.bind))?;
        println!(
            "tickwire listening on ws://{}/ws (arena-v1, Ctrl-C to stop)",
            server.local_addr()
        );
        shutdown_signal().await;
        tracing::info!("shutting down");
        server.shutdown().await;
        anyhow::Ok(())
    })?;
    // Give writers a moment to flush their close frames before the runtime goes.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
