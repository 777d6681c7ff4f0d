//! The `tickwire` command: `tickwire serve` runs the server with the built-in
//! arena game; `tickwire config` prints the effective configuration.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use tickwire::config::{ConfigLayer, LogFormat};
use tickwire::{Arena, Config};

#[derive(Parser, Debug)]
#[command(
    name = "tickwire",
    version,
    about = "Authoritative game-state sync server over WebSocket",
    after_help = "Settings come from built-in defaults, then --config FILE (TOML), then \
                  TICKWIRE_* environment variables, then flags; later wins. \
                  See tickwire.example.toml for every key."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs the server with the built-in arena game (scenario arena-v1).
    Serve(Settings),
    /// Prints the effective configuration (defaults, file, environment, flags) as TOML.
    Config(Settings),
}

#[derive(clap::Args, Debug)]
struct Settings {
    /// A TOML configuration file.
    #[arg(long, env = "TICKWIRE_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    layer: ConfigLayer,
}

impl Settings {
    /// The effective configuration; an invalid value exits with code 2, naming its key.
    fn load(&self) -> Config {
        match Config::load(self.config.as_deref(), &self.layer) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("tickwire: {e}");
                std::process::exit(2);
            }
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Config(settings) => {
            print!("{}", settings.load().to_toml());
            Ok(())
        }
        Command::Serve(settings) => {
            let config = settings.load();
            init_logging(&config);
            serve(config)
        }
    }
}

fn init_logging(config: &Config) {
    // RUST_LOG, when set, refines the configured filter.
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| config.log_filter.clone());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    tickwire::net::raise_open_file_limit();
    let bind = config.bind;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tickwire-net")
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let server = tickwire::net::start::<Arena>(config)
            .await
            .with_context(|| format!("binding {bind}"))?;
        println!(
            "tickwire listening on ws://{}/ws (arena-v1, Ctrl-C to stop)",
            server.local_addr()
        );
        shutdown_signal().await;
        tracing::info!("shutting down");
        server.shutdown().await;
        anyhow::Ok(())
    })?;
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
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
