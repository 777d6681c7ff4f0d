//! A client of the game in my_game/game.rs: joins, runs for the coin until
//! it has three points (twenty seconds at most), and says where it is once a
//! second.
//!
//!     cargo run --example play -- ws://127.0.0.1:7777/ws

// The game's types, shared with the server (in your own project: a module or
// a crate both depend on).
#[path = "my_game/game.rs"]
mod game;

use game::{MyGame, Steer, Thing};
use std::time::Duration;
use tickwire::client::{Client, ClientEvent, ClientOptions};
use tickwire::glam::Vec2;
use tokio::time::{timeout_at, Instant};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or("ws://127.0.0.1:7777/ws".into());
    let mut client = Client::<MyGame>::connect(&url, ClientOptions::default()).await?;
    let (id, started) = (client.welcome().entity_id, Instant::now());
    println!(
        "joined match {} as entity {}",
        client.welcome().match_id.0,
        id.0
    );
    let mut next_report = started;
    let deadline = started + Duration::from_secs(20);
    loop {
        let Ok(event) = timeout_at(deadline, client.recv()).await else {
            return Err("fewer than 3 points after 20 s".into());
        };
        let ClientEvent::Snapshot { tick, .. } = event? else {
            continue; // a pong
        };
        // The decoded world: the server's state at `tick`, bit for bit.
        let world = client.world().ok_or("no world after a snapshot")?;
        let Some(Thing::Player(me)) = world.get(id).cloned() else {
            return Err("my entity is gone".into());
        };
        let coin = world.entities.iter().find_map(|e| match e {
            Thing::Coin(coin) => Some(coin.pos),
            Thing::Player(_) => None,
        });
        let dir = coin.map_or(Vec2::ZERO, |at| (at - me.pos).normalize_or_zero());
        client.send_input(Steer { dir }).await?;
        if Instant::now() >= next_report {
            let (x, y) = (me.pos.x, me.pos.y);
            println!("tick {}: at ({x:.1}, {y:.1}), {} points", tick.0, me.score);
            next_report += Duration::from_secs(1);
        }
        if me.score >= 3 {
            println!(
                "{} points in {:.1} s",
                me.score,
                started.elapsed().as_secs_f32()
            );
            return client.close().await.map_err(Into::into);
        }
    }
}
