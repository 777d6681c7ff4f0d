//! Bit-level writer and reader for the delta codec: fixed-width fields and
//! Elias-gamma codes, so that small residuals cost a few bits, not bytes.

use super::CodecError;

/// Appends bits, most significant first, to a reusable byte buffer.
#[derive(Debug, Default)]
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Bits pending in `acc` (fewer than 8 between calls).
    pending: u32,
    acc: u64,
}

impl BitWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Empties the writer, keeping its buffer's capacity.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.pending = 0;
        self.acc = 0;
    }

    /// Writes the low `n` bits of `value` (`n` at most 32).
    pub fn write_bits(&mut self, value: u32, n: u32) {
        debug_assert!(n <= 32);
        if n == 0 {
            return;
        }
        let masked = u64::from(value) & ((1u64 << n) - 1);
        self.acc = (self.acc << n) | masked;
        self.pending += n;
        while self.pending >= 8 {
            self.pending -= 8;
            self.bytes.push((self.acc >> self.pending) as u8);
        }
        self.acc &= (1u64 << self.pending) - 1;
    }

    pub fn write_bit(&mut self, bit: bool) {
        self.write_bits(u32::from(bit), 1);
    }

    /// Elias gamma code of `value + 1`: 1 bit for 0, 3 bits for 1..=2, 5 for 3..=6, ...
    pub fn write_gamma(&mut self, value: u32) {
        let v = u64::from(value) + 1;
        let len = 64 - v.leading_zeros(); // bits in v, 1..=33
        self.write_zeros(len - 1);
        // v has `len` significant bits; its top bit is the terminating 1.
        if len > 32 {
            self.write_bits(1, 1);
            self.write_bits(v as u32, 32);
        } else {
            self.write_bits(v as u32, len);
        }
    }

    /// Zigzag then gamma: small magnitudes of either sign are cheap.
    pub fn write_signed(&mut self, value: i32) {
        self.write_gamma(((value << 1) ^ (value >> 31)) as u32);
    }

    fn write_zeros(&mut self, mut n: u32) {
        while n > 0 {
            let step = n.min(32);
            self.write_bits(0, step);
            n -= step;
        }
    }

    /// Bits written so far.
    pub fn len_bits(&self) -> u32 {
        self.bytes.len() as u32 * 8 + self.pending
    }

    /// The bytes written so far, the last one zero-padded.
    pub fn finish(&mut self) -> &[u8] {
        if self.pending > 0 {
            let pad = 8 - self.pending;
            self.write_bits(0, pad);
        }
        &self.bytes
    }
}

/// Reads what a `BitWriter` wrote; every read past the end is an error, never a panic.
#[derive(Debug)]
pub struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position in bits from the start.
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, pos: 0 }
    }

    pub fn remaining_bits(&self) -> usize {
        self.bytes.len() * 8 - self.pos
    }

    pub fn read_bits(&mut self, n: u32) -> Result<u32, CodecError> {
        debug_assert!(n <= 32);
        if n as usize > self.remaining_bits() {
            return Err(CodecError::Truncated);
        }
        let mut out: u64 = 0;
        let mut left = n;
        while left > 0 {
            let byte = self.bytes[self.pos / 8];
            let offset = (self.pos % 8) as u32;
            let avail = 8 - offset;
            let take = avail.min(left);
            let bits = (u32::from(byte) >> (avail - take)) & ((1u32 << take) - 1);
            out = (out << take) | u64::from(bits);
            left -= take;
            self.pos += take as usize;
        }
        Ok(out as u32)
    }

    pub fn read_bit(&mut self) -> Result<bool, CodecError> {
        Ok(self.read_bits(1)? == 1)
    }

    pub fn read_gamma(&mut self) -> Result<u32, CodecError> {
        let mut zeros = 0u32;
        while !self.read_bit()? {
            zeros += 1;
            if zeros > 32 {
                return Err(CodecError::Invalid("gamma code longer than 33 bits"));
            }
        }
        // The terminating 1 was the top bit of v; read the rest.
        let mut v: u64 = 1;
        let mut left = zeros;
        while left > 0 {
            let step = left.min(32);
            v = (v << step) | u64::from(self.read_bits(step)?);
            left -= step;
        }
        u32::try_from(v - 1).map_err(|_| CodecError::Invalid("gamma value exceeds 32 bits"))
    }

    pub fn read_signed(&mut self) -> Result<i32, CodecError> {
        let z = self.read_gamma()?;
        Ok(((z >> 1) as i32) ^ -((z & 1) as i32))
    }

    /// Succeeds when only zero padding (fewer than 8 bits) is left.
    pub fn expect_end(&mut self) -> Result<(), CodecError> {
        let left = self.remaining_bits();
        if left >= 8 || (left > 0 && self.read_bits(left as u32)? != 0) {
            return Err(CodecError::Invalid("trailing data after the last entity"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gamma_costs_one_bit_for_zero() {
        let mut w = BitWriter::new();
        for _ in 0..8 {
            w.write_gamma(0);
        }
        assert_eq!(w.finish(), &[0xFF]);
    }

    #[test]
    fn reading_past_the_end_is_an_error() {
        let mut r = BitReader::new(&[0x00]);
        assert_eq!(r.read_gamma(), Err(CodecError::Truncated));
    }

    proptest! {
        #[test]
        fn every_code_round_trips(values in proptest::collection::vec((any::<u32>(), 0u32..=32, any::<i32>()), 0..64)) {
            let mut w = BitWriter::new();
            for &(v, n, s) in &values {
                w.write_gamma(v);
                w.write_bits(v, n);
                w.write_signed(s);
            }
            let bytes = w.finish().to_vec();
            let mut r = BitReader::new(&bytes);
            for &(v, n, s) in &values {
                prop_assert_eq!(r.read_gamma().unwrap(), v);
                let mask = if n == 32 { u32::MAX } else { (1u32 << n) - 1 };
                prop_assert_eq!(r.read_bits(n).unwrap(), v & mask);
                prop_assert_eq!(r.read_signed().unwrap(), s);
            }
            prop_assert!(r.expect_end().is_ok());
        }
    }
}
