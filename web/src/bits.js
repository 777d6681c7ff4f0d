// @ts-check
/**
 * The bit stream under snapshots and inputs (docs/PROTOCOL.md, "Bits and
 * codes"): fixed-width fields, Elias gamma and zigzag codes, most significant
 * bit first, zero-padded to a whole byte.
 *
 * JavaScript's bitwise operators work on signed 32-bit integers, so values of
 * up to 32 bits are assembled with multiplication and addition, which stay
 * exact in a Number; only the final conversions use `| 0` and `>>> 0`.
 * Reading past the end throws {@link Truncated}, never returns garbage.
 * @module
 */

/** Thrown when a read runs past the end; the field layer names the field. */
export class Truncated extends Error {
  constructor() {
    super('payload ends early');
    this.name = 'Truncated';
  }
}

/** Thrown for a gamma code longer than 33 bits or above 2^32 - 1. */
export class Malformed extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'Malformed';
  }
}

/**
 * How many binary digits `s` has (0 for 0): the width of a value in `0..=s`.
 * @param {number} s a non-negative integer up to 2^53
 */
export function bitsFor(s) {
  let n = 0;
  // Halving, not shifting: `s` may exceed 32 bits (an int's span is up to 2^32 - 1).
  while (s >= 1) {
    s = Math.floor(s / 2);
    n += 1;
  }
  return n;
}

const TWO_32 = 2 ** 32;

/** Reads a byte array as a bit stream. */
export class BitReader {
  /** @type {Uint8Array} */
  #bytes;
  /** Position in bits from the start. */
  #pos = 0;

  /** @param {Uint8Array} bytes */
  constructor(bytes) {
    this.#bytes = bytes;
  }

  /** Bits left to read. */
  get remainingBits() {
    return this.#bytes.length * 8 - this.#pos;
  }

  /**
   * The next `n` bits (0 to 32) as an unsigned integer, the first bit most significant.
   * @param {number} n
   * @returns {number}
   */
  readBits(n) {
    if (n > this.remainingBits) throw new Truncated();
    let out = 0;
    let left = n;
    while (left > 0) {
      const offset = this.#pos & 7;
      const avail = 8 - offset;
      const take = avail < left ? avail : left;
      const bits = (this.#bytes[this.#pos >>> 3] >>> (avail - take)) & ((1 << take) - 1);
      out = out * (1 << take) + bits;
      left -= take;
      this.#pos += take;
    }
    return out;
  }

  /** @returns {boolean} */
  readBit() {
    return this.readBits(1) === 1;
  }

  /**
   * `gamma()`: the Elias gamma code of `v + 1`, returning `v` (a u32).
   * @returns {number}
   */
  readGamma() {
    let zeros = 0;
    while (!this.readBit()) {
      zeros += 1;
      if (zeros > 32) throw new Malformed('gamma code longer than 33 bits');
    }
    // The terminating 1 is the top bit of v + 1; its other bits follow.
    let v = 1;
    let left = zeros;
    while (left > 0) {
      const step = left < 32 ? left : 32;
      v = v * 2 ** step + this.readBits(step);
      left -= step;
    }
    if (v - 1 >= TWO_32) throw new Malformed('gamma value exceeds 32 bits');
    return v - 1;
  }

  /**
   * `signed()`: gamma of a zigzag-coded i32.
   * @returns {number}
   */
  readSigned() {
    const z = this.readGamma();
    // z is a u32 in a Number; `>>> 1` and `& 1` read it as 32 bits.
    return (z >>> 1) ^ -(z & 1);
  }

  /** Throws unless only zero padding, fewer than 8 bits, is left. */
  expectEnd() {
    const left = this.remainingBits;
    if (left >= 8 || (left > 0 && this.readBits(left) !== 0)) {
      throw new Malformed('trailing data after the last entity');
    }
  }
}

/** Appends bits, most significant first, to a growing byte buffer. */
export class BitWriter {
  #bytes = new Uint8Array(16);
  #len = 0;
  /** Bits pending in `#acc` (fewer than 8 between calls). */
  #pending = 0;
  #acc = 0;

  /** @param {number} byte */
  #push(byte) {
    if (this.#len === this.#bytes.length) {
      const grown = new Uint8Array(this.#bytes.length * 2);
      grown.set(this.#bytes);
      this.#bytes = grown;
    }
    this.#bytes[this.#len++] = byte;
  }

  /**
   * Writes the low `n` bits (0 to 32) of the unsigned integer `value`.
   * @param {number} value
   * @param {number} n
   */
  writeBits(value, n) {
    // Byte by byte from the top, so the accumulator never holds more than
    // 15 bits and plain 32-bit operators are safe.
    for (let left = n; left > 0; ) {
      const take = left < 8 ? left : 8;
      left -= take;
      const chunk = Math.floor(value / 2 ** left) & ((1 << take) - 1);
      this.#acc = (this.#acc << take) | chunk;
      this.#pending += take;
      if (this.#pending >= 8) {
        this.#pending -= 8;
        this.#push((this.#acc >>> this.#pending) & 0xff);
        this.#acc &= (1 << this.#pending) - 1;
      }
    }
  }

  /** @param {boolean} bit */
  writeBit(bit) {
    this.writeBits(bit ? 1 : 0, 1);
  }

  /**
   * Elias gamma code of `value + 1` (`value` a u32).
   * @param {number} value
   */
  writeGamma(value) {
    const v = value + 1; // up to 2^32: 33 bits, exact in a Number
    const len = bitsFor(v);
    for (let zeros = len - 1; zeros > 0; ) {
      const step = zeros < 32 ? zeros : 32;
      this.writeBits(0, step);
      zeros -= step;
    }
    if (len > 32) {
      this.writeBits(1, 1);
      this.writeBits(v - TWO_32, 32);
    } else {
      this.writeBits(v, len);
    }
  }

  /**
   * Zigzag then gamma of an i32.
   * @param {number} value
   */
  writeSigned(value) {
    this.writeGamma(((value << 1) ^ (value >> 31)) >>> 0);
  }

  /**
   * The bytes written, the last one zero-padded. The writer can go on
   * writing after it only if no padding was needed.
   * @returns {Uint8Array}
   */
  finish() {
    if (this.#pending > 0) this.writeBits(0, 8 - this.#pending);
    return this.#bytes.slice(0, this.#len);
  }
}
