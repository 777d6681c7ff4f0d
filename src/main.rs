//! The `tickwire` command: `tickwire serve [--game NAME]` runs the server with
//! one of the built-in games (arena, space3d); `tickwire config` prints the
//! effective configuration. Everything but the choice of game is
//! `tickwire::cli`, which a game of your own uses the same way.

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::process::ExitCode;
use tickwire::cli::Settings;
use tickwire::game::arena::v2::{ArenaV2, PLAYERS_PER_MATCH};
use tickwire::game::space3d::Space3d;
use tickwire::Arena;
use tickwire::Config;

// Snapshots, frames and views are allocated on one thread and freed on
// another: under arena-v2 glibc's malloc cost about 6 % more server CPU
// (docs/BENCHMARKS.md, "arena-v2").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Runs the server with a built-in game (arena: scenario arena-v1; space3d: 3D ships; arena-v2: the large world).
    Serve(Serve),
    /// Prints the effective configuration (defaults, file, environment, flags) as TOML.
    Config(Settings),
}

#[derive(clap::Args, Debug)]
struct Serve {
    /// The built-in game to serve.
    #[arg(long, value_enum, env = "TICKWIRE_GAME", default_value_t = BuiltinGame::Arena)]
    game: BuiltinGame,
    #[command(flatten)]
    settings: Settings,
}

/// The games the `tickwire` binary carries.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum BuiltinGame {
    /// Scenario arena-v1: 2D, 64 NPCs, up to 16 players a match.
    Arena,
    /// 3D ships, shots and a scoreboard: 64 NPC ships, players thrust, turn and fire.
    #[value(name = "space3d")]
    Space3d,
    /// Scenario arena-v2: an 8192-unit world, 2048 NPCs, up to 64 players a
    /// match (by default), each sent what lies within 1024 units of it.
    #[value(name = "arena-v2")]
    ArenaV2,
}

fn main() -> ExitCode {
    let cli: Cli = tickwire::cli::parse_or_exit(Cli::command());
    match cli.command {
        Command::Config(settings) => {
            print!("{}", settings.load_or_exit().to_toml());
            ExitCode::SUCCESS
        }
        Command::Serve(serve) => {
            let defaults = match serve.game {
                BuiltinGame::ArenaV2 => Config {
                    players_per_match: PLAYERS_PER_MATCH,
                    ..Config::default()
                },
                _ => Config::default(),
            };
            let config = serve.settings.load_over_or_exit(defaults);
            tickwire::cli::init_logging(&config);
            match serve.game {
                BuiltinGame::Arena => tickwire::cli::serve::<Arena>(config, "arena-v1"),
                BuiltinGame::Space3d => tickwire::cli::serve::<Space3d>(config, "space3d"),
                BuiltinGame::ArenaV2 => tickwire::cli::serve::<ArenaV2>(config, "arena-v2"),
            }
        }
    }
}
