// The handshake reader: responses cut at random points (text or bytes), with hub messages
// behind them, errors, the size limit without a separator.
import { HandshakeError } from "../../src/errors.ts";
import { HandshakeReader, type HandshakeResult } from "../../src/protocol/_handshake.ts";
import {
  check,
  concat,
  corpus,
  cut,
  mutate,
  mutateJson,
  type Rng,
  splits,
  type Target,
  utf8,
} from "./_util.ts";

const responses = corpus("handshake.json") as string[];
const messages = corpus("json.json") as string[];
const seeds = responses.flatMap((r) => [r, r + messages[1], r + messages[13]]).map(utf8);

type Outcome = { rest: Uint8Array | string | undefined } | { error: string | undefined };

/** The reference: the first separator ends the response; JSON.parse decides. */
function reference(frames: (string | Uint8Array)[], max: number): Outcome | undefined {
  const before: (string | Uint8Array)[] = [];
  let pending = 0;
  for (const frame of frames) {
    const end = typeof frame === "string" ? frame.indexOf("\x1e") : frame.indexOf(0x1e);
    if (end === -1) {
      pending += frame.length;
      if (pending > max) return { error: undefined };
      before.push(frame);
      continue;
    }
    const text = typeof frame === "string"
      ? before.join("") + frame.slice(0, end)
      : new TextDecoder().decode(concat([...before as Uint8Array[], frame.subarray(0, end)]));
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return { error: undefined };
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return { error: undefined };
    }
    const r = value as Record<string, unknown>;
    if (typeof r.error === "string") return { error: r.error };
    if (r.error !== undefined && r.error !== null) return { error: undefined };
    if ("type" in r) return { error: undefined };
    return { rest: end + 1 < frame.length ? frame.slice(end + 1) : undefined };
  }
  return undefined;
}

function same(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  return a === b;
}

export const handshakeTarget: Target = {
  name: "handshake",
  input(rng: Rng) {
    if (rng.oneIn(4)) {
      // A structural mutation of a response, then the messages behind it.
      const value = mutateJson(rng, rng.oneIn(2) ? {} : { error: "x" });
      return utf8(JSON.stringify(value) + "\x1e" + (rng.oneIn(2) ? rng.pick(messages) : ""));
    }
    return mutate(rng, rng.pick(seeds), seeds);
  },
  run(input, rng) {
    const max = rng.pick([4, 64, 1 << 16]);
    const frames: (string | Uint8Array)[] = rng.oneIn(2)
      ? cut(new TextDecoder().decode(input), splits(rng, input.length))
      : cut(input, splits(rng, input.length));
    const expected = reference(frames, max);
    const reader = new HandshakeReader(max);
    let got: HandshakeResult | undefined;
    let threw: unknown;
    for (const frame of frames) {
      try {
        got = reader.feed(frame);
      } catch (e) {
        threw = e;
        break;
      }
      if (got) break;
    }
    if (threw !== undefined) {
      check(threw instanceof HandshakeError, `threw ${threw}, not a HandshakeError`);
      check(
        expected && "error" in expected,
        `threw "${(threw as Error).message}" where the reference accepts`,
      );
      if (expected.error !== undefined) {
        check(threw.message === expected.error, `the server's error became "${threw.message}"`);
      }
    } else if (got) {
      check(expected && "rest" in expected, "accepted a response the reference refuses");
      check(same(got.rest, expected.rest), "the rest after the response differs");
    } else {
      check(expected === undefined, "incomplete where the reference decided");
    }
  },
  scale(n) {
    const text = " ".repeat(n) + "{}\x1e";
    const frames = cut(text, Array.from({ length: text.length >> 4 }, (_, i) => (i + 1) * 16));
    const bytes = cut(utf8(text), Array.from({ length: text.length >> 4 }, (_, i) => (i + 1) * 16));
    return () => {
      const r = new HandshakeReader(1 << 30);
      for (const f of frames) if (r.feed(f)) break;
      const b = new HandshakeReader(1 << 30);
      for (const f of bytes) if (b.feed(f)) break;
    };
  },
};
