//! Where matchmaking puts a player, decided from the directory alone: the
//! node holding the asked-for match; else the fullest open match in the
//! cluster; else a new match on the least-loaded node that is not draining.
//! Pure: the figures it reads may be a heartbeat old, so the node that
//! redeems a ticket has the last word (a match that filled meanwhile seats
//! the player in another match there).

use super::records::{MatchRecord, NodeRecord};

/// What a player asks matchmaking for.
#[derive(Debug, Clone, Default)]
pub struct Want<'a> {
    pub match_id: Option<u64>,
    /// A game label (`arena-v1`) or schema hash; `None`: any node's game.
    pub game: Option<&'a str>,
    /// A node not to choose (the one redirecting the player away).
    pub exclude: Option<&'a str>,
}

/// The node (and the match) chosen for a player.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub node: NodeRecord,
    /// `None`: the node's quick-join (its fullest open match, or a new one).
    pub match_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error("match {0} is not in the cluster")]
    MatchNotFound(u64),
    #[error("match {0} is full")]
    MatchFull(u64),
    #[error("match {0} is moving to another node; ask again in a moment")]
    MatchMoving(u64),
    #[error("no node has room for another player{}", game_suffix(.0))]
    NoRoom(Option<String>),
}

fn game_suffix(game: &Option<String>) -> String {
    game.as_ref()
        .map_or(String::new(), |g| format!(" in game {g}"))
}

fn plays(node: &NodeRecord, game: Option<&str>) -> bool {
    game.is_none_or(|g| node.game == g || node.schema == g)
}

/// Chooses where a player goes. `nodes` are the live nodes; a match whose
/// node is not among them is ignored (its record has yet to expire).
pub fn place(
    nodes: &[NodeRecord],
    matches: &[MatchRecord],
    want: &Want<'_>,
) -> Result<Placement, PlacementError> {
    let node_of = |id: &str| nodes.iter().find(|n| n.id == id);
    if let Some(id) = want.match_id {
        let (record, node) = matches
            .iter()
            .find_map(|m| (m.id == id).then(|| node_of(&m.node).map(|n| (m, n)))?)
            .ok_or(PlacementError::MatchNotFound(id))?;
        if node.draining {
            return Err(PlacementError::MatchMoving(id));
        }
        if record.open_seats == 0 {
            return Err(PlacementError::MatchFull(id));
        }
        return Ok(Placement {
            node: node.clone(),
            match_id: Some(id),
        });
    }
    let open_node =
        |n: &NodeRecord| !n.draining && plays(n, want.game) && want.exclude != Some(n.id.as_str());
    let fullest = matches
        .iter()
        .filter(|m| m.open_seats > 0)
        .filter_map(|m| node_of(&m.node).filter(|n| open_node(n)).map(|n| (m, n)))
        .max_by(|(a, na), (b, nb)| {
            a.players
                .cmp(&b.players)
                .then(nb.load().total_cmp(&na.load()))
                .then(b.id.cmp(&a.id))
        });
    if let Some((m, n)) = fullest {
        return Ok(Placement {
            node: n.clone(),
            match_id: Some(m.id),
        });
    }
    nodes
        .iter()
        .filter(|n| open_node(n) && n.players < n.capacity)
        .min_by(|a, b| {
            a.load()
                .total_cmp(&b.load())
                .then(a.matches.cmp(&b.matches))
                .then(a.id.cmp(&b.id))
        })
        .map(|n| Placement {
            node: n.clone(),
            match_id: None,
        })
        .ok_or_else(|| PlacementError::NoRoom(want.game.map(str::to_string)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, players: u32, draining: bool) -> NodeRecord {
        NodeRecord {
            id: id.into(),
            url: format!("ws://{id}:1"),
            game: "arena-v1".into(),
            schema: "abc".into(),
            players,
            matches: players.div_ceil(16),
            capacity: 64,
            draining,
            updated_ms: 0,
        }
    }

    fn record(id: u64, node: &str, players: u32) -> MatchRecord {
        MatchRecord {
            id,
            node: node.into(),
            players,
            capacity: 16,
            open_seats: 16 - players,
            game: "arena-v1".into(),
        }
    }

    #[test]
    fn the_fullest_open_match_wins_over_a_new_match() {
        let nodes = [node("a", 20, false), node("b", 3, false)];
        let matches = [record(1, "a", 16), record(2, "a", 4), record(3, "b", 3)];
        let p = place(&nodes, &matches, &Want::default()).unwrap();
        assert_eq!((p.node.id.as_str(), p.match_id), ("a", Some(2)));
    }

    #[test]
    fn without_open_matches_the_least_loaded_node_that_is_not_draining_gets_a_new_match() {
        let nodes = [
            node("a", 16, false),
            node("b", 0, true),
            node("c", 32, false),
        ];
        let matches = [record(1, "a", 16), record(2, "c", 16), record(3, "c", 16)];
        let p = place(&nodes, &matches, &Want::default()).unwrap();
        assert_eq!((p.node.id.as_str(), p.match_id), ("a", None));
        let away = Want {
            exclude: Some("a"),
            ..Want::default()
        };
        assert_eq!(place(&nodes, &matches, &away).unwrap().node.id, "c");
    }

    #[test]
    fn an_asked_for_match_is_found_full_moving_or_missing() {
        let nodes = [node("a", 16, false), node("b", 1, true)];
        let matches = [record(1, "a", 16), record(2, "b", 1), record(3, "gone", 1)];
        let ask = |id| {
            place(
                &nodes,
                &matches,
                &Want {
                    match_id: Some(id),
                    ..Want::default()
                },
            )
        };
        assert_eq!(ask(1), Err(PlacementError::MatchFull(1)));
        assert_eq!(ask(2), Err(PlacementError::MatchMoving(2)));
        assert_eq!(ask(3), Err(PlacementError::MatchNotFound(3)));
        assert_eq!(ask(4), Err(PlacementError::MatchNotFound(4)));
    }

    #[test]
    fn a_full_or_draining_cluster_or_another_game_has_no_room() {
        let mut full = node("a", 64, false);
        full.matches = 4;
        let nodes = [full, node("b", 0, true)];
        assert!(matches!(
            place(&nodes, &[], &Want::default()),
            Err(PlacementError::NoRoom(None))
        ));
        let other = Want {
            game: Some("space3d"),
            ..Want::default()
        };
        assert!(place(&[node("c", 0, false)], &[], &other).is_err());
        let by_schema = Want {
            game: Some("abc"),
            ..Want::default()
        };
        assert!(place(&[node("c", 0, false)], &[], &by_schema).is_ok());
    }
}
