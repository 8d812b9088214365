// Shared pieces of the fuzzers: a seeded PRNG, hex, mutations, and the failure type.

/** An invariant broke: the runner prints the seed, the input index and the input. */
export class FuzzFailure extends Error {
  override name = "FuzzFailure";
}

/** Throws a {@linkcode FuzzFailure} unless `condition` holds. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new FuzzFailure(message);
}

/** xorshift128+ over two 32-bit halves each (exact in doubles); seeded by splitmix32. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next() | 1;
  }

  /** A uniform 32-bit unsigned integer (xorshift128). */
  u32(): number {
    let t = this.#a ^ (this.#a << 11);
    this.#a = this.#b;
    this.#b = this.#c;
    this.#c = this.#d;
    t = (t ^ (t >>> 8)) >>> 0;
    this.#d = (this.#d ^ (this.#d >>> 19) ^ t) >>> 0;
    return this.#d;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.u32() / 0x1_0000_0000) * n);
  }

  /** True with probability 1/n. */
  oneIn(n: number): boolean {
    return this.int(n) === 0;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** A float in [0, 1). */
  float(): number {
    return this.u32() / 0x1_0000_0000;
  }
}

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const encoder = new TextEncoder();
export const utf8 = (text: string): Uint8Array => encoder.encode(text);

/** Values that often sit on a parser's edge. */
const INTERESTING = [
  0x00,
  0x01,
  0x1e,
  0x0a,
  0x0d,
  0x20,
  0x22,
  0x2c,
  0x3a,
  0x5c,
  0x7b,
  0x7d,
  0x5b,
  0x5d,
  0x7f,
  0x80,
  0x90,
  0x91,
  0x94,
  0x95,
  0x96,
  0xa0,
  0xc0,
  0xc1,
  0xc2,
  0xc3,
  0xca,
  0xcb,
  0xcc,
  0xcf,
  0xd3,
  0xd9,
  0xdc,
  0xde,
  0xe0,
  0xed,
  0xef,
  0xf0,
  0xff,
  0xfe,
  0xbb,
  0xbf,
];
/** Byte strings worth inserting: separators, field names, numbers, UTF-8 edges. */
const TOKENS = [
  "\x1e",
  "\r\n",
  "\r",
  "\n",
  "\n\n",
  "data:",
  "data: ",
  ": c",
  "event:x",
  '{"type":',
  "2",
  "3",
  ',"invocationId":"',
  '","item":',
  '","result":',
  '"',
  "\\",
  "\\u0000",
  "\\ud800",
  "-0",
  "1e400",
  "0.1",
  "-",
  "00",
  "{}",
  "[]",
  "null",
  "true",
  '"error":',
  '"type":',
  ',"x":1',
  "}",
  '"__proto__"',
  "\ufeff",
  "\u2028",
  "😀",
  "é",
].map(utf8);

/** One random mutation of `input`, seldom more; `others` are splice donors. */
export function mutate(rng: Rng, input: Uint8Array, others: readonly Uint8Array[]): Uint8Array {
  let bytes = input;
  const rounds = 1 + (rng.oneIn(3) ? rng.int(6) : 0);
  for (let r = 0; r < rounds; r++) bytes = mutateOnce(rng, bytes, others);
  return bytes;
}

function mutateOnce(rng: Rng, bytes: Uint8Array, others: readonly Uint8Array[]): Uint8Array {
  const n = bytes.length;
  const at = rng.int(n + 1);
  switch (rng.int(10)) {
    case 0: { // flip a bit
      if (n === 0) return bytes;
      const out = bytes.slice();
      out[rng.int(n)] ^= 1 << rng.int(8);
      return out;
    }
    case 1: { // set an interesting byte
      if (n === 0) return Uint8Array.of(rng.pick(INTERESTING));
      const out = bytes.slice();
      out[rng.int(n)] = rng.oneIn(4) ? rng.int(256) : rng.pick(INTERESTING);
      return out;
    }
    case 2: // insert a token
      return splice(bytes, at, 0, rng.pick(TOKENS));
    case 3: { // delete a range
      const len = 1 + rng.int(Math.min(16, n - at + 1));
      return splice(bytes, at, Math.min(len, n - at), new Uint8Array());
    }
    case 4: { // duplicate a range
      if (n === 0) return bytes;
      const from = rng.int(n);
      const len = 1 + rng.int(Math.min(64, n - from));
      return splice(bytes, at, 0, bytes.slice(from, from + len));
    }
    case 5: { // splice in a piece of another input
      const other = rng.pick(others);
      if (!other || other.length === 0) return bytes;
      const from = rng.int(other.length);
      const len = 1 + rng.int(other.length - from);
      return splice(
        bytes,
        at,
        rng.oneIn(2) ? 0 : rng.int(n - at + 1),
        other.slice(from, from + len),
      );
    }
    case 6: // truncate
      return bytes.slice(0, at);
    case 7: { // random bytes
      const len = 1 + rng.int(8);
      const piece = new Uint8Array(len);
      for (let i = 0; i < len; i++) piece[i] = rng.int(256);
      return splice(bytes, at, 0, piece);
    }
    case 8: { // change a digit or an ASCII letter nearby
      if (n === 0) return bytes;
      const out = bytes.slice();
      const i = rng.int(n);
      out[i] = out[i] >= 0x30 && out[i] <= 0x39 ? 0x30 + rng.int(10) : (out[i] + 1) & 0xff;
      return out;
    }
    default: { // repeat a range several times (long runs: rescanning, backtracking)
      if (n === 0) return bytes;
      const from = rng.int(n);
      const len = 1 + rng.int(Math.min(8, n - from));
      const piece = bytes.slice(from, from + len);
      const times = 2 + rng.int(64);
      const out = new Uint8Array(len * times);
      for (let i = 0; i < times; i++) out.set(piece, i * len);
      return splice(bytes, at, 0, out);
    }
  }
}

function splice(bytes: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at));
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

/** Random cut points of `length`: 0 to 8 of them, sorted, or every position now and then. */
export function splits(rng: Rng, length: number): number[] {
  if (length > 1 && rng.oneIn(16) && length < 4096) {
    return Array.from({ length: length - 1 }, (_, i) => i + 1);
  }
  const cuts = new Set<number>();
  const count = rng.int(9);
  for (let i = 0; i < count; i++) cuts.add(rng.int(length + 1));
  return [...cuts].sort((a, b) => a - b);
}

/** `bytes` (or a string) cut at `cuts`. */
export function cut<T extends Uint8Array | string>(data: T, cuts: readonly number[]): T[] {
  const out: T[] = [];
  let from = 0;
  for (const c of cuts) {
    out.push(data.slice(from, c) as T);
    from = c;
  }
  out.push(data.slice(from) as T);
  return out;
}

/** A random JSON value (generated messages, structural mutations). */
export function randomJson(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 3 ? 5 : 8)) {
    case 0:
      return null;
    case 1:
      return rng.oneIn(2);
    case 2:
      return rng.int(2000) - 1000;
    case 3:
      return rng.pick([0.5, -1.25, 1e300, 2 ** 53 - 1, -(2 ** 31), 4294967295, 3.141592653589793]);
    case 4:
      return randomString(rng);
    case 5:
    case 6: {
      const o: Record<string, unknown> = {};
      const n = rng.int(4);
      for (let i = 0; i < n; i++) o[randomString(rng)] = randomJson(rng, depth + 1);
      return o;
    }
    default:
      return Array.from({ length: rng.int(4) }, () => randomJson(rng, depth + 1));
  }
}

const PIECES = [
  "a",
  "Z",
  "0",
  " ",
  "é",
  "漢",
  "😀",
  "\n",
  '"',
  "\\",
  "\x1e",
  "\u2028",
  "id",
  "\x00",
];
export function randomString(rng: Rng): string {
  let s = "";
  const n = rng.int(rng.oneIn(8) ? 300 : 8);
  for (let i = 0; i < n; i++) s += rng.pick(PIECES);
  return s;
}

const KEYS = [
  "type",
  "invocationId",
  "target",
  "arguments",
  "streamIds",
  "headers",
  "item",
  "result",
  "error",
  "allowReconnect",
  "sequenceId",
  "protocol",
  "version",
  "connectionId",
  "connectionToken",
  "negotiateVersion",
  "availableTransports",
  "transport",
  "transferFormats",
  "useStatefulReconnect",
  "url",
  "accessToken",
  "ProtocolVersion",
  "__proto__",
];
const VALUES: unknown[] = [
  0,
  1,
  2,
  3,
  6,
  7,
  8,
  9,
  10,
  -1,
  1.5,
  2 ** 53,
  "",
  "x",
  "\ud800",
  "http://h/x#f",
  "ftp://h",
  "https://h/?a=b",
  null,
  true,
  false,
  [],
  {},
  ["Text"],
  [{ transport: "WebSockets" }],
  [{ transport: "LongPolling", transferFormats: ["Text", 1] }],
];

/** A structural mutation of a JSON value: a node replaced, removed or added. */
export function mutateJson(rng: Rng, value: unknown): unknown {
  if (rng.oneIn(12)) return rng.oneIn(2) ? rng.pick(VALUES) : randomJson(rng);
  if (Array.isArray(value)) {
    const out = value.slice();
    if (out.length > 0 && !rng.oneIn(4)) {
      const i = rng.int(out.length);
      out[i] = mutateJson(rng, out[i]);
    } else if (rng.oneIn(2)) out.push(rng.pick(VALUES));
    else out.pop();
    return out;
  }
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = { ...value };
    const keys = Object.keys(out);
    const r = rng.int(4);
    if (r === 0 || keys.length === 0) out[rng.pick(KEYS)] = rng.pick(VALUES);
    else if (r === 1) delete out[rng.pick(keys)];
    else {
      const key = rng.pick(keys);
      out[key] = mutateJson(rng, out[key]);
    }
    return out;
  }
  return rng.pick(VALUES);
}

/** The time `run` takes, best of `times`, in ms. */
export async function timed(run: () => unknown, times = 3): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    await run();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

export const quiet = { log() {} };

/** One fuzz target. */
export interface Target {
  readonly name: string;
  /** The input for index i: a mutated seed, or a generated one. May check round trips itself. */
  input(rng: Rng): Uint8Array;
  /** Runs one input and checks the invariants; throws FuzzFailure (or anything) when broken. */
  run(input: Uint8Array, rng: Rng): void | Promise<void>;
  /** A work of size about n that must take linear time (the scaling check). */
  scale?(n: number): () => unknown;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function corpus(name: string): unknown {
  return JSON.parse(Deno.readTextFileSync(new URL(`./corpus/${name}`, import.meta.url)));
}
