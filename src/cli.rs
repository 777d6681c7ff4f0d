//! The command line of a tickwire server, for any game: `serve` runs the
//! server, `config` prints the effective configuration. Settings come from
//! built-in defaults, then a TOML file (`--config`), then `TICKWIRE_*`
//! environment variables, then flags. The `tickwire` binary is this module
//! with the built-in games; a game of your own gets the same command line,
//! configuration, logging and clean stop (SIGTERM drains, then closes with
//! 1001) from one call:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     // Your `Game` here; arena stands in for it.
//!     tickwire::cli::main::<tickwire::Arena>("my-game")
//! }
//! ```
//!
//! Exit codes: 0 after a clean stop, [`EXIT_INVALID_CONFIG`] for a value
//! refused at start (the message names the key or its variable),
//! [`EXIT_CANNOT_LISTEN`] when the address cannot be bound.

use crate::config::{Config, ConfigLayer, LogFormat};
use crate::game::Game;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// A value refused at start (or a command line clap refused).
pub const EXIT_INVALID_CONFIG: u8 = 2;
/// The listening address could not be bound (e.g. already in use).
pub const EXIT_CANNOT_LISTEN: u8 = 3;

/// Where the settings come from: a file, and every key as a flag and an
/// environment variable.
#[derive(clap::Args, Debug)]
pub struct Settings {
    /// A TOML configuration file.
    #[arg(long, env = "TICKWIRE_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub layer: ConfigLayer,
}

impl Settings {
    /// The effective configuration; an invalid value exits with code 2,
    /// naming its key.
    pub fn load_or_exit(&self) -> Config {
        self.load_over_or_exit(Config::default())
    }

    /// As [`load_or_exit`](Self::load_or_exit), from a game's own defaults.
    pub fn load_over_or_exit(&self, defaults: Config) -> Config {
        match Config::load_over(defaults, self.config.as_deref(), &self.layer) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("tickwire: {e}");
                std::process::exit(i32::from(EXIT_INVALID_CONFIG));
            }
        }
    }
}

/// The command line of a single-game server.
#[derive(Parser, Debug)]
#[command(
    version,
    after_help = "Settings come from built-in defaults, then --config FILE (TOML), then \
                  TICKWIRE_* environment variables, then flags; later wins."
)]
struct GameCli {
    #[command(subcommand)]
    command: GameCommand,
}

#[derive(Subcommand, Debug)]
enum GameCommand {
    /// Runs the server.
    Serve(Settings),
    /// Prints the effective configuration (defaults, file, environment, flags) as TOML.
    Config(Settings),
}

/// The whole command line for game `G`, named `name` in help and logs:
/// `NAME serve [flags]` and `NAME config [flags]`. Returns the exit code.
pub fn main<G: Game>(name: &str) -> ExitCode {
    let command = GameCli::command()
        .name(name.to_string())
        .about(format!("{name}: an authoritative game server (tickwire)"));
    let cli: GameCli = parse_or_exit(command);
    match cli.command {
        GameCommand::Config(settings) => {
            print!("{}", settings.load_or_exit().to_toml());
            ExitCode::SUCCESS
        }
        GameCommand::Serve(settings) => {
            let config = settings.load_or_exit();
            init_logging(&config);
            serve::<G>(config, name)
        }
    }
}

/// Parses the command line against `command`; a bad value that came from a
/// `TICKWIRE_*` variable is reported under that variable's name (clap names
/// the flag, which the user never typed).
pub fn parse_or_exit<P: FromArgMatches>(command: clap::Command) -> P {
    let parsed = command
        .try_get_matches()
        .and_then(|matches| P::from_arg_matches(&matches));
    let error = match parsed {
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
                std::process::exit(i32::from(EXIT_INVALID_CONFIG));
            }
        }
    }
    error.exit()
}

/// Logs to stderr as the configuration says (see `Config::log_format`,
/// `Config::log_filter`; `RUST_LOG` refines the filter).
pub fn init_logging(config: &Config) {
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

/// Runs game `G`'s server with `config` until SIGTERM or Ctrl-C, then drains
/// and stops it. `label` names the game in the start-up line.
pub fn serve<G: Game>(config: Config, label: &str) -> ExitCode {
    crate::net::raise_open_file_limit();
    let bind = config.bind;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tickwire-net")
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tickwire: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        let server = match crate::net::start_as::<G>(config, label).await {
            Ok(server) => server,
            // A certificate or key that cannot be used is a configuration error.
            Err(e)
                if e.kind() == std::io::ErrorKind::InvalidInput
                    && e.to_string().starts_with("invalid value for") =>
            {
                eprintln!("tickwire: {e}");
                return ExitCode::from(EXIT_INVALID_CONFIG);
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                eprintln!("tickwire: invalid value for `tls_cert`/`tls_key`: {e}");
                return ExitCode::from(EXIT_INVALID_CONFIG);
            }
            Err(e) => {
                // One line, a documented exit code: a supervisor can tell
                // "port taken" from a crash.
                eprintln!("tickwire: cannot listen on {bind}: {e}");
                return ExitCode::from(EXIT_CANNOT_LISTEN);
            }
        };
        println!(
            "tickwire listening on {} ({label}, demo page at {}/, Ctrl-C to stop)",
            server.ws_url(),
            server.http_url()
        );
        tokio::select! {
            _ = shutdown_signal() => {
                // In a cluster, SIGTERM moves or finishes the matches first
                // (up to --drain-timeout); on a single node this returns at once.
                tracing::info!("shutting down");
                server.drain().await;
            }
            _ = server.drained() => tracing::info!("drained by an operator; shutting down"),
        }
        server.shutdown().await;
        ExitCode::SUCCESS
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
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
