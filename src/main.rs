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
                std::process::exit(EXIT_INVALID_CONFIG);
            }
        }
    }
}

/// Exit codes, as README.md documents them.
const EXIT_INVALID_CONFIG: i32 = 2;
const EXIT_CANNOT_LISTEN: i32 = 3;

/// Parses the command line; a bad value that came from a `TICKWIRE_*`
/// variable is reported under that variable's name (clap names the flag,
/// which the user never typed).
fn parse_cli() -> Cli {
    let error = match Cli::try_parse() {
        Ok(cli) => return cli,
        Err(e) => e,
    };
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        let flag = match error.get(ContextKind::InvalidArg) {
            Some(ContextValue::String(arg)) => {
                arg.split_whitespace().next().unwrap_or("").to_string()
            }
            _ => String::new(),
        };
        let typed = std::env::args().any(|a| a == flag || a.starts_with(&format!("{flag}=")));
        if let Some(name) = flag.strip_prefix("--") {
            let variable = format!("TICKWIRE_{}", name.replace('-', "_").to_uppercase());
            if let (false, Ok(value)) = (typed, std::env::var(&variable)) {
                eprintln!(
                    "tickwire: invalid value {value:?} in the environment variable {variable} \
                     (the setting --{name})"
                );
                std::process::exit(EXIT_INVALID_CONFIG);
            }
        }
    }
    error.exit()
}

fn main() -> anyhow::Result<()> {
    let cli = parse_cli();
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
    use std::io::IsTerminal;
    use tracing_subscriber::filter::{FilterExt, LevelFilter};
    use tracing_subscriber::layer::{Layer, SubscriberExt};
    use tracing_subscriber::util::SubscriberInitExt;
    // RUST_LOG, when set, refines the configured filter.
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| config.log_filter.clone());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log_filter));
    // tungstenite logs frame contents (text, close reasons: a peer's bytes,
    // CR/LF included) at debug and trace: those lines could forge log lines,
    // so its targets never go below info, whatever the filter says. The
    // TRACE hint keeps the combined hint the EnvFilter's own: with no hint,
    // `log`'s static max level would open, and every `log::trace!` on the
    // frame path would reach the filters.
    let peer_text = tracing_subscriber::filter::filter_fn(|meta| {
        !meta.target().starts_with("tungstenite") && !meta.target().starts_with("tokio_tungstenite")
            || *meta.level() <= tracing::Level::INFO
    })
    .with_max_level_hint(LevelFilter::TRACE);
    let filter = filter.and(peer_text);
    // Colour only for a person at a terminal, and never with NO_COLOR.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let registry = tracing_subscriber::registry();
    match config.log_format {
        LogFormat::Human => registry.with(layer.with_filter(filter)).init(),
        LogFormat::Json => registry.with(layer.json().with_filter(filter)).init(),
    }
    // `init` bridges the `log` crate (tungstenite logs through it) with its
    // max level wide open, so every disabled `log::trace!` on the frame path
    // would still reach the filters: close it to what the filter can enable.
    let level = LevelFilter::current();
    log::set_max_level(match level {
        LevelFilter::OFF => log::LevelFilter::Off,
        LevelFilter::ERROR => log::LevelFilter::Error,
        LevelFilter::WARN => log::LevelFilter::Warn,
        LevelFilter::INFO => log::LevelFilter::Info,
        LevelFilter::DEBUG => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    });
    debug_assert!(
        level <= config_level_hint(config),
        "the log level hint opened wider than the filter"
    );
}

/// The most verbose level the configured filter (or RUST_LOG) can enable.
fn config_level_hint(config: &Config) -> tracing_subscriber::filter::LevelFilter {
    use tracing_subscriber::layer::Filter;
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| config.log_filter.clone());
    tracing_subscriber::EnvFilter::try_new(&filter)
        .ok()
        .and_then(|f| {
            <tracing_subscriber::EnvFilter as Filter<tracing_subscriber::Registry>>::max_level_hint(
                &f,
            )
        })
        .unwrap_or(tracing_subscriber::filter::LevelFilter::TRACE)
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
        let server = match tickwire::net::start::<Arena>(config).await {
            Ok(server) => server,
            Err(e) => {
                // One line, a documented exit code: a supervisor can tell
                // "port taken" from a crash.
                eprintln!("tickwire: cannot listen on {bind}: {e}");
                std::process::exit(EXIT_CANNOT_LISTEN);
            }
        };
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
