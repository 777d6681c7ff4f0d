//! Encoding and size-limited decoding of messages with bincode 2's standard config.

use super::{ClientMsg, ServerMsg};
use crate::replicate::{MessageSet, Replicated};
use bincode::Decode;

/// Decoding never allocates more than this, whatever length prefixes a frame claims.
const DECODE_ALLOC_LIMIT: usize = 1 << 20;

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
}

fn limited_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<DECODE_ALLOC_LIMIT>()
}

/// Why a frame could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    #[error("message of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("message has {0} unexpected trailing bytes")]
    TrailingBytes(usize),
    #[error("protocol version {got} is not supported (this server speaks {supported})")]
    UnsupportedVersion { got: u16, supported: u16 },
}

fn decode_exact<T: Decode<()>>(bytes: &[u8], max_len: usize) -> Result<T, ProtocolError> {
    if bytes.len() > max_len {
        return Err(ProtocolError::TooLarge {
            len: bytes.len(),
            max: max_len,
        });
    }
    let (msg, used) = bincode::decode_from_slice(bytes, limited_config())
        .map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    if used != bytes.len() {
        return Err(ProtocolError::TrailingBytes(bytes.len() - used));
    }
    Ok(msg)
}

/// Decodes one client frame of at most `max_len` bytes. A `Join` with another
/// protocol version is refused here, so a decoded message is already valid.
pub fn decode_client<I: Replicated, M: MessageSet>(
    bytes: &[u8],
    max_len: usize,
) -> Result<ClientMsg<I, M>, ProtocolError> {
    let msg: ClientMsg<I, M> = decode_exact(bytes, max_len)?;
    if let ClientMsg::Join { version, .. } = &msg {
        if *version != super::PROTOCOL_VERSION {
            return Err(ProtocolError::UnsupportedVersion {
                got: *version,
                supported: super::PROTOCOL_VERSION,
            });
        }
    }
    Ok(msg)
}

/// Decodes one server frame of at most `max_len` bytes.
pub fn decode_server(bytes: &[u8], max_len: usize) -> Result<ServerMsg, ProtocolError> {
    decode_exact(bytes, max_len)
}

/// Appends the encoding of `msg` to `out`.
pub fn encode_client<I: Replicated, M: MessageSet>(msg: &ClientMsg<I, M>, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail, and every field of our messages is encodable.
    bincode::encode_into_std_write(msg, out, config()).expect("encoding into a Vec cannot fail");
}

/// Appends the encoding of `msg` to `out`.
pub fn encode_server(msg: &ServerMsg, out: &mut Vec<u8>) {
    bincode::encode_into_std_write(msg, out, config()).expect("encoding into a Vec cannot fail");
}
