// MessagePack hub protocol: VarInt framing (messages and prefixes cut at random points), the hot
// reader, the layout checks, the size limit; differential against @msgpack/msgpack's own decode
// of each message; round trip of generated messages.
import { isDeepStrictEqual } from "node:util";
import { decode, decodeTimestampToTimeSpec, EXT_TIMESTAMP, ExtensionCodec } from "@msgpack/msgpack";
import { ProtocolError } from "../../src/errors.ts";
import { MessagePackHubProtocol } from "../../msgpack.ts";
import { messageOf } from "../../src/protocol/msgpack/_layout.ts";
import type { HubMessage } from "../../src/protocol/messages.ts";
import { check, corpus, cut, fromHex, mutate, quiet, splits, type Target } from "./_util.ts";
import { randomMessage } from "./json.ts";

const protocol = new MessagePackHubProtocol();
const seeds = (corpus("msgpack.json") as string[]).slice(1).map(fromHex);
// Dates as the protocol reads them (milliseconds rounded down), for the reference.
const codec = new ExtensionCodec();
codec.register({
  type: EXT_TIMESTAMP,
  encode: () => null,
  decode: (data) => {
    const { sec, nsec } = decodeTimestampToTimeSpec(data);
    return new Date(sec * 1000 + Math.floor(nsec / 1e6));
  },
});

/** The reference: an independent VarInt reader and @msgpack/msgpack's decode per message. */
function reference(input: Uint8Array, max: number): { messages: HubMessage[]; error: boolean } {
  const messages: HubMessage[] = [];
  let pos = 0;
  while (pos < input.length) {
    let length = 0;
    let i = 0;
    for (;;) {
      if (pos + i === input.length) return { messages, error: false }; // a cut prefix
      const byte = input[pos + i];
      if (i === 4 && byte > 7) return { messages, error: true }; // > 5 bytes or > 2^31-1
      length += (byte & 0x7f) * 2 ** (7 * i);
      i++;
      if ((byte & 0x80) === 0) break;
    }
    if (length === 0 || length > max) return { messages, error: true };
    const start = pos + i;
    if (start + length > input.length) return { messages, error: false }; // a cut message
    try {
      const m = messageOf(
        // No message holds more elements than bytes: the decoder's own bound, here too.
        decode(input.subarray(start, start + length), {
          extensionCodec: codec,
          maxArrayLength: length,
        }),
        quiet,
      );
      if (m !== undefined) messages.push(m);
    } catch {
      return { messages, error: true };
    }
    pos = start + length;
  }
  return { messages, error: false };
}

export const msgpackTarget: Target = {
  name: "msgpack",
  input(rng) {
    if (rng.oneIn(5)) {
      const messages = Array.from({ length: 1 + rng.int(4) }, () => randomMessage(rng, false));
      const bytes = messages.map((m) => protocol.encode(m));
      const all = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
      let at = 0;
      for (const b of bytes) {
        all.set(b, at);
        at += b.length;
      }
      const decoder = protocol.createDecoder({ maxMessageSize: 1 << 20, logger: quiet });
      const got = cut(all, splits(rng, all.length)).flatMap((f) => decoder.decode(f));
      check(
        isDeepStrictEqual(got, messages),
        `round trip: ${Deno.inspect(messages)} → ${Deno.inspect(got)}`,
      );
      return rng.oneIn(2) ? all : mutate(rng, all, seeds);
    }
    return mutate(rng, rng.pick(seeds), seeds);
  },
  run(input, rng) {
    const max = rng.pick([8, 64, 1024, 1 << 20]);
    const expected = reference(input, max);
    const decoder = protocol.createDecoder({ maxMessageSize: max, logger: quiet });
    const got: HubMessage[] = [];
    let threw: unknown;
    for (const frame of cut(input, splits(rng, input.length))) {
      try {
        got.push(...decoder.decode(frame));
      } catch (e) {
        threw = e;
        break;
      }
    }
    if (threw !== undefined) {
      check(threw instanceof ProtocolError, `threw ${threw}, not a ProtocolError`);
      check(expected.error, `threw "${(threw as Error).message}" where the reference accepts`);
      check(
        isDeepStrictEqual(got, expected.messages.slice(0, got.length)),
        `messages before the error differ: ${Deno.inspect(got)} vs ${
          Deno.inspect(expected.messages)
        }`,
      );
    } else {
      check(!expected.error, "accepted input the reference refuses");
      check(
        isDeepStrictEqual(got, expected.messages),
        `decoded ${Deno.inspect(got)} where @msgpack/msgpack gives ${
          Deno.inspect(expected.messages)
        }`,
      );
    }
  },
  scale(n) {
    // One long message in 16-byte frames, then many short messages in one frame.
    const long = protocol.encode({ type: 2, invocationId: "1", item: "a".repeat(n) });
    const frames = cut(long, Array.from({ length: long.length >> 4 }, (_, i) => (i + 1) * 16));
    const one = protocol.encode({ type: 2, invocationId: "1", item: 1 });
    const many = new Uint8Array(one.length * (n >> 3));
    for (let i = 0; i < n >> 3; i++) many.set(one, i * one.length);
    return () => {
      const d = protocol.createDecoder({ maxMessageSize: 1 << 30, logger: quiet });
      for (const f of frames) d.decode(f);
      d.decode(many);
    };
  },
};
