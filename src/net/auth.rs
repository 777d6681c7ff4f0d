//! Authentication at the handshake: an HS256 JWT, from the `Authorization:
//! Bearer` header or the `token` query parameter (browsers cannot set headers
//! on a WebSocket). Checked before the upgrade; a refusal is HTTP 401 whose
//! message says what is wrong.
//!
//! A token is the first thing an unauthenticated peer gets the server to
//! read, so its cost is bounded before anything is decoded: the token and its
//! header segment have a size cap, and the HMAC is checked (in constant time)
//! before any base64 or JSON of the header or claims is parsed, so only a
//! holder of the secret can make the server parse anything. This module never
//! logs or repeats a token.

use crate::protocol::{MatchId, PlayerId};
use crate::replicate::Role;
use axum::http::{header, HeaderMap, HeaderValue};
use jsonwebtoken::{Algorithm, DecodingKey};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest token read at all; real ones are a few hundred bytes.
pub(crate) const MAX_TOKEN_BYTES: usize = 4096;

/// The longest JOSE header segment (base64url) read: an HS256 header is ~36
/// bytes, so this only leaves room for `kid`, `typ` and the like.
pub(crate) const MAX_HEADER_SEGMENT_BYTES: usize = 1024;

/// The longest `sub` accepted: identity providers' subjects (`auth0|...`,
/// UUIDs, emails) are far shorter.
pub(crate) const MAX_SUBJECT_BYTES: usize = 256;

/// How far the issuer's clock may be from ours, for `exp`, `nbf` and `iat`.
const CLOCK_LEEWAY_SECS: i64 = 5;

/// Set in every player id derived from a `sub`. Anonymous players get small
/// sequential ids, which never reach this bit, so the two never collide.
const SUBJECT_PLAYER_BIT: u64 = 1 << 63;

/// Why a handshake's token was refused, in words for the client's developer.
/// No variant carries the token, so none can repeat it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenRefusal {
    #[error("a token is required: send `Authorization: Bearer <token>` or `?token=<token>`")]
    Missing,
    #[error("the Authorization header must be `Bearer <token>`")]
    NotBearer,
    #[error("send one Authorization header, not several")]
    SeveralAuthorizations,
    #[error("the token is {0} bytes long; tokens may be at most {max} bytes", max = MAX_TOKEN_BYTES)]
    TokenTooLong(usize),
    #[error(
        "the token's header is {0} bytes long; it may be at most {max} bytes",
        max = MAX_HEADER_SEGMENT_BYTES
    )]
    HeaderTooLong(usize),
    #[error("the token is not a JWT: a JWT is three base64url parts separated by dots")]
    NotAJwt,
    #[error(
        "the token's signature does not match: it must be an HS256 JWT signed with this server's secret"
    )]
    SignatureMismatch,
    #[error("the token's header is not valid: it must be base64url JSON with `alg` HS256")]
    InvalidHeader,
    #[error("the token's header names `alg` {0:?}; only HS256 is accepted")]
    WrongAlgorithm(Algorithm),
    #[error(
        "the token's header has `crit` (critical extensions), which this server does not support"
    )]
    CriticalExtensions,
    #[error(
        "the token's claims are not valid: they must be base64url JSON with a string `sub`, \
         numeric `exp`, `nbf` and `iat`, and an unsigned integer `match`"
    )]
    InvalidClaims,
    #[error("the token has no `sub` (subject) claim; one is required")]
    MissingSubject,
    #[error("the token's `role` must be \"player\", \"spectator\" or \"admin\"")]
    UnknownRole,
    #[error("the token's `sub` is empty")]
    EmptySubject,
    #[error(
        "the token's `sub` is {0} bytes long; it may be at most {max} bytes",
        max = MAX_SUBJECT_BYTES
    )]
    SubjectTooLong(usize),
    #[error("the token has no `exp` (expiry) claim; one is required")]
    MissingExpiry,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet: its `nbf` (not before) is in the future")]
    NotYetValid,
    #[error("the token's `iat` (issued at) is in the future; check the issuer's clock")]
    IssuedInTheFuture,
    #[error(
        "the token's lifetime from `iat` to `exp` is longer than this server accepts ({})",
        humantime::format_duration(*.0)
    )]
    LifetimeTooLong(Duration),
    #[error(
        "the token expires too far ahead: this server accepts tokens valid for at most {}",
        humantime::format_duration(*.0)
    )]
    ExpiresTooLate(Duration),
}

/// What a token's claims say about the player, as sent: every check is in
/// [`check_claims`], so that a missing or malformed claim gets its own message.
#[derive(Debug, Default, serde::Deserialize)]
struct Claims {
    /// Who the player is, in the issuer's words (RFC 7519 StringOrURI).
    sub: Option<String>,
    /// NumericDates: seconds since the epoch, possibly fractional.
    exp: Option<f64>,
    nbf: Option<f64>,
    iat: Option<f64>,
    /// The only match this token may join, if any.
    #[serde(rename = "match")]
    match_id: Option<u64>,
    /// `player` (the default), `spectator` or `admin`.
    role: Option<String>,
}

/// A verified identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    pub player: PlayerId,
    pub match_id: Option<MatchId>,
    pub role: Role,
}

/// Verifies tokens signed with the server's secret.
pub(crate) struct Authenticator {
    key: DecodingKey,
    /// The longest a token may be valid for, from `iat` or from now.
    max_lifetime: Duration,
}

impl Authenticator {
    pub fn new(secret: &str, max_lifetime: Duration) -> Self {
        Authenticator {
            key: DecodingKey::from_secret(secret.as_bytes()),
            max_lifetime,
        }
    }

    /// The identity in the request's token, or why there is none (a message
    /// for the 401 body).
    pub fn verify(
        &self,
        headers: &HeaderMap,
        query_token: Option<&str>,
    ) -> Result<Identity, String> {
        let token = presented_token(headers, query_token).map_err(|e| e.to_string())?;
        self.identity(token, unix_now()).map_err(|e| e.to_string())
    }

    /// The identity in `token` at time `now` (seconds since the epoch).
    fn identity(&self, token: &str, now: i64) -> Result<Identity, TokenRefusal> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenRefusal::TokenTooLong(token.len()));
        }
        let header_len = token.find('.').unwrap_or(token.len());
        if header_len > MAX_HEADER_SEGMENT_BYTES {
            return Err(TokenRefusal::HeaderTooLong(header_len));
        }
        let (message, signature) = token.rsplit_once('.').ok_or(TokenRefusal::NotAJwt)?;
        if message.bytes().filter(|&b| b == b'.').count() != 1 {
            return Err(TokenRefusal::NotAJwt);
        }
        // HS256 whatever the header says: the header is not read until the
        // signature proves the server's secret made it. A signature that is
        // not even base64url is as wrong as a mismatched one.
        let signed_by_us = jsonwebtoken::crypto::verify(
            signature,
            message.as_bytes(),
            &self.key,
            Algorithm::HS256,
        )
        .unwrap_or(false);
        if !signed_by_us {
            return Err(TokenRefusal::SignatureMismatch);
        }
        let jose = jsonwebtoken::decode_header(token).map_err(|_| TokenRefusal::InvalidHeader)?;
        if jose.alg != Algorithm::HS256 {
            return Err(TokenRefusal::WrongAlgorithm(jose.alg));
        }
        // RFC 7515 4.1.11: a recipient that does not understand every listed
        // extension must reject the token, and this server understands none.
        if jose.crit.is_some() {
            return Err(TokenRefusal::CriticalExtensions);
        }
        // The signature over the header and these claims was verified above;
        // this only decodes them.
        let claims = jsonwebtoken::dangerous::insecure_decode_claims::<Claims>(token)
            .map_err(|_| TokenRefusal::InvalidClaims)?;
        check_claims(&claims, now, self.max_lifetime)
    }
}

/// The token a request presents: the `Authorization: Bearer` header's, else
/// the query's. A malformed Authorization header is refused rather than
/// ignored, so that a client's mistake is named instead of hidden.
fn presented_token<'a>(
    headers: &'a HeaderMap,
    query_token: Option<&'a str>,
) -> Result<&'a str, TokenRefusal> {
    let mut authorizations = headers.get_all(header::AUTHORIZATION).iter();
    match (authorizations.next(), authorizations.next()) {
        (Some(_), Some(_)) => Err(TokenRefusal::SeveralAuthorizations),
        (Some(value), None) => bearer_token(value),
        (None, _) => query_token
            .filter(|t| !t.is_empty())
            .ok_or(TokenRefusal::Missing),
    }
}

/// The token in `Bearer <token>`. The scheme is case-insensitive (RFC 9110
/// 11.1) and followed by one or more spaces, then a single token (RFC 6750
/// 2.1).
fn bearer_token(value: &HeaderValue) -> Result<&str, TokenRefusal> {
    let value = value.to_str().map_err(|_| TokenRefusal::NotBearer)?;
    let (scheme, rest) = value.split_once(' ').ok_or(TokenRefusal::NotBearer)?;
    let token = rest.trim_start_matches(' ');
    if !scheme.eq_ignore_ascii_case("Bearer") || token.is_empty() || token.contains(' ') {
        return Err(TokenRefusal::NotBearer);
    }
    Ok(token)
}

/// Checks verified claims at time `now` (seconds since the epoch), allowing
/// [`CLOCK_LEEWAY_SECS`] of clock skew, and maps them to an identity.
fn check_claims(
    claims: &Claims,
    now: i64,
    max_lifetime: Duration,
) -> Result<Identity, TokenRefusal> {
    let subject = claims.sub.as_deref().ok_or(TokenRefusal::MissingSubject)?;
    if subject.is_empty() {
        return Err(TokenRefusal::EmptySubject);
    }
    if subject.len() > MAX_SUBJECT_BYTES {
        return Err(TokenRefusal::SubjectTooLong(subject.len()));
    }
    let exp = claims
        .exp
        .map(whole_seconds)
        .ok_or(TokenRefusal::MissingExpiry)?;
    if now >= exp.saturating_add(CLOCK_LEEWAY_SECS) {
        return Err(TokenRefusal::Expired);
    }
    if let Some(nbf) = claims.nbf.map(whole_seconds) {
        if nbf > now.saturating_add(CLOCK_LEEWAY_SECS) {
            return Err(TokenRefusal::NotYetValid);
        }
    }
    // A token cannot outlive the bound by being issued long ago nor by
    // leaving `iat` out: both the stated lifetime and the time left count.
    let max_secs = i64::try_from(max_lifetime.as_secs()).unwrap_or(i64::MAX);
    if let Some(iat) = claims.iat.map(whole_seconds) {
        if iat > now.saturating_add(CLOCK_LEEWAY_SECS) {
            return Err(TokenRefusal::IssuedInTheFuture);
        }
        if exp.saturating_sub(iat) > max_secs {
            return Err(TokenRefusal::LifetimeTooLong(max_lifetime));
        }
    }
    if exp.saturating_sub(now) > max_secs.saturating_add(CLOCK_LEEWAY_SECS) {
        return Err(TokenRefusal::ExpiresTooLate(max_lifetime));
    }
    let role = match claims.role.as_deref() {
        None => Role::Player,
        Some(name) => Role::parse(name).ok_or(TokenRefusal::UnknownRole)?,
    };
    Ok(Identity {
        player: player_for_subject(subject),
        match_id: claims.match_id.map(MatchId),
        role,
    })
}

/// The player a `sub` stands for: the first 8 bytes of SHA-256(sub) as a
/// little-endian u64, with [`SUBJECT_PLAYER_BIT`] set. It depends on the sub
/// alone, so it is the same across restarts and nodes, and other services can
/// compute it. A numeric sub is hashed like any other string.
pub(crate) fn player_for_subject(subject: &str) -> PlayerId {
    let digest = Sha256::digest(subject.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    PlayerId(u64::from_le_bytes(first) | SUBJECT_PLAYER_BIT)
}

/// A NumericDate (RFC 7519 2) as whole seconds; `as` saturates, so absurd
/// values land at the ends of the range and fail the checks.
fn whole_seconds(date: f64) -> i64 {
    date.floor() as i64
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-unit-test-secret";
    const NOW: i64 = 1_750_000_000;
    const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);

    fn authenticator() -> Authenticator {
        Authenticator::new(SECRET, WEEK)
    }

    fn signed(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .expect("jsonwebtoken encodes")
    }

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: Some("player".into()),
            exp: Some(exp as f64),
            ..Claims::default()
        }
    }

    fn authorization(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(header::AUTHORIZATION, v.parse().expect("header value"));
        }
        headers
    }

    #[test]
    fn player_ids_are_the_documented_hash_of_the_subject() {
        // Reference values from Python: int.from_bytes(sha256(sub)[:8], "little") | 1 << 63.
        assert_eq!(player_for_subject("42"), PlayerId(0x8d8e_560a_b45c_4773));
        assert_eq!(
            player_for_subject("auth0|5f7c1e2a9b3d4e0012345678"),
            PlayerId(0xb367_54eb_d201_e3e2)
        );
        assert_ne!(player_for_subject("a"), player_for_subject("b"));
    }

    #[test]
    fn a_valid_token_gives_its_players_identity_and_match() {
        let token = signed(serde_json::json!({
            "sub": "auth0|5f7c1e", "iat": NOW, "exp": NOW + 3600, "match": 9,
        }));
        assert_eq!(
            authenticator().identity(&token, NOW),
            Ok(Identity {
                player: player_for_subject("auth0|5f7c1e"),
                match_id: Some(MatchId(9)),
                role: Role::Player,
            })
        );
    }

    #[test]
    fn the_role_claim_is_player_spectator_or_admin() {
        let auth = authenticator();
        let with_role = |role: &str| {
            signed(serde_json::json!({
                "sub": "u1", "iat": NOW, "exp": NOW + 60, "role": role,
            }))
        };
        for role in Role::ALL {
            let identity = auth.identity(&with_role(role.as_str()), NOW).unwrap();
            assert_eq!(identity.role, role);
        }
        assert_eq!(
            auth.identity(&with_role("root"), NOW),
            Err(TokenRefusal::UnknownRole)
        );
        let number = signed(serde_json::json!({
            "sub": "u1", "iat": NOW, "exp": NOW + 60, "role": 2,
        }));
        assert!(auth.identity(&number, NOW).is_err());
    }

    #[test]
    fn sizes_are_checked_before_anything_is_decoded() {
        let auth = authenticator();
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(
            auth.identity(&long, NOW),
            Err(TokenRefusal::TokenTooLong(MAX_TOKEN_BYTES + 1))
        );
        let long_header = format!("{}.e30.sig", "a".repeat(MAX_HEADER_SEGMENT_BYTES + 1));
        assert_eq!(
            auth.identity(&long_header, NOW),
            Err(TokenRefusal::HeaderTooLong(MAX_HEADER_SEGMENT_BYTES + 1))
        );
        let no_dots = "a".repeat(MAX_HEADER_SEGMENT_BYTES + 1);
        assert_eq!(
            auth.identity(&no_dots, NOW),
            Err(TokenRefusal::HeaderTooLong(MAX_HEADER_SEGMENT_BYTES + 1))
        );
        for not_three_parts in ["", "a", "a.b", "a.b.c.d", "a..b.c"] {
            assert_eq!(
                auth.identity(not_three_parts, NOW),
                Err(TokenRefusal::NotAJwt),
                "{not_three_parts:?}"
            );
        }
    }

    #[test]
    fn a_wrong_signature_is_refused_before_the_header_is_read() {
        let token = signed(serde_json::json!({ "sub": "p", "exp": NOW + 60 }));
        let (message, _) = token.rsplit_once('.').expect("three parts");
        for signature in ["", "not base64!", "c2lnbmF0dXJl"] {
            let forged = format!("{message}.{signature}");
            assert_eq!(
                authenticator().identity(&forged, NOW),
                Err(TokenRefusal::SignatureMismatch)
            );
        }
        // Garbage where the header should be, under a wrong signature.
        assert_eq!(
            authenticator().identity("%%%.e30.c2lnbmF0dXJl", NOW),
            Err(TokenRefusal::SignatureMismatch)
        );
    }

    #[test]
    fn bearer_is_case_insensitive_and_the_only_scheme() {
        for value in ["Bearer abc", "bearer abc", "BEARER abc", "Bearer   abc"] {
            assert_eq!(
                presented_token(&authorization(&[value]), None),
                Ok("abc"),
                "{value:?}"
            );
        }
        for value in [
            "Basic abc",
            "abc",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearerabc",
        ] {
            assert_eq!(
                presented_token(&authorization(&[value]), Some("from-query")),
                Err(TokenRefusal::NotBearer),
                "{value:?}"
            );
        }
        assert_eq!(
            presented_token(&authorization(&["Bearer a", "Bearer b"]), None),
            Err(TokenRefusal::SeveralAuthorizations)
        );
        assert_eq!(presented_token(&HeaderMap::new(), Some("q")), Ok("q"));
        assert_eq!(
            presented_token(&HeaderMap::new(), Some("")),
            Err(TokenRefusal::Missing)
        );
        assert_eq!(
            presented_token(&HeaderMap::new(), None),
            Err(TokenRefusal::Missing)
        );
    }

    #[test]
    fn the_subject_must_be_1_to_256_bytes() {
        let with_sub = |sub: Option<String>| Claims {
            sub,
            ..claims(NOW + 60)
        };
        let check = |c: &Claims| check_claims(c, NOW, WEEK).map(|i| i.player);
        assert_eq!(check(&with_sub(None)), Err(TokenRefusal::MissingSubject));
        assert_eq!(
            check(&with_sub(Some(String::new()))),
            Err(TokenRefusal::EmptySubject)
        );
        assert_eq!(
            check(&with_sub(Some("é".repeat(129)))),
            Err(TokenRefusal::SubjectTooLong(258))
        );
        let longest = "a".repeat(MAX_SUBJECT_BYTES);
        assert_eq!(
            check(&with_sub(Some(longest.clone()))),
            Ok(player_for_subject(&longest))
        );
    }

    #[test]
    fn time_claims_are_checked_with_five_seconds_of_leeway() {
        let check = |c: Claims| check_claims(&c, NOW, WEEK).map(|_| ());
        assert_eq!(
            check(Claims {
                exp: None,
                ..claims(0)
            }),
            Err(TokenRefusal::MissingExpiry)
        );
        assert_eq!(check(claims(NOW - 5)), Err(TokenRefusal::Expired));
        assert_eq!(check(claims(NOW - 4)), Ok(()));
        let nbf = |at: i64| Claims {
            nbf: Some(at as f64),
            ..claims(NOW + 60)
        };
        assert_eq!(check(nbf(NOW + 5)), Ok(()));
        assert_eq!(check(nbf(NOW + 6)), Err(TokenRefusal::NotYetValid));
        assert_eq!(
            check(nbf(NOW + 100 * 365 * 24 * 3600)),
            Err(TokenRefusal::NotYetValid)
        );
        let iat = |at: i64| Claims {
            iat: Some(at as f64),
            ..claims(NOW + 60)
        };
        assert_eq!(check(iat(NOW + 5)), Ok(()));
        assert_eq!(check(iat(NOW + 6)), Err(TokenRefusal::IssuedInTheFuture));
        // Fractional NumericDates are allowed (RFC 7519 2).
        assert_eq!(
            check(Claims {
                exp: Some(NOW as f64 + 60.5),
                ..claims(0)
            }),
            Ok(())
        );
    }

    #[test]
    fn a_token_may_not_be_valid_for_longer_than_the_maximum_lifetime() {
        let week = WEEK.as_secs() as i64;
        let check = |c: Claims| check_claims(&c, NOW, WEEK).map(|_| ());
        assert_eq!(check(claims(NOW + week)), Ok(()));
        assert_eq!(
            check(claims(NOW + week + 6)),
            Err(TokenRefusal::ExpiresTooLate(WEEK))
        );
        assert_eq!(
            check(Claims {
                exp: Some(1e300),
                ..claims(0)
            }),
            Err(TokenRefusal::ExpiresTooLate(WEEK))
        );
        let issued = |iat: i64, exp: i64| Claims {
            iat: Some(iat as f64),
            ..claims(exp)
        };
        assert_eq!(check(issued(NOW - 60, NOW - 60 + week)), Ok(()));
        assert_eq!(
            check(issued(NOW - 60, NOW + week)),
            Err(TokenRefusal::LifetimeTooLong(WEEK))
        );
    }

    #[test]
    fn refusals_name_the_limit_in_words() {
        assert_eq!(
            TokenRefusal::SubjectTooLong(257).to_string(),
            "the token's `sub` is 257 bytes long; it may be at most 256 bytes"
        );
        assert_eq!(
            TokenRefusal::ExpiresTooLate(WEEK).to_string(),
            "the token expires too far ahead: this server accepts tokens valid for at most 7days"
        );
        assert_eq!(
            TokenRefusal::WrongAlgorithm(Algorithm::HS512).to_string(),
            "the token's header names `alg` HS512; only HS256 is accepted"
        );
    }
}
