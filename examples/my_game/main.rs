//! The server of the game in game.rs, with tickwire's whole command line:
//! `serve`, `config`, every setting as a flag, a `TICKWIRE_*` variable or a
//! TOML key, logging, and a clean stop on SIGTERM.

mod game;

fn main() -> std::process::ExitCode {
    tickwire::cli::main::<game::MyGame>("my-game")
}
