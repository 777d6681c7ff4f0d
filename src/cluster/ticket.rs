//! Matchmaking tickets: what `POST /v1/matchmake` hands a player to show
//! the chosen node at `/ws?ticket=`. A ticket names the node (and the match,
//! when one was chosen), expires soon, and is signed with the cluster's
//! secret (HMAC-SHA256), so any node can issue one and only the named node
//! accepts it. Single use is enforced by the directory (`Directory::redeem`),
//! not here: this module is pure.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Longest ticket text a node reads: a few hundred bytes in practice.
pub const MAX_TICKET_BYTES: usize = 1024;

/// What a ticket says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// Random, 32 hex digits: the key of its single use.
    pub id: String,
    /// The node that must seat its bearer.
    pub node: String,
    /// The match to seat it in; `None`: the node's quick-join.
    #[serde(rename = "match")]
    pub match_id: Option<u64>,
    /// Expiry, milliseconds since the Unix epoch.
    pub exp: u64,
}

/// Why a ticket was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("the ticket is malformed")]
    Malformed,
    #[error("the ticket's signature is wrong (forged, or signed with another cluster's secret)")]
    BadSignature,
    #[error("the ticket expired; ask POST /v1/matchmake for a new one")]
    Expired,
    #[error("the ticket is for node {0}, not this one")]
    WrongNode(String),
    #[error("the ticket was used already")]
    Reused,
}

/// Signs and checks tickets with the cluster's secret.
#[derive(Clone)]
pub struct TicketSigner {
    key: Hmac<Sha256>,
}

impl std::fmt::Debug for TicketSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TicketSigner")
    }
}

impl TicketSigner {
    pub fn new(secret: &str) -> Self {
        TicketSigner {
            key: Hmac::<Sha256>::new_from_slice(secret.as_bytes())
                .expect("HMAC takes a key of any length"),
        }
    }

    /// A new ticket for `node` (and `match_id`), valid until `exp` (ms).
    pub fn issue(&self, node: &str, match_id: Option<u64>, exp: u64) -> (Ticket, String) {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).expect("operating system random source is unavailable");
        let ticket = Ticket {
            id: id.iter().map(|b| format!("{b:02x}")).collect(),
            node: node.to_string(),
            match_id,
            exp,
        };
        let text = self.sign(&ticket);
        (ticket, text)
    }

    /// `base64url(json) "." base64url(hmac(json))`.
    pub fn sign(&self, ticket: &Ticket) -> String {
        let body = serde_json::to_vec(ticket).expect("a ticket serializes");
        let mut mac = self.key.clone();
        mac.update(&body);
        let tag = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&body),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// The ticket `text` says, if this cluster signed it, it is for `node`,
    /// and it has not expired at `now` (ms).
    pub fn verify(&self, text: &str, node: &str, now: u64) -> Result<Ticket, TicketError> {
        if text.len() > MAX_TICKET_BYTES {
            return Err(TicketError::Malformed);
        }
        let (body, tag) = text.split_once('.').ok_or(TicketError::Malformed)?;
        let body = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TicketError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TicketError::Malformed)?;
        let mut mac = self.key.clone();
        mac.update(&body);
        // Constant-time: a forger learns nothing from how long a refusal took.
        mac.verify_slice(&tag)
            .map_err(|_| TicketError::BadSignature)?;
        let ticket: Ticket = serde_json::from_slice(&body).map_err(|_| TicketError::Malformed)?;
        if ticket.exp <= now {
            return Err(TicketError::Expired);
        }
        if ticket.node != node {
            return Err(TicketError::WrongNode(ticket.node));
        }
        if ticket.id.len() != 32 || !ticket.id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TicketError::Malformed);
        }
        Ok(ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_000_000;

    #[test]
    fn a_ticket_verifies_on_its_node_until_it_expires() {
        let signer = TicketSigner::new("a cluster secret of some length");
        let (ticket, text) = signer.issue("b", Some(7), NOW + 5_000);
        assert_eq!(signer.verify(&text, "b", NOW), Ok(ticket));
        assert_eq!(
            signer.verify(&text, "a", NOW),
            Err(TicketError::WrongNode("b".into()))
        );
        assert_eq!(
            signer.verify(&text, "b", NOW + 5_000),
            Err(TicketError::Expired)
        );
    }

    #[test]
    fn forged_and_mangled_tickets_are_refused() {
        let signer = TicketSigner::new("a cluster secret of some length");
        let other = TicketSigner::new("another cluster's secret");
        let (mut ticket, text) = other.issue("b", None, NOW + 5_000);
        assert_eq!(
            signer.verify(&text, "b", NOW),
            Err(TicketError::BadSignature)
        );
        // A ticket edited after signing (another match) fails its signature.
        let (_, good) = signer.issue("b", Some(1), NOW + 5_000);
        let tag = good.split_once('.').unwrap().1;
        ticket.match_id = Some(2);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&ticket).unwrap());
        assert_eq!(
            signer.verify(&format!("{body}.{tag}"), "b", NOW),
            Err(TicketError::BadSignature)
        );
        for bad in [
            "",
            "nodot",
            "!!.!!",
            "e30.",
            &"x".repeat(MAX_TICKET_BYTES + 1),
        ] {
            assert!(
                matches!(
                    signer.verify(bad, "b", NOW),
                    Err(TicketError::Malformed | TicketError::BadSignature)
                ),
                "{bad:?}"
            );
        }
    }
}
