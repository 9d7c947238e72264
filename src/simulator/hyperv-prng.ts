// Deterministic randomness for the simulated fleet: the same seed gives the same VMs, GUIDs and
// MAC addresses, so tests and benchmarks can name things by value.

export interface Prng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
}

/** mulberry32: tiny, fast, good enough for simulation (not for anything secret). */
export function createPrng(seed: number): Prng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int(min, max) {
      return min + Math.floor(next() * (max - min + 1));
    },
    pick(items) {
      const item = items[Math.floor(next() * items.length)];
      if (item === undefined) throw new RangeError('pick from an empty list');
      return item;
    },
  };
}

export interface IdSource {
  /** A version-4-shaped GUID in the lower-case form `[guid]::ToString()` prints. */
  guid(): string;
  /**
   * A MAC address from Hyper-V's default dynamic pool (00-15-5D-xx-xx-xx), printed as Hyper-V
   * prints `MacAddress`: 12 upper-case hex digits without separators.
   */
  mac(): string;
}

export function createIdSource(prng: Prng): IdSource {
  const hexByte = (): string => prng.int(0, 255).toString(16).padStart(2, '0');
  return {
    guid() {
      const bytes = Array.from({ length: 16 }, hexByte);
      bytes[6] = `4${bytes[6]!.slice(1)}`;
      bytes[8] = ((parseInt(bytes[8]!, 16) & 0x3f) | 0x80).toString(16);
      const h = bytes.join('');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    },
    mac() {
      return `00155D${hexByte()}${hexByte()}${hexByte()}`.toUpperCase();
    },
  };
}
