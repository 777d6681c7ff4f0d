//! A game's whole state as bytes, for `Game::save` and `Game::restore`
//! (moving a live match to another node). Plain fixed-width fields, most
//! significant bit first, after a four-byte tag naming the game and the
//! format's version: a node never restores another game's or another
//! version's bytes as its own. Floats travel as their bits, so a restored
//! game steps on exactly as the saved one would have.

use crate::protocol::EntityId;
use crate::replicate::Replicated;
use crate::snapshot::{BitReader, BitWriter};
use glam::{IVec2, Quat, Vec3};

/// Writes a game's state.
#[derive(Debug, Default)]
pub struct SaveWriter {
    w: BitWriter,
}

impl SaveWriter {
    /// A writer whose bytes start with `tag` (e.g. `*b"AR01"`).
    pub fn new(tag: [u8; 4]) -> Self {
        let mut s = SaveWriter::default();
        s.u32(u32::from_be_bytes(tag));
        s
    }

    pub fn u32(&mut self, v: u32) {
        self.w.write_bits(v, 32);
    }

    pub fn u64(&mut self, v: u64) {
        self.u32((v >> 32) as u32);
        self.u32(v as u32);
    }

    pub fn i32(&mut self, v: i32) {
        self.u32(v as u32);
    }

    pub fn f32(&mut self, v: f32) {
        self.u32(v.to_bits());
    }

    pub fn bool(&mut self, v: bool) {
        self.w.write_bits(u32::from(v), 1);
    }

    pub fn ivec2(&mut self, v: IVec2) {
        self.i32(v.x);
        self.i32(v.y);
    }

    pub fn vec3(&mut self, v: Vec3) {
        self.f32(v.x);
        self.f32(v.y);
        self.f32(v.z);
    }

    pub fn quat(&mut self, q: Quat) {
        self.f32(q.x);
        self.f32(q.y);
        self.f32(q.z);
        self.f32(q.w);
    }

    /// A count of what follows.
    pub fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).expect("fewer than 2^32 items"));
    }

    /// A replicated struct in its wire form: what is on its grid reads back
    /// the same. The entity id and skipped fields are left out.
    pub fn wire<T: Replicated>(&mut self, value: &T) {
        value.write_full(&mut self.w);
    }

    pub fn id(&mut self, id: EntityId) {
        self.u32(id.0);
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.w.finish().to_vec()
    }
}

/// Reads what a `SaveWriter` wrote; every read is `None` past the end.
#[derive(Debug)]
pub struct SaveReader<'a> {
    r: BitReader<'a>,
}

impl<'a> SaveReader<'a> {
    /// A reader of `bytes`, if they start with `tag`.
    pub fn new(bytes: &'a [u8], tag: [u8; 4]) -> Option<Self> {
        let mut s = SaveReader {
            r: BitReader::new(bytes),
        };
        (s.u32()? == u32::from_be_bytes(tag)).then_some(s)
    }

    pub fn u32(&mut self) -> Option<u32> {
        self.r.read_bits(32).ok()
    }

    pub fn u64(&mut self) -> Option<u64> {
        Some((u64::from(self.u32()?) << 32) | u64::from(self.u32()?))
    }

    pub fn i32(&mut self) -> Option<i32> {
        Some(self.u32()? as i32)
    }

    pub fn f32(&mut self) -> Option<f32> {
        Some(f32::from_bits(self.u32()?))
    }

    pub fn bool(&mut self) -> Option<bool> {
        Some(self.r.read_bits(1).ok()? == 1)
    }

    pub fn ivec2(&mut self) -> Option<IVec2> {
        Some(IVec2::new(self.i32()?, self.i32()?))
    }

    pub fn vec3(&mut self) -> Option<Vec3> {
        Some(Vec3::new(self.f32()?, self.f32()?, self.f32()?))
    }

    pub fn quat(&mut self) -> Option<Quat> {
        Some(Quat::from_xyzw(
            self.f32()?,
            self.f32()?,
            self.f32()?,
            self.f32()?,
        ))
    }

    /// A count, refused when more items than `max` could follow.
    pub fn len(&mut self, max: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n <= max).then_some(n)
    }

    /// A replicated struct as `SaveWriter::wire` wrote it (its id default).
    pub fn wire<T: Replicated>(&mut self) -> Option<T> {
        T::read_full(&mut self.r).ok()
    }

    pub fn id(&mut self) -> Option<EntityId> {
        Some(EntityId(self.u32()?))
    }

    /// The end: only padding may be left.
    pub fn end(mut self) -> Option<()> {
        self.r.expect_end().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_back_exactly_and_a_wrong_tag_is_refused() {
        let mut w = SaveWriter::new(*b"TEST");
        w.u64(u64::MAX - 7);
        w.i32(-5);
        w.f32(-0.1);
        w.bool(true);
        w.vec3(Vec3::new(1.5, -2.25, f32::MIN_POSITIVE));
        w.quat(Quat::from_rotation_y(0.3));
        w.len(3);
        let bytes = w.finish();
        let mut r = SaveReader::new(&bytes, *b"TEST").unwrap();
        assert_eq!(r.u64(), Some(u64::MAX - 7));
        assert_eq!(r.i32(), Some(-5));
        assert_eq!(r.f32().map(f32::to_bits), Some((-0.1f32).to_bits()));
        assert_eq!(r.bool(), Some(true));
        assert_eq!(r.vec3(), Some(Vec3::new(1.5, -2.25, f32::MIN_POSITIVE)));
        assert_eq!(r.quat(), Some(Quat::from_rotation_y(0.3)));
        assert_eq!(r.len(2), None, "more items than allowed");
        assert!(SaveReader::new(&bytes, *b"ELSE").is_none());
        assert!(SaveReader::new(&bytes[..2], *b"TEST").is_none());
    }
}
