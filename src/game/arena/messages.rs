//! arena's messages and events: chat (players and spectators), "ready", and
//! two admin orders (kick, end the match).

use super::{Arena, KIND_PLAYER};
use crate::game::{Denied, Outbox, Sender};
use crate::protocol::EntityId;
use crate::replicate::{Replicate, Role};

/// What an arena client sends besides inputs.
#[derive(Debug, Clone, PartialEq, Replicate)]
#[replicate(messages)]
pub enum ArenaMessage {
    /// A line for everyone in the match.
    #[replicate(allow(player, spectator, admin))]
    Chat(ChatLine),
    /// The player is ready; when every player is, the match hears `AllReady`.
    Ready,
    /// Admin: removes the player steering `entity`.
    #[replicate(allow(admin))]
    Kick(KickOrder),
    /// Admin: ends the match now, with the standings as its result.
    #[replicate(allow(admin))]
    EndMatch,
}

#[derive(Debug, Clone, PartialEq, Replicate)]
pub struct ChatLine {
    #[replicate(max_len = 200)]
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Replicate)]
pub struct KickOrder {
    #[replicate(varint)]
    pub entity: u32,
}

/// What the arena tells its clients.
#[derive(Debug, Clone, PartialEq, Replicate)]
#[replicate(messages)]
pub enum ArenaEvent {
    /// A chat line and who said it.
    Chat(Said),
    /// A player is ready.
    Ready(Who),
    /// Every player in the match is ready.
    AllReady,
    /// The match is over: its result.
    MatchOver(Standings),
}

#[derive(Debug, Clone, PartialEq, Replicate)]
pub struct Said {
    /// The speaker's entity; 0 for a spectator or an admin.
    #[replicate(varint)]
    pub entity: u32,
    pub role: SaidRole,
    #[replicate(max_len = 200)]
    pub text: String,
}

/// Who spoke, as chat shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Replicate)]
pub enum SaidRole {
    Player,
    Spectator,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Replicate)]
pub struct Who {
    #[replicate(varint)]
    pub entity: u32,
}

/// Every player's entity and hp when the match ended, most hp first.
#[derive(Debug, Clone, PartialEq, Replicate)]
pub struct Standings {
    #[replicate(max_len = 64)]
    pub players: Vec<Standing>,
}

#[derive(Debug, Clone, Copy, PartialEq, Replicate)]
pub struct Standing {
    #[replicate(varint)]
    pub entity: u32,
    #[replicate(range = 0..=255)]
    pub hp: u16,
}

impl Arena {
    pub(super) fn handle_message(
        &mut self,
        from: Sender,
        message: ArenaMessage,
        out: &mut Outbox<ArenaEvent>,
    ) -> Result<(), Denied> {
        match message {
            ArenaMessage::Chat(line) => {
                let text = line.text.trim();
                if text.is_empty() {
                    return Err(Denied::new("an empty line"));
                }
                if text.chars().any(char::is_control) {
                    return Err(Denied::new("control characters are not allowed"));
                }
                let entity = self.player_entity(from.player).map_or(0, |e| e.id.0);
                let role = match from.role {
                    Role::Player => SaidRole::Player,
                    Role::Spectator => SaidRole::Spectator,
                    Role::Admin => SaidRole::Admin,
                };
                out.to_all(ArenaEvent::Chat(Said {
                    entity,
                    role,
                    text: text.to_string(),
                }));
            }
            ArenaMessage::Ready => {
                let p = self
                    .players
                    .iter_mut()
                    .find(|p| p.id == from.player)
                    .ok_or_else(|| Denied::new("only a player in the match can be ready"))?;
                if p.ready {
                    return Err(Denied::new("already ready"));
                }
                p.ready = true;
                out.to_all(ArenaEvent::Ready(Who {
                    entity: p.entity.id.0,
                }));
                if self.players.iter().all(|p| p.ready) {
                    out.to_all(ArenaEvent::AllReady);
                }
            }
            ArenaMessage::Kick(order) => {
                let target = self
                    .players
                    .iter()
                    .find(|p| p.entity.id == EntityId(order.entity))
                    .ok_or_else(|| {
                        Denied::new(format!("no player steers entity {}", order.entity))
                    })?;
                out.kick(target.id, "removed by an admin");
            }
            ArenaMessage::EndMatch => out.end_match(ArenaEvent::MatchOver(self.standings())),
        }
        Ok(())
    }

    /// Every player, most hp first, ties to the lower entity id.
    pub fn standings(&self) -> Standings {
        let mut players: Vec<Standing> = self
            .players
            .iter()
            .filter(|p| p.entity.kind == KIND_PLAYER)
            .map(|p| Standing {
                entity: p.entity.id.0,
                hp: p.entity.hp,
            })
            .collect();
        players.sort_by_key(|s| (std::cmp::Reverse(s.hp), s.entity));
        players.truncate(64);
        Standings { players }
    }
}
