// The MessagePack decoder: framing (length prefixes, messages cut anywhere, the size limit), bad
// input (typed errors or skips, never a crash), and the hot reader agreeing with the generic
// decoder on every input.
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { type HubMessage, type Logger, LogLevel, MessageType, ProtocolError } from "../../mod.ts";
import { MessagePackHubProtocol } from "../../msgpack.ts";

const protocol = new MessagePackHubProtocol();
// A string limit as large as the format allows changes no result, and turns the hot reader off:
// this protocol decodes everything the generic way.
const generic = new MessagePackHubProtocol({ maxStrLength: 0xffff_ffff });
const quiet: Logger = { log() {} };

function decoder(maxMessageSize = 1 << 20, logger: Logger = quiet, p = protocol) {
  return p.createDecoder({ maxMessageSize, logger });
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** One message: `body` with its length prefix. */
function framed(...body: number[]): Uint8Array {
  assert.ok(body.length < 128);
  return Uint8Array.of(body.length, ...body);
}

function rejects(bytes: Uint8Array, pattern: RegExp, max = 1 << 20): void {
  assert.throws(() => decoder(max).decode(bytes), (error: unknown) => {
    assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${error}`);
    assert.match(error.message, pattern);
    return true;
  });
}

const SAMPLE: HubMessage[] = [
  { type: MessageType.Invocation, target: "Receive", arguments: ["ada", "héllo", 1.5, null] },
  { type: MessageType.StreamItem, invocationId: "1", item: { Name: "x", At: new Date(0) } },
  { type: MessageType.StreamItem, invocationId: "1", item: 7 },
  { type: MessageType.Completion, invocationId: "2", result: "done" },
  { type: MessageType.Completion, invocationId: "3" },
  { type: MessageType.Completion, invocationId: "4", error: "failed" },
  { type: MessageType.Ping },
  { type: MessageType.Close, error: "bye", allowReconnect: true },
];
const STREAM = concat(...SAMPLE.map((m) => protocol.encode(m)));

// ---------------------------------------------------------------------------------------------
// framing

test("MessagePack framing: several messages in one frame, in order", () => {
  assert.deepEqual(decoder().decode(STREAM), SAMPLE);
});

test("MessagePack framing: a frame cut in two at every byte position", () => {
  for (let cut = 0; cut <= STREAM.length; cut++) {
    const d = decoder();
    const messages = [...d.decode(STREAM.subarray(0, cut)), ...d.decode(STREAM.subarray(cut))];
    assert.deepEqual(messages, SAMPLE, `cut at ${cut}`);
  }
});

test("MessagePack framing: one byte per frame", () => {
  const d = decoder();
  const messages: HubMessage[] = [];
  for (let i = 0; i < STREAM.length; i++) messages.push(...d.decode(STREAM.subarray(i, i + 1)));
  assert.deepEqual(messages, SAMPLE);
});

test("MessagePack framing: a 200 KB message in 1 KB frames, and the prefix's five bytes", () => {
  const item = "x".repeat(200_000);
  const big = protocol.encode({ type: MessageType.StreamItem, invocationId: "9", item });
  assert.equal(big[0] & 0x80, 0x80); // a 3-byte prefix
  const d = decoder();
  const messages: HubMessage[] = [];
  for (let i = 0; i < big.length; i += 1024) messages.push(...d.decode(big.subarray(i, i + 1024)));
  assert.deepEqual(messages, [{ type: MessageType.StreamItem, invocationId: "9", item }]);

  // The largest prefix: 5 bytes, 2^31 - 1. Refused by the limit, but read correctly.
  rejects(
    Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x07),
    /2147483647 bytes exceeds the receive limit/,
  );
});

test("MessagePack framing: a frame holding a message's end and the next one's start", () => {
  const a = protocol.encode({
    type: MessageType.StreamItem,
    invocationId: "1",
    item: "a".repeat(300),
  });
  const b = protocol.encode({
    type: MessageType.StreamItem,
    invocationId: "1",
    item: "b".repeat(300),
  });
  const both = concat(a, b);
  const d = decoder();
  assert.deepEqual(d.decode(both.subarray(0, 100)), []);
  const middle = d.decode(both.subarray(100, a.length + 1)); // a's end and b's first prefix byte
  assert.equal(middle.length, 1);
  assert.deepEqual(d.decode(both.subarray(a.length + 1)), [
    { type: MessageType.StreamItem, invocationId: "1", item: "b".repeat(300) },
  ]);
});

test("MessagePack framing: the size limit is checked on the prefix, before buffering", () => {
  const item = "x".repeat(1000);
  const big = protocol.encode({ type: MessageType.StreamItem, invocationId: "1", item });
  // Only the prefix and one byte arrive: the limit already applies.
  rejects(big.subarray(0, 3), /of 1008 bytes exceeds the receive limit of 1000/, 1000);
  assert.equal(decoder(1008).decode(big).length, 1);
});

test("MessagePack framing: malformed prefixes, an empty message, a text frame", () => {
  rejects(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01), /length prefix is malformed/);
  rejects(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x08), /length prefix is malformed/);
  const d = decoder();
  d.decode(Uint8Array.of(0x80, 0x80, 0x80, 0x80)); // cut inside a prefix: held
  assert.throws(() => d.decode(Uint8Array.of(0x10)), /length prefix is malformed/);
  rejects(Uint8Array.of(0x00), /empty/);
  assert.throws(() => decoder().decode("{}"), (error: unknown) => {
    assert.ok(error instanceof ProtocolError);
    assert.match(error.message, /needs binary frames/);
    return true;
  });
});

// ---------------------------------------------------------------------------------------------
// bad input

test("MessagePack bad input: truncated or trailing data in a message", () => {
  rejects(framed(0x94, 0x02), /could not be decoded/); // [2, ... cut
  rejects(framed(0x94, 0x02, 0x80, 0xa1, 0x31, 0xcb, 0x3f), /could not be decoded/); // float cut
  rejects(framed(0x91, 0x06, 0x06), /could not be decoded/); // [6] then a stray byte
  rejects(framed(0xc1), /could not be decoded/); // never-used byte
});

test("MessagePack bad input: messages that are not arrays, or of the wrong shape", () => {
  rejects(framed(0x06), /non-empty array/);
  rejects(framed(0x90), /non-empty array/);
  rejects(framed(0x91, 0xa1, 0x31), /starts with the string "1", not a message type/);
  rejects(framed(0x91, 0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0), /starts with number 1.5/);
  // [1, {}, nil, "T"]: the arguments are missing
  rejects(framed(0x94, 0x01, 0x80, 0xc0, 0xa1, 0x54), /Invocation message is malformed: it has 4/);
  // [1, {}, 5, "T", []]: an id that is not a string
  rejects(framed(0x95, 0x01, 0x80, 0x05, 0xa1, 0x54, 0x90), /invocation id is number 5/);
  // [1, {}, nil, nil, []]
  rejects(framed(0x95, 0x01, 0x80, 0xc0, 0xc0, 0x90), /target is nil/);
  // [1, {}, nil, "T", 3]
  rejects(framed(0x95, 0x01, 0x80, 0xc0, 0xa1, 0x54, 0x03), /arguments are not an array/);
  // [1, {}, nil, "T", [], [1]]
  rejects(framed(0x96, 0x01, 0x80, 0xc0, 0xa1, 0x54, 0x90, 0x91, 0x01), /stream ids/);
  // [2, [], "1", 1]: headers that are not a map
  rejects(framed(0x94, 0x02, 0x90, 0xa1, 0x31, 0x01), /headers are an array, not a map/);
  // [2, {"a": 1}, "1", 1]: a header that is not a string
  rejects(framed(0x94, 0x02, 0x81, 0xa1, 0x61, 0x01, 0xa1, 0x31, 0x01), /header 'a'/);
  // [3, {}, "1", 4, 0]: an unknown completion kind
  rejects(framed(0x95, 0x03, 0x80, 0xa1, 0x31, 0x04, 0x00), /result kind number 4/);
  // [3, {}, "1", 3]: a result kind without its result
  rejects(framed(0x94, 0x03, 0x80, 0xa1, 0x31, 0x03), /at least 5/);
  // [3, {}, "1", 1, 5]: an error that is not a string
  rejects(framed(0x95, 0x03, 0x80, 0xa1, 0x31, 0x01, 0x05), /error is number 5/);
  // [7, nil, "yes"]
  rejects(framed(0x93, 0x07, 0xc0, 0xa3, 0x79, 0x65, 0x73), /allowReconnect is not a boolean/);
  // [8, "1"], [9, -1]
  rejects(framed(0x92, 0x08, 0xa1, 0x31), /sequence id is the string "1"/);
  rejects(framed(0x92, 0x09, 0xff), /sequence id is number -1/);
});

test("MessagePack bad input: an unknown message type is skipped and logged", () => {
  const entries: string[] = [];
  const logger: Logger = {
    log: (level, message) => void (level === LogLevel.Debug && entries.push(message)),
  };
  const frame = concat(
    framed(0x93, 0x63, 0xa1, 0x78, 0xc0), // [99, "x", nil]
    protocol.encode({ type: MessageType.Ping }),
  );
  assert.deepEqual(decoder(1 << 20, logger).decode(frame), [{ type: MessageType.Ping }]);
  assert.ok(entries.some((e) => /unknown type 99/.test(e)), entries.join("\n"));
});

test("MessagePack bad input: an unknown extension type arrives as ExtData, not an error", () => {
  // [2, {}, "1", fixext1 type 42 data 7]
  const [message] = decoder().decode(
    framed(0x94, 0x02, 0x80, 0xa1, 0x31, 0xd4, 0x2a, 0x07),
  ) as { item: { type: number; data: Uint8Array } }[];
  assert.equal(message.item.type, 42);
  assert.deepEqual([...message.item.data], [7]);
  // A malformed timestamp (a 5-byte payload) is an error.
  rejects(framed(0x94, 0x02, 0x80, 0xa1, 0x31, 0xc7, 0x05, 0xff, 0, 0, 0, 0, 0), /decoded/);
});

test("MessagePack bad input: 100 000 random frames end in messages or a ProtocolError", () => {
  const random = seeded(12345);
  for (let n = 0; n < 100_000; n++) {
    const base = STREAM.slice(random() % STREAM.length);
    for (let flips = 1 + (random() % 3); flips > 0; flips--) {
      base[random() % base.length] = random() & 0xff;
    }
    try {
      decoder(4096).decode(base);
    } catch (error) {
      if (!(error instanceof ProtocolError)) {
        throw new Error(`input ${Array.from(base).join(",")} threw ${error}`);
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// the hot reader against the generic decoder

test("MessagePack hot reader: the same messages as the generic decoder on hot-shaped input", () => {
  const random = seeded(777);
  const scalars = [
    0,
    1,
    127,
    128,
    255,
    256,
    65_535,
    65_536,
    2 ** 32 - 1,
    -1,
    -32,
    -33,
    -128,
    -129,
    -32_768,
    -32_769,
    -(2 ** 31),
    0.5,
    -1.25,
    1e300,
    null,
    true,
    false,
    "",
    "id",
    "x".repeat(31),
    "y".repeat(32),
    "z".repeat(255),
    "é",
    "😀 ok",
    2 ** 40,
    -(2 ** 40),
  ];
  const pick = () => scalars[random() % scalars.length];
  const messages: HubMessage[] = [];
  for (let i = 0; i < 2_000; i++) {
    const id = String(random() % 3 === 0 ? i : 1);
    switch (random() % 5) {
      case 0:
        messages.push({ type: MessageType.StreamItem, invocationId: id, item: pick() });
        break;
      case 1:
        messages.push({ type: MessageType.Completion, invocationId: id, result: pick() });
        break;
      case 2:
        messages.push({ type: MessageType.Completion, invocationId: id });
        break;
      case 3:
        messages.push({ type: MessageType.Completion, invocationId: id, error: String(pick()) });
        break;
      default:
        messages.push({
          type: MessageType.Invocation,
          ...(random() % 2 === 0 && { invocationId: id }),
          target: "T",
          arguments: Array.from({ length: random() % 4 }, pick),
          ...(random() % 2 === 0 && { streamIds: [] as string[] }),
        });
    }
  }
  const frame = concat(...messages.map((m) => protocol.encode(m)));
  const hot = decoder(1 << 20, quiet, protocol).decode(frame);
  assert.deepEqual(hot, decoder(1 << 20, quiet, generic).decode(frame));
  assert.equal(hot.length, messages.length);

  // Mutated: both decoders give the same messages, or both throw a ProtocolError.
  for (let n = 0; n < 20_000; n++) {
    const message = protocol.encode(messages[random() % messages.length]);
    message[1 + (random() % (message.length - 1))] = random() & 0xff;
    let a: unknown, b: unknown;
    try {
      a = decoder(1 << 20, quiet, protocol).decode(message);
    } catch (error) {
      a = error instanceof ProtocolError ? "ProtocolError" : error;
    }
    try {
      b = decoder(1 << 20, quiet, generic).decode(message);
    } catch (error) {
      b = error instanceof ProtocolError ? "ProtocolError" : error;
    }
    assert.deepEqual(a, b, `input ${Array.from(message).join(",")}`);
  }
});

test("MessagePack hot reader: a repeated id is read once and still compared byte by byte", () => {
  const d = decoder();
  const item = (id: string) =>
    protocol.encode({ type: MessageType.StreamItem, invocationId: id, item: 1 });
  const ids = ["7", "7", "8", "7", "77", "7"].map((id) =>
    (d.decode(item(id))[0] as { invocationId: string }).invocationId
  );
  assert.deepEqual(ids, ["7", "7", "8", "7", "77", "7"]);
});

/** A small deterministic generator (xorshift32). */
function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

test("MessagePack encoder: messages kept across its shared buffers are never overwritten", () => {
  const kept: { message: HubMessage; bytes: Uint8Array }[] = [];
  for (let i = 0; i < 5_000; i++) {
    // Small, near the 1 KB own-buffer line, and large, interleaved.
    const size = i % 50 === 0 ? 2_000 : i % 7 === 0 ? 1_000 : i % 13;
    const message: HubMessage = {
      type: MessageType.StreamItem,
      invocationId: String(i),
      item: "x".repeat(size),
    };
    kept.push({ message, bytes: protocol.encode(message) });
  }
  const d = decoder();
  for (const { message, bytes } of kept) assert.deepEqual(d.decode(bytes), [message]);
});

test("MessagePack bad input: an array announcing more elements than its message has bytes is refused before allocation", () => {
  // [2, {}, "1", array32 of 2^31 - 1 elements] in 11 bytes: refused by the array limit (the
  // message's length), not after allocating the array.
  rejects(
    framed(0x94, 0x02, 0x80, 0xa1, 0x31, 0xdd, 0x7f, 0xff, 0xff, 0xff),
    /maxArrayLength \(10\)/,
  );
  // The fuzzer's input: a map of 14 then an array32 of 31 million in a 108-byte message.
  const body = [0x95, 0x03, 0x80, 0xa2, 0x31, 0x33, 0x9e, 0x8e, 0x4f, 0x3d, 0xe0, 0x8a, 0xdd];
  rejects(framed(...body, 0x01, 0xd9, 0x63, 0x46, ...new Array(20).fill(0xc0)), /maxArrayLength/);
});
