//! The schema as data: the shared test vectors of docs/PROTOCOL.md (payloads,
//! messages and events encoded by generated code, decoded by the schema
//! alone), `GET /v1/schema`, the hash check at the handshake, and a generic
//! client beside a typed one.

mod common;

use serde_json::{json, Value};
use std::time::Duration;
use tickwire::client::generic::{GenericClient, GenericEvent};
use tickwire::client::{Client, ClientError, ClientEvent, ClientOptions};
use tickwire::game::arena::Arena;
use tickwire::glam::{IVec2, Quat, Vec3};
use tickwire::protocol::{EntityId, Tick};
use tickwire::replicate::generic::GenericCodec;
use tickwire::replicate::schema::{hash_hex, Schema};
use tickwire::replicate::{MessageSet, NoMessages, Role};
use tickwire::snapshot::{BitReader, BitWriter, CodecError, DeltaEncoder, Snapshot};
use tickwire::{NetEntity, Replicate, Replicated};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Replicate)]
enum Team {
    Red,
    Blue,
    Green,
}

#[derive(Debug, Clone, PartialEq, Replicate)]
struct Ship {
    #[replicate(id)]
    id: EntityId,
    #[replicate(fixed(quantum = 1.0 / 16.0, min = -512, max = 512), predict = linear(vel))]
    pos: Vec3,
    #[replicate(fixed(quantum = 1.0 / 16.0, min = -8, max = 8))]
    vel: Vec3,
    #[replicate(quat(bits = 10))]
    rot: Quat,
    #[replicate(angle(bits = 10))]
    heading: f32,
    #[replicate(range = 0..=100)]
    hp: u8,
    alive: bool,
    team: Team,
    #[replicate(varint, predict = counter)]
    seq: u32,
    /// Server-side only.
    #[replicate(skip)]
    cooldown: u32,
}

#[derive(Debug, Clone, PartialEq, Replicate)]
struct Shot {
    #[replicate(id)]
    id: EntityId,
    #[replicate(range = -1000..=1000, predict = linear(vel))]
    pos: IVec2,
    #[replicate(varint)]
    vel: IVec2,
    #[replicate(bits = 4)]
    ttl: i8,
}

#[derive(Debug, Clone, PartialEq, Replicate)]
struct Score {
    red: u16,
    #[replicate(varint)]
    blue: i32,
    #[replicate(angle(bits = 8))]
    wind: u8,
}

#[derive(Debug, Clone, PartialEq, Replicate)]
enum Probe {
    Ship(Ship),
    Shot(Shot),
    #[replicate(singleton)]
    Score(Score),
}

#[derive(Debug, Clone, PartialEq, Replicate)]
struct ProbeInput {
    #[replicate(range = -127..=127)]
    thrust: i8,
    #[replicate(fixed(quantum = 0.01, min = -1, max = 1))]
    turn: f32,
    #[replicate(angle(bits = 12))]
    aim: f32,
    fire: bool,
    team: Team,
}

/// The typed value as the generic decoder presents it: reals as f32, angles
/// in radians, enums by name, vectors as arrays.
fn typed_json(e: &Probe) -> Value {
    let team = |t: Team| json!(format!("{t:?}"));
    let v3 = |v: Vec3| json!([v.x as f64, v.y as f64, v.z as f64]);
    match e {
        Probe::Ship(s) => json!({ "id": s.id.0, "kind": "Ship", "fields": {
            "pos": v3(s.pos), "vel": v3(s.vel),
            "rot": s.rot.to_array().map(f64::from), "heading": s.heading as f64,
            "hp": s.hp, "alive": s.alive, "team": team(s.team), "seq": s.seq,
        }}),
        Probe::Shot(s) => json!({ "id": s.id.0, "kind": "Shot", "fields": {
            "pos": [s.pos.x, s.pos.y], "vel": [s.vel.x, s.vel.y], "ttl": s.ttl,
        }}),
        Probe::Score(s) => json!({ "id": 0, "kind": "Score", "fields": {
            "red": s.red, "blue": s.blue,
            "wind": (f64::from(s.wind) * std::f64::consts::TAU / 256.0) as f32 as f64,
        }}),
    }
}

fn snapshot_json(s: &Snapshot<Probe>) -> Value {
    json!({ "tick": s.tick.0, "entities": s.entities.iter().map(typed_json).collect::<Vec<_>>() })
}

fn ship(id: u32, pos: Vec3, vel: Vec3) -> Probe {
    Probe::Ship(Ship {
        id: EntityId(id),
        pos,
        vel,
        rot: Quat::from_rotation_y(0.5),
        heading: 1.0,
        hp: 100,
        alive: true,
        team: Team::Blue,
        seq: 7,
        cooldown: 3,
    })
}

fn shot(id: u32, x: i32, vx: i32) -> Probe {
    Probe::Shot(Shot {
        id: EntityId(id),
        pos: IVec2::new(x, -x),
        vel: IVec2::new(vx, 0),
        ttl: 5,
    })
}

fn score(red: u16, blue: i32) -> Probe {
    Probe::Score(Score {
        red,
        blue,
        wind: 200,
    })
}

/// The snapshots of the vectors: a full one, then deltas that exercise each
/// field's change, prediction, removal, addition and a change of kind.
fn cases() -> Vec<(&'static str, Snapshot<Probe>, Option<usize>)> {
    let t10 = Snapshot::new(
        Tick(10),
        vec![
            score(3, -2),
            ship(1, Vec3::new(10.0, 0.5, -3.25), Vec3::new(0.25, 0.0, -0.125)),
            ship(2, Vec3::ZERO, Vec3::ZERO),
            shot(5, 100, 7),
            shot(6, -40, -3),
        ],
    );
    // Tick 12: ship 1 coasts (predicted, costs nothing), ship 2 turns, is hit
    // and changes team, shot 5 is gone, shot 6 coasts, 9 is new, 6... and id
    // 2's neighbour 3 appears as a ship; the score changes.
    let mut e12: Vec<Probe> = t10.entities.iter().map(|e| e.clone().predict(2)).collect();
    for e in &mut e12 {
        if let Probe::Ship(s) = e {
            if s.id == EntityId(2) {
                s.rot = Quat::from_rotation_y(0.6);
                s.heading = 4.0;
                s.hp = 60;
                s.team = Team::Green;
                s.pos = Vec3::new(1.0, 2.0, 3.0);
            }
        }
        if let Probe::Score(s) = e {
            s.red = 4;
        }
    }
    e12.retain(|e| e.id() != EntityId(5));
    e12.push(shot(9, 900, -20));
    e12.push(ship(
        3,
        Vec3::new(-511.0, 511.9, 0.0),
        Vec3::new(8.0, -8.0, 1.0),
    ));
    let t12 = Snapshot::new(Tick(12), e12);
    // Tick 13: ship 2 rotates a little (residual path), dies; entity 9
    // becomes a ship (kind change); the score's varint goes negative.
    let mut e13: Vec<Probe> = t12.entities.iter().map(|e| e.clone().predict(1)).collect();
    for e in &mut e13 {
        match e {
            Probe::Ship(s) if s.id == EntityId(2) => {
                s.rot = Quat::from_rotation_y(0.62);
                s.alive = false;
                s.seq = 100;
            }
            Probe::Score(s) => s.blue = -1000,
            _ => {}
        }
    }
    for e in &mut e13 {
        if e.id() == EntityId(9) {
            *e = ship(9, Vec3::new(5.0, 5.0, 5.0), Vec3::ZERO);
        }
    }
    let t13 = Snapshot::new(Tick(13), e13);
    vec![
        ("full", t10, None),
        ("delta: coast, change, remove, add", t12, Some(0)),
        ("delta: rotate, flip, kind change", t13, Some(1)),
    ]
}

fn inputs() -> Vec<ProbeInput> {
    vec![
        ProbeInput {
            thrust: 127,
            turn: -0.5,
            aim: 3.0,
            fire: true,
            team: Team::Red,
        },
        ProbeInput {
            thrust: -127,
            turn: 1.0,
            aim: 0.0,
            fire: false,
            team: Team::Green,
        },
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn vectors() -> Value {
    let schema = Schema::of::<Probe, ProbeInput, NoMessages, NoMessages>();
    let cases = cases();
    let mut encoder = DeltaEncoder::new();
    let mut out = Vec::new();
    for (name, snap, base) in &cases {
        let payload = encoder.encode(base.map(|b| &cases[b].1), snap).to_vec();
        out.push(json!({
            "name": name, "tick": snap.tick.0, "baseline": base,
            "payload": hex(&payload), "expected": snapshot_json(snap),
        }));
    }
    let inputs: Vec<Value> = inputs()
        .into_iter()
        .map(|i| {
            let mut w = BitWriter::new();
            i.write_full(&mut w);
            let mut snapped = i.clone();
            snapped.snap();
            json!({
                "bytes": hex(w.finish()),
                "expected": {
                    "thrust": snapped.thrust, "turn": snapped.turn as f64,
                    "aim": snapped.aim as f64, "fire": snapped.fire,
                    "team": format!("{:?}", snapped.team),
                },
            })
        })
        .collect();
    json!({
        // The canonical text the hash covers: the object below has its keys sorted.
        "schema_text": schema.to_json(),
        "schema": schema, "hash": hash_hex(schema.hash()),
        "cases": out, "inputs": inputs,
    })
}

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/vectors/schema-v1.json");

#[test]
fn the_committed_vectors_are_what_the_code_encodes() {
    let fresh = serde_json::to_string_pretty(&vectors()).unwrap() + "\n";
    if std::env::var_os("TICKWIRE_BLESS").is_some() {
        std::fs::write(VECTORS, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(VECTORS)
        .expect("docs/vectors/schema-v1.json (regenerate with TICKWIRE_BLESS=1)");
    assert_eq!(
        committed, fresh,
        "the wire changed: check docs/PROTOCOL.md, then regenerate with TICKWIRE_BLESS=1"
    );
}

#[test]
fn the_schema_alone_decodes_every_vector_to_the_typed_values() {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(VECTORS).unwrap()).unwrap();
    let text = v["schema_text"].as_str().unwrap();
    assert_eq!(
        hash_hex(tickwire::replicate::schema::fnv1a(text.as_bytes())),
        v["hash"]
    );
    let schema = Schema::from_json(text).unwrap();
    assert_eq!(serde_json::to_value(&schema).unwrap(), v["schema"]);
    let codec = GenericCodec::new(schema).unwrap();
    let mut decoded = Vec::new();
    for case in v["cases"].as_array().unwrap() {
        let base = case["baseline"].as_u64().map(|b| &decoded[b as usize]);
        let tick = Tick(case["tick"].as_u64().unwrap() as u32);
        let snap = codec
            .decode(base, tick, &unhex(case["payload"].as_str().unwrap()))
            .unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
        assert_eq!(codec.to_json(&snap), case["expected"], "{}", case["name"]);
        decoded.push(snap);
    }
    for input in v["inputs"].as_array().unwrap() {
        let bytes = unhex(input["bytes"].as_str().unwrap());
        assert_eq!(codec.decode_input(&bytes).unwrap(), input["expected"]);
        assert_eq!(codec.encode_input(&input["expected"]).unwrap(), bytes);
    }
}

#[test]
fn coasting_costs_nothing_and_skipped_fields_do_not_travel() {
    let cases = cases();
    let (_, t10, _) = &cases[0];
    let mut coasting = t10.clone();
    coasting.tick = Tick(14);
    coasting.entities = t10.entities.iter().map(|e| e.predict(4)).collect();
    // Only a server-side field differs: nothing to send.
    for e in &mut coasting.entities {
        if let Probe::Ship(s) = e {
            s.cooldown += 1;
        }
    }
    let payload = DeltaEncoder::new().encode(Some(t10), &coasting).to_vec();
    assert_eq!(payload, vec![0x00], "an unchanged world is one byte");
}

#[test]
fn a_payload_that_breaks_the_schema_names_the_field() {
    let codec =
        GenericCodec::new(Schema::of::<Probe, ProbeInput, NoMessages, NoMessages>()).unwrap();
    // One written entity, id 0, kind Ship, pos x = all ones: above qmax.
    let mut w = BitWriter::new();
    w.write_bit(false); // no removals
    w.write_bit(true);
    w.write_gamma(0);
    w.write_bits(0, 2); // kind 0 = Ship
    w.write_bits(0x7fff, 15);
    w.write_bits(0, 32);
    w.write_bit(false);
    let err = codec.decode(None, Tick(1), w.finish()).unwrap_err();
    assert!(err.to_string().contains("`pos`"), "{err}");
    let typed = tickwire::snapshot::decode_delta::<Probe>(None, Tick(1), w.finish()).unwrap_err();
    assert!(typed.to_string().contains("`pos`"), "{typed}");
}

#[tokio::test]
async fn the_server_serves_its_schema_and_refuses_another_games_client() {
    let server = common::start(common::test_config()).await;
    let addr = server.local_addr();
    let url = format!("http://{addr}/v1/schema");
    let (status, _, body) = common::request("GET", url.clone(), None, &[]).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let schema: Schema = serde_json::from_value(v["schema"].clone()).unwrap();
    let ours = tickwire::replicate::schema::GameSchema::of::<Arena>();
    assert_eq!(schema, ours.schema);
    assert_eq!(v["hash"], hash_hex(ours.hash));
    let etag = format!("\"{}\"", hash_hex(ours.hash));
    let (status, _, _) = common::request("GET", url, None, &[("If-None-Match", &etag)]).await;
    assert_eq!(status, 304);

    let url = format!("ws://{addr}/ws?schema=00000000deadbeef");
    match Client::<Arena>::connect(&url, ClientOptions::default()).await {
        // The typed client replaces `schema=` with its own, which matches.
        Ok(c) => assert_eq!(c.welcome().schema, None, "a typed client has the schema"),
        Err(e) => panic!("{e}"),
    }
    let err = GenericClient::connect(&url, ClientOptions::default())
        .await
        .err()
        .expect("a wrong hash is refused");
    match err {
        ClientError::Refused { status, body } => {
            assert_eq!(status, 409);
            assert!(body.contains("schema_mismatch"), "{body}");
        }
        e => panic!("{e}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_generic_client_sees_what_a_typed_client_sees() {
    let server = common::start(common::test_config()).await;
    let url = format!("ws://{}/ws", server.local_addr());
    let mut typed = Client::<Arena>::connect(&url, ClientOptions::default())
        .await
        .unwrap();
    let url = format!("{url}?match={}", typed.welcome().match_id);
    let mut generic = GenericClient::connect(&url, ClientOptions::default())
        .await
        .unwrap();
    assert_eq!(generic.welcome().match_id, typed.welcome().match_id);
    // The generic client moves; both must see it, and agree on every entity.
    let me = generic.welcome().entity_id;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut agreed = 0;
    let mut typed_worlds = std::collections::HashMap::new();
    while agreed < 20 && tokio::time::Instant::now() < deadline {
        generic
            .send_input(&json!({"move_x": 127, "move_y": 0, "aim": 0.5, "buttons": 0}))
            .await
            .unwrap();
        tokio::select! {
            ev = typed.recv() => if let ClientEvent::Snapshot { tick, .. } = ev.unwrap() {
                typed_worlds.insert(tick, typed.world().unwrap().clone());
            },
            ev = generic.recv() => if let GenericEvent::Snapshot { tick, .. } = ev.unwrap() {
                if let Some(t) = typed_worlds.get(&tick) {
                    let g = generic.world().unwrap();
                    assert_eq!(g.entities.len(), t.entities.len());
                    for (ge, te) in g.entities.iter().zip(&t.entities) {
                        let gj = generic.codec().entity_json(ge);
                        assert_eq!(gj["id"], te.id.0);
                        assert_eq!(gj["kind"], "ArenaEntity");
                        assert_eq!(gj["fields"]["kind"], format!("{:?}", te.kind));
                        assert_eq!(gj["fields"]["pos"], json!([te.pos.x, te.pos.y]));
                        assert_eq!(gj["fields"]["last_input_seq"], te.last_input_seq);
                    }
                    agreed += 1;
                }
            },
        }
    }
    assert!(agreed >= 20, "only {agreed} snapshots compared");
    let mine = typed.world().unwrap().get(me).unwrap();
    // Its inputs were applied: moving right, or already stopped by the wall.
    assert!(mine.last_input_seq >= 10, "{mine:?}");
    assert!(
        mine.vel.x > 0 || mine.pos.x == tickwire::game::arena::WORLD_QUANTA,
        "the generic client's input moved it: {mine:?}"
    );
    server.shutdown().await;
}

// Messages and events: a test game's client messages (a type with a string,
// a unit type, an admin-only type) and server events (a unit type, a type
// with an angle, the match's result with a ranked list).

#[derive(Debug, Clone, PartialEq, Replicate)]
struct Chat {
    #[replicate(max_len = 12)]
    text: String,
    team_only: bool,
}

#[derive(Debug, Clone, PartialEq, Replicate)]
struct Kick {
    #[replicate(varint)]
    player: u32,
    #[replicate(max_len = 32)]
    reason: String,
}

#[derive(Debug, Clone, PartialEq, Replicate)]
#[replicate(messages)]
enum ProbeMessage {
    #[replicate(allow(player, spectator, admin))]
    Chat(Chat),
    Ready,
    #[replicate(allow(admin))]
    Kick(Kick),
}

#[derive(Debug, Clone, PartialEq, Replicate)]
struct Rank {
    #[replicate(varint)]
    entity: u32,
    #[replicate(range = -1000..=1000)]
    score: i16,
    team: Team,
}

#[derive(Debug, Clone, PartialEq, Replicate)]
struct Hit {
    #[replicate(range = 0..=100)]
    damage: u8,
    #[replicate(angle(bits = 8))]
    from: f32,
}

#[derive(Debug, Clone, PartialEq, Replicate)]
struct MatchOver {
    #[replicate(max_len = 4)]
    ranking: Vec<Rank>,
    #[replicate(max_len = 16)]
    note: String,
}

#[derive(Debug, Clone, PartialEq, Replicate)]
#[replicate(messages)]
enum ProbeEvent {
    RoundStarted,
    Hit(Hit),
    MatchOver(MatchOver),
}

fn probe_messages() -> Vec<ProbeMessage> {
    vec![
        ProbeMessage::Chat(Chat {
            text: "gg".into(),
            team_only: false,
        }),
        // 13 bytes: snaps to the 10 of "naïve ☕", not into the second ☕.
        ProbeMessage::Chat(Chat {
            text: "naïve ☕☕".into(),
            team_only: true,
        }),
        ProbeMessage::Ready,
        ProbeMessage::Kick(Kick {
            player: 300,
            reason: "".into(),
        }),
    ]
}

fn rank(entity: u32, score: i16, team: Team) -> Rank {
    Rank {
        entity,
        score,
        team,
    }
}

fn probe_events() -> Vec<ProbeEvent> {
    vec![
        ProbeEvent::RoundStarted,
        ProbeEvent::Hit(Hit {
            damage: 25,
            from: 1.5,
        }),
        ProbeEvent::MatchOver(MatchOver {
            ranking: vec![
                rank(65, 900, Team::Blue),
                rank(3, -20, Team::Red),
                rank(70, -1000, Team::Green),
            ],
            note: "overtime".into(),
        }),
        ProbeEvent::MatchOver(MatchOver {
            ranking: vec![],
            note: "".into(),
        }),
    ]
}

/// A typed message as the generic decoder presents it.
fn message_json(m: &ProbeMessage) -> Value {
    match m {
        ProbeMessage::Chat(c) => {
            json!({"type": "Chat", "fields": {"text": c.text, "team_only": c.team_only}})
        }
        ProbeMessage::Ready => json!({"type": "Ready", "fields": {}}),
        ProbeMessage::Kick(k) => {
            json!({"type": "Kick", "fields": {"player": k.player, "reason": k.reason}})
        }
    }
}

fn event_json(e: &ProbeEvent) -> Value {
    match e {
        ProbeEvent::RoundStarted => json!({"type": "RoundStarted", "fields": {}}),
        ProbeEvent::Hit(h) => {
            json!({"type": "Hit", "fields": {"damage": h.damage, "from": h.from as f64}})
        }
        ProbeEvent::MatchOver(o) => json!({"type": "MatchOver", "fields": {
            "ranking": o.ranking.iter().map(|r| json!({
                "entity": r.entity, "score": r.score, "team": format!("{:?}", r.team),
            })).collect::<Vec<_>>(),
            "note": o.note,
        }}),
    }
}

fn message_schema() -> Schema {
    Schema::of::<Probe, ProbeInput, ProbeMessage, ProbeEvent>()
}

fn written<M: MessageSet>(m: &M) -> Vec<u8> {
    let mut w = BitWriter::new();
    m.write(&mut w);
    w.finish().to_vec()
}

fn read_typed<M: MessageSet>(bytes: &[u8]) -> Result<M, CodecError> {
    let mut r = BitReader::new(bytes);
    let m = M::read(&mut r)?;
    r.expect_end()?;
    Ok(m)
}

/// Each value snapped, its bytes, and its presented JSON.
fn message_vectors<M: MessageSet>(values: Vec<M>, to_json: fn(&M) -> Value) -> Vec<Value> {
    values
        .into_iter()
        .map(|mut m| {
            let bytes = written(&m);
            m.snap();
            assert_eq!(written(&m), bytes, "the wire carries the snapped value");
            json!({ "bytes": hex(&bytes), "expected": to_json(&m) })
        })
        .collect()
}

fn messages_file() -> Value {
    let schema = message_schema();
    json!({
        "schema_text": schema.to_json(),
        "schema": schema, "hash": hash_hex(schema.hash()),
        "messages": message_vectors(probe_messages(), message_json),
        "events": message_vectors(probe_events(), event_json),
    })
}

const MESSAGE_VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/vectors/messages-v1.json");

#[test]
fn the_committed_message_vectors_are_what_the_code_encodes() {
    let fresh = serde_json::to_string_pretty(&messages_file()).unwrap() + "\n";
    if std::env::var_os("TICKWIRE_BLESS").is_some() {
        std::fs::write(MESSAGE_VECTORS, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(MESSAGE_VECTORS)
        .expect("docs/vectors/messages-v1.json (regenerate with TICKWIRE_BLESS=1)");
    assert_eq!(
        committed, fresh,
        "the wire changed: check docs/PROTOCOL.md, then regenerate with TICKWIRE_BLESS=1"
    );
}

#[test]
fn the_schema_alone_decodes_and_encodes_every_message_vector() {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(MESSAGE_VECTORS).unwrap()).unwrap();
    let text = v["schema_text"].as_str().unwrap();
    assert_eq!(
        hash_hex(tickwire::replicate::schema::fnv1a(text.as_bytes())),
        v["hash"]
    );
    let codec = GenericCodec::from_json(text).unwrap();
    for m in v["messages"].as_array().unwrap() {
        let bytes = unhex(m["bytes"].as_str().unwrap());
        assert_eq!(codec.decode_message(&bytes).unwrap(), m["expected"]);
        assert_eq!(codec.encode_message(&m["expected"]).unwrap(), bytes);
    }
    for e in v["events"].as_array().unwrap() {
        let bytes = unhex(e["bytes"].as_str().unwrap());
        assert_eq!(codec.decode_event(&bytes).unwrap(), e["expected"]);
        assert_eq!(codec.encode_event(&e["expected"]).unwrap(), bytes);
    }
}

#[test]
fn typed_messages_decode_generically_and_generic_ones_read_typed() {
    let codec = GenericCodec::new(message_schema()).unwrap();
    for mut m in probe_messages() {
        m.snap();
        let bytes = written(&m);
        assert_eq!(codec.decode_message(&bytes).unwrap(), message_json(&m));
        let generic = codec.encode_message(&message_json(&m)).unwrap();
        assert_eq!(read_typed::<ProbeMessage>(&generic).unwrap(), m);
    }
    for mut e in probe_events() {
        e.snap();
        let bytes = written(&e);
        assert_eq!(codec.decode_event(&bytes).unwrap(), event_json(&e));
        let generic = codec.encode_event(&event_json(&e)).unwrap();
        assert_eq!(read_typed::<ProbeEvent>(&generic).unwrap(), e);
    }
    // A unit type needs no "fields"; strings and lists longer than their
    // max_len are truncated, as the typed side snaps them.
    let ready = codec.encode_message(&json!({"type": "Ready"})).unwrap();
    assert_eq!(
        read_typed::<ProbeMessage>(&ready).unwrap(),
        ProbeMessage::Ready
    );
    let long = json!({"type": "MatchOver", "fields": {
        "ranking": vec![json!({"entity": 1, "score": 5000, "team": "Red"}); 6],
        "note": "a note longer than sixteen bytes",
    }});
    let ProbeEvent::MatchOver(over) = read_typed(&codec.encode_event(&long).unwrap()).unwrap()
    else {
        panic!("not a MatchOver");
    };
    assert_eq!(over.ranking, vec![rank(1, 1000, Team::Red); 4]);
    assert_eq!(over.note, "a note longer th");
}

#[test]
fn bad_message_json_names_the_type_and_the_field() {
    let codec = GenericCodec::new(message_schema()).unwrap();
    let err = |j: Value| codec.encode_message(&j).unwrap_err().to_string();
    let e = err(json!({"type": "Shout", "fields": {}}));
    assert!(e.contains("unknown message type `Shout`"), "{e}");
    let e = err(json!({"fields": {}}));
    assert!(e.contains("\"type\""), "{e}");
    let e = err(json!({"type": "Chat", "fields": {"text": "hi"}}));
    assert!(
        e.contains("message `Chat` field `team_only` is missing"),
        "{e}"
    );
    let e = err(json!({"type": "Chat"}));
    assert!(e.contains("message `Chat` field `text` is missing"), "{e}");
    let e = err(json!({"type": "Chat", "fields": {"text": 5, "team_only": true}}));
    assert!(e.contains("message `Chat` field `text`: value 5"), "{e}");
    let e = err(json!({"type": "Kick", "fields": [1, "x"]}));
    assert!(
        e.contains("message `Kick`: \"fields\" must be an object"),
        "{e}"
    );
    let e = codec
        .encode_event(&json!({"type": "MatchOver", "fields": {
            "note": "", "ranking": [{"entity": 1, "score": 2, "team": "Red"}, {"entity": 2, "score": 3}],
        }}))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("event `MatchOver` field `ranking[1].team` is missing"),
        "{e}"
    );
    let e = codec
        .encode_event(&json!({"type": "MatchOver", "fields": {"note": "", "ranking": [7]}}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("event `MatchOver` field `ranking[0]`"), "{e}");
    let none =
        GenericCodec::new(Schema::of::<Probe, ProbeInput, NoMessages, NoMessages>()).unwrap();
    let e = none.encode_message(&json!({"type": "Chat"})).unwrap_err();
    assert!(e.to_string().contains("unknown message type `Chat`"), "{e}");
    assert!(none.decode_message(&[0]).is_err());
}

#[test]
fn bad_message_bytes_name_the_field_in_both_decoders() {
    let codec = GenericCodec::new(message_schema()).unwrap();
    let both = |bytes: &[u8], want: &str| {
        let generic = codec.decode_event(bytes).unwrap_err().to_string();
        let typed = read_typed::<ProbeEvent>(bytes).unwrap_err().to_string();
        assert_eq!(generic, typed);
        assert!(generic.contains(want), "{generic}");
    };
    let over = written(&probe_events()[2]);
    // Every cut of a MatchOver ends inside one of its fields.
    for cut in 1..over.len() {
        both(&over[..cut], "payload ends inside this field");
    }
    let mut w = BitWriter::new();
    w.write_bits(2, 2); // MatchOver
    w.write_gamma(5); // five ranks, max_len 4
    both(w.finish(), "field `ranking`: list longer than its max_len");
    let mut w = BitWriter::new();
    w.write_bits(2, 2);
    w.write_gamma(1);
    w.write_gamma(9);
    w.write_bits(2047, 11); // a score above 1000
    both(
        w.finish(),
        "field `ranking[0].score`: value above the declared maximum",
    );
    let mut w = BitWriter::new();
    w.write_bits(2, 2);
    w.write_gamma(0);
    w.write_gamma(1);
    w.write_bits(0xff, 8); // not UTF-8
    both(w.finish(), "field `note`: string is not UTF-8");
    let mut w = BitWriter::new();
    w.write_bits(3, 2); // no fourth event type
    let e = codec.decode_event(w.finish()).unwrap_err();
    assert_eq!(e, CodecError::Invalid("no such event type"));
    let e = read_typed::<ProbeEvent>(w.finish()).unwrap_err();
    assert_eq!(e, CodecError::Invalid("no such message type"));
}

#[test]
fn the_schema_lists_who_may_send_each_message_and_no_roles_for_events() {
    let schema = message_schema();
    let allow: Vec<(&str, Vec<Role>)> = schema
        .messages
        .iter()
        .map(|t| (t.name.as_str(), t.allow.clone()))
        .collect();
    assert_eq!(
        allow,
        [
            ("Chat", Role::ALL.to_vec()),
            ("Ready", vec![Role::Player]),
            ("Kick", vec![Role::Admin]),
        ]
    );
    let json = schema.to_json();
    assert!(
        json.contains(r#"{"name":"Kick","allow":["admin"],"fields":[{"name":"player","#),
        "{json}"
    );
    assert!(
        json.contains(r#""events":[{"name":"RoundStarted","fields":[]},"#),
        "{json}"
    );
    assert!(
        json.contains(
            r#"{"name":"ranking","type":"list","max_len":4,"item":{"name":"Rank","fields":["#
        ),
        "{json}"
    );
    let [chat, _, ready, kick] = &probe_messages()[..] else {
        unreachable!("four probe messages")
    };
    for role in Role::ALL {
        assert!(chat.allows(role));
        assert_eq!(ready.allows(role), role == Role::Player);
        assert_eq!(kick.allows(role), role == Role::Admin);
    }
    assert_eq!(kick.name(), "Kick");
    assert_eq!(ProbeEvent::RoundStarted.name(), "RoundStarted");
}

#[test]
fn the_documented_arena_schema_and_hash_are_the_real_ones() {
    let doc = include_str!("../docs/PROTOCOL.md");
    let section = &doc[doc.find("## Schema").unwrap()..];
    let start = section.find("```json\n").unwrap() + 8;
    let end = start + section[start..].find("```").unwrap();
    let documented: Value = serde_json::from_str(&section[start..end]).unwrap();
    let arena = tickwire::replicate::schema::GameSchema::of::<Arena>();
    assert_eq!(documented, serde_json::to_value(&arena.schema).unwrap());
    let hash = format!("arena-v1's is `{}`", hash_hex(arena.hash));
    assert!(doc.contains(&hash), "docs/PROTOCOL.md should say {hash}");
}
