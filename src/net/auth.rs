//! Authentication at the handshake: an HS256 JWT, from the `Authorization:
//! Bearer` header or the `token` query parameter (browsers cannot set headers
//! on a WebSocket). Checked before the upgrade; a refusal is HTTP 401.

use crate::protocol::{MatchId, PlayerId};
use axum::http::{header, HeaderMap};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

/// What a token's claims say about the player.
#[derive(Debug, serde::Deserialize)]
struct Claims {
    /// The player id, a decimal integer.
    sub: String,
    /// The only match this token may join, if any.
    #[serde(rename = "match")]
    match_id: Option<u64>,
}

/// A verified identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    pub player: PlayerId,
    pub match_id: Option<MatchId>,
}

/// Verifies tokens signed with the server's secret.
pub(crate) struct Authenticator {
    key: DecodingKey,
    validation: Validation,
}

impl Authenticator {
    pub fn new(secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = 5;
        Authenticator {
            key: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// The identity in the request's token, or why there is none.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        query_token: Option<&str>,
    ) -> Result<Identity, String> {
        let from_header = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let token = from_header
            .or(query_token)
            .ok_or("a token is required (Authorization: Bearer, or ?token=)")?;
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| format!("invalid token: {e}"))?;
        let player = data
            .claims
            .sub
            .parse::<u64>()
            .map_err(|_| "the token's `sub` must be a numeric player id".to_string())?;
        Ok(Identity {
            player: PlayerId(player),
            match_id: data.claims.match_id.map(MatchId),
        })
    }
}
