// JSON hub protocol: framing (records cut at random points, as text or as UTF-8 bytes), the
// fast path for StreamItem/Completion, validation, the size limit; differential against
// JSON.parse; round trip of generated messages.
import { isDeepStrictEqual } from "node:util";
import { ProtocolError } from "../../src/errors.ts";
import { JsonHubProtocol, validate } from "../../src/protocol/json.ts";
import type { HubMessage } from "../../src/protocol/messages.ts";
import {
  check,
  corpus,
  cut,
  mutate,
  quiet,
  randomJson,
  randomString,
  type Rng,
  splits,
  type Target,
  utf8,
} from "./_util.ts";

const protocol = new JsonHubProtocol();
const seeds = (corpus("json.json") as string[]).concat(corpus("stateful.json") as string[])
  .map(utf8);

/** A random message of every type, in the shape the JSON protocol round-trips. */
export function randomMessage(rng: Rng, json: boolean): HubMessage {
  const id = () => rng.oneIn(4) ? randomString(rng) : String(rng.int(1000));
  const args = () => Array.from({ length: rng.int(4) }, () => value(rng, json));
  const headers = () =>
    rng.oneIn(3) ? { headers: { [rng.pick(["traceparent", "a", "é"])]: randomString(rng) } } : {};
  switch (rng.int(9)) {
    case 0:
      return {
        type: 1,
        ...headers(),
        ...(rng.oneIn(2) ? { invocationId: id() } : {}),
        target: randomString(rng),
        arguments: args(),
        ...(rng.oneIn(3) ? { streamIds: [id(), id()] } : {}),
      };
    case 1:
      return { type: 2, ...headers(), invocationId: id(), item: value(rng, json) };
    case 2: {
      const kind = rng.int(3);
      return kind === 0
        ? { type: 3, ...headers(), invocationId: id(), error: randomString(rng) }
        : kind === 1
        ? { type: 3, ...headers(), invocationId: id() }
        : { type: 3, ...headers(), invocationId: id(), result: value(rng, json) };
    }
    case 3:
      return {
        type: 4,
        ...headers(),
        invocationId: id(),
        target: randomString(rng),
        arguments: args(),
        ...(rng.oneIn(3) ? { streamIds: [id()] } : {}),
      };
    case 4:
      return { type: 5, ...headers(), invocationId: id() };
    case 5:
      return { type: 6 };
    case 6:
      return {
        type: 7,
        ...(rng.oneIn(2) ? { error: randomString(rng) } : {}),
        ...(rng.oneIn(2) ? { allowReconnect: rng.oneIn(2) } : {}),
      };
    case 7:
      return { type: 8, sequenceId: rng.int(2 ** 31) };
    default:
      return { type: 9, sequenceId: rng.int(2 ** 31) };
  }
}

function value(rng: Rng, json: boolean): unknown {
  const v = randomJson(rng);
  if (json || rng.int(4) !== 0) return v;
  return rng.oneIn(2)
    ? Uint8Array.from({ length: rng.int(20) }, () => rng.int(256))
    : new Date(Date.UTC(1 + rng.int(9000), rng.int(12), 1 + rng.int(28), 0, 0, 0, rng.int(1000)));
}

/** Known findings seen (printed by the runner). */
export const knownFindings = { v8EscapedKeys: 0 };

export const jsonTarget: Target = {
  name: "json",
  input(rng) {
    if (rng.oneIn(5)) {
      // Round trip: decode(encode(m)) equals m.
      const messages = Array.from({ length: 1 + rng.int(4) }, () => randomMessage(rng, true));
      const text = messages.map((m) => protocol.encode(m)).join("");
      const decoder = protocol.createDecoder({ maxMessageSize: 1 << 20, logger: quiet });
      const got = cut(text, splits(rng, text.length)).flatMap((f) => decoder.decode(f));
      if (
        !isDeepStrictEqual(got, messages) &&
        !isDeepStrictEqual(JSON.parse(JSON.stringify(messages)), messages)
      ) {
        // Known finding: V8 15.0 (Deno 2.9.6) itself. After JSON.parse('{"x":1,"\\\\n":2}')
        // (keys x and \n), JSON.parse('{"x":1,"\\n\\n":2}') returns the key \n, not two
        // newlines: an escaped key is matched against the cached map transition's key wrongly.
        // Not the decoder's doing (JSON.parse of the encoding gives the same), so counted.
        knownFindings.v8EscapedKeys++;
        return utf8(text);
      }
      check(
        isDeepStrictEqual(got, messages),
        `round trip: ${JSON.stringify(messages)} decoded as ${JSON.stringify(got)}`,
      );
      return rng.oneIn(2) ? utf8(text) : mutate(rng, utf8(text), seeds);
    }
    return mutate(rng, rng.pick(seeds), seeds);
  },
  run(input, rng) {
    const max = rng.pick([16, 64, 1024, 1 << 20]);
    const asText = rng.oneIn(2);
    // The reference: UTF-8 (fatal), records split at 0x1E, JSON.parse, the size limit.
    let text = "";
    let error = false;
    if (asText) text = new TextDecoder().decode(input);
    else {
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(input, { stream: true });
      } catch {
        // Not UTF-8: an error, once the decoder reaches the frame with the bad byte; the
        // records before it are the same in the text decoded with replacement.
        error = true;
        text = new TextDecoder().decode(input);
      }
    }
    const expected: HubMessage[] = [];
    {
      const records = text.split("\x1e");
      const trailing = records.pop()!;
      for (const record of records) {
        if (record.length > max) {
          error = true;
          break;
        }
        try {
          const m = validate(JSON.parse(record), quiet);
          if (m !== undefined) expected.push(m);
        } catch {
          error = true;
          break;
        }
      }
      if (trailing.length > max) error = true;
    }
    const decoder = protocol.createDecoder({ maxMessageSize: max, logger: quiet });
    const frames = asText
      ? cut(text, splits(rng, text.length))
      : cut(input, splits(rng, input.length));
    const got: HubMessage[] = [];
    let threw: unknown;
    for (const frame of frames) {
      try {
        got.push(...decoder.decode(frame));
      } catch (e) {
        threw = e;
        break;
      }
    }
    if (threw !== undefined) {
      check(threw instanceof ProtocolError, `threw ${threw}, not a ProtocolError`);
      check(error, `threw "${(threw as Error).message}" where JSON.parse accepts every record`);
      check(
        isDeepStrictEqual(got, expected.slice(0, got.length)),
        `messages before the error differ: ${JSON.stringify(got)} vs ${JSON.stringify(expected)}`,
      );
    } else {
      check(!error, "accepted input the reference refuses");
      check(
        isDeepStrictEqual(got, expected),
        `decoded ${JSON.stringify(got)} where JSON.parse gives ${JSON.stringify(expected)}`,
      );
    }
  },
  scale(n) {
    // One long record arriving in 16-character frames, then many short records in one frame.
    const long = '{"type":2,"invocationId":"1","item":"' + "a".repeat(n) + '"}\x1e';
    const frames = cut(long, Array.from({ length: long.length >> 4 }, (_, i) => (i + 1) * 16));
    const many = '{"type":2,"invocationId":"1","item":1}\x1e'.repeat(n >> 5);
    return () => {
      const d = protocol.createDecoder({ maxMessageSize: 1 << 30, logger: quiet });
      for (const f of frames) d.decode(f);
      d.decode(many);
    };
  },
};
