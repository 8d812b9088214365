// The Server-Sent Events parser: recorded bodies, mutated and cut into chunks at random points
// (inside UTF-8 sequences, lines and CRLFs), against a line-by-line reading of the spec.
import { isDeepStrictEqual } from "node:util";
import { ProtocolError } from "../../src/errors.ts";
import { SseParser } from "../../src/transport/_sse_parser.ts";
import {
  check,
  concat,
  corpus,
  cut,
  fromHex,
  mutate,
  type Rng,
  splits,
  type Target,
} from "./_util.ts";

const chunks = (corpus("sse.json") as string[]).map(fromHex);
const whole = concat(chunks);
// Whole events of the recording, and the recording itself.
const seeds = [
  whole,
  ...new TextDecoder().decode(whole).split("\r\n\r\n").map((e) =>
    new TextEncoder().encode(e + "\r\n\r\n")
  ),
];

/**
 * The reference (WHATWG "event stream interpretation", data only): decode with replacement,
 * drop one leading BOM, split at CRLF, CR or LF; the last piece is an unfinished line.
 */
function reference(input: Uint8Array, max: number): { events: string[]; error: boolean } {
  let text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(input, { stream: true });
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split(/\r\n|\r|\n/);
  const unfinished = lines.pop()!;
  const events: string[] = [];
  let data: string | undefined;
  const value = (line: string): string | undefined => {
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    if (field !== "data") return undefined;
    if (colon === -1) return "";
    const v = line.slice(colon + 1);
    return v.startsWith(" ") ? v.slice(1) : v;
  };
  for (const line of lines) {
    if (line === "") {
      if (data !== undefined) events.push(data);
      data = undefined;
      continue;
    }
    const v = value(line);
    if (v === undefined) continue;
    data = data === undefined ? v : data + "\n" + v;
    if (data.length > max) return { events, error: true };
  }
  // An unfinished data line counts against the limit as it grows.
  if (unfinished.startsWith("data:")) {
    const v = value(unfinished)!;
    if ((data === undefined ? 0 : data.length + 1) + v.length > max && v.length > 0) {
      return { events, error: true };
    }
  }
  return { events, error: false };
}

export const sseTarget: Target = {
  name: "sse",
  input(rng: Rng) {
    return mutate(rng, rng.pick(seeds), seeds);
  },
  run(input, rng) {
    const max = rng.pick([4, 64, 1 << 20]);
    const expected = reference(input, max);
    const parser = new SseParser(max);
    const got: string[] = [];
    let threw: unknown;
    for (const chunk of cut(input, splits(rng, input.length))) {
      try {
        got.push(...parser.push(chunk));
      } catch (e) {
        threw = e;
        break;
      }
    }
    if (threw !== undefined) {
      check(threw instanceof ProtocolError, `threw ${threw}, not a ProtocolError`);
      check(expected.error, `threw "${(threw as Error).message}" where the reference accepts`);
      check(
        isDeepStrictEqual(got, expected.events.slice(0, got.length)),
        "events before the error differ",
      );
    } else {
      check(!expected.error, "accepted a stream the reference refuses");
      check(
        isDeepStrictEqual(got, expected.events),
        `events ${JSON.stringify(got)} where the reference has ${JSON.stringify(expected.events)}`,
      );
    }
    parser.end();
  },
  scale(n) {
    // One long data line in 16-byte chunks, many short events in one chunk, a long comment.
    const long = new TextEncoder().encode("data: " + "a".repeat(n) + "\r\n\r\n");
    const pieces = cut(long, Array.from({ length: long.length >> 4 }, (_, i) => (i + 1) * 16));
    const many = new TextEncoder().encode("data: x\r\n\r\n".repeat(n >> 3));
    const comment = new TextEncoder().encode(":" + "c".repeat(n));
    const commentPieces = cut(
      comment,
      Array.from({ length: comment.length >> 4 }, (_, i) => (i + 1) * 16),
    );
    return () => {
      const p = new SseParser(1 << 30);
      for (const c of pieces) p.push(c);
      p.push(many);
      for (const c of commentPieces) p.push(c);
    };
  },
};
