//! End-to-end input-to-snapshot latency over loopback: a real server in this
//! process, a real WebSocket client that sends an input and waits for the
//! first snapshot whose own entity has applied it. Inputs are sent at a random
//! point of the tick slot, so the figure includes the wait for the next tick
//! (half a tick on average: 16.7 ms at 30 Hz, 2.1 ms at 240 Hz); the rest is
//! the server's and the network's share.

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;
use tickwire::client::{AckMode, Client, ClientEvent, ClientOptions};
use tickwire::game::arena::ArenaInput;
use tickwire::{Arena, Config};

fn e2e(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("e2e input-to-snapshot");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(8));
    for rate in [30u16, 240] {
        let (server, client) = runtime.block_on(async {
            let config = Config {
                bind: "127.0.0.1:0".parse().expect("address"),
                tick_rate: rate,
                tick_threads: 1,
                // Between criterion's phases the client reads nothing for a
                // while; that must not count as a dead or non-acking peer.
                ack_timeout: Duration::from_secs(3600),
                heartbeat_timeout: Duration::from_secs(3600),
                // One input per iteration, faster than a player sends them.
                max_inputs_per_second: 10_000,
                ..Config::default()
            };
            let server = tickwire::net::start::<Arena>(config)
                .await
                .expect("server starts");
            let options = ClientOptions {
                ack: AckMode::WithInputs,
                ..ClientOptions::default()
            };
            let client = Client::<Arena>::connect(&server.ws_url(), options)
                .await
                .expect("connects");
            (server, client)
        });
        let client = std::sync::Arc::new(tokio::sync::Mutex::new(client));
        let period = Duration::from_secs(1) / u32::from(rate);
        group.bench_function(format!("{rate} Hz"), |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let client = client.clone();
                async move {
                    let mut client = client.lock().await;
                    let me = client.welcome().entity_id;
                    let mut rng = fastrand::Rng::with_seed(iters);
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        // Send at a random point of the tick slot, as a player would;
                        // the wait before sending is not timed.
                        tokio::time::sleep(period.mul_f64(rng.f64())).await;
                        let started = std::time::Instant::now();
                        let seq = client
                            .send_input(ArenaInput {
                                move_x: 127,
                                move_y: 0,
                                aim: 0.0,
                                buttons: 0,
                            })
                            .await
                            .expect("send");
                        let applied = async {
                            loop {
                                if let ClientEvent::Snapshot { .. } =
                                    client.recv().await.expect("recv")
                                {
                                    let applied = client
                                        .world()
                                        .and_then(|w| w.get(me))
                                        .map(|e| e.last_input_seq);
                                    if applied.is_some_and(|s| s >= seq) {
                                        break;
                                    }
                                }
                            }
                        };
                        tokio::time::timeout(Duration::from_secs(5), applied)
                            .await
                            .expect("the input reached a snapshot within 5 s");
                        total += started.elapsed();
                    }
                    total
                }
            })
        });
        runtime.block_on(server.shutdown());
    }
    group.finish();
}

criterion_group!(benches, e2e);
criterion_main!(benches);
