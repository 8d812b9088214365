// MessagePackHubProtocol against @microsoft/signalr-protocol-msgpack: the same bytes for every
// message type and value kind, and each decodes what the other encodes.
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { type HubMessage, MessageType } from "../../mod.ts";
import { MessagePackHubProtocol } from "../../msgpack.ts";
import { MessagePackHubProtocol as OfficialProtocol } from "npm:@microsoft/signalr-protocol-msgpack@10.0.11";

const ours = new MessagePackHubProtocol();
const official = new OfficialProtocol();
const quiet = { log() {} };

function decoder(protocol = ours) {
  return protocol.createDecoder({ maxMessageSize: 1 << 24, logger: quiet });
}

function officialBytes(message: HubMessage): Uint8Array {
  // deno-lint-ignore no-explicit-any
  return new Uint8Array(official.writeMessage(message as any));
}

function officialParse(bytes: Uint8Array): unknown[] {
  const copy = bytes.slice();
  // deno-lint-ignore no-explicit-any
  return official.parseMessages(copy.buffer, quiet as any);
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** Deep nesting: an array of `depth` arrays around a map around 1. */
function nested(depth: number): unknown {
  let value: unknown = { Leaf: 1 };
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { Level: value };
  return value;
}

const VALUES: Record<string, unknown> = {
  "nil": null,
  "false": false,
  "true": true,
  "positive fixint": 127,
  "uint8": 200,
  "uint16": 65_535,
  "uint32": 4_294_967_295,
  "uint64 (2^53 - 1)": Number.MAX_SAFE_INTEGER,
  "negative fixint": -32,
  "int8": -128,
  "int16": -32_768,
  "int32": -2_147_483_648,
  "int64 (-(2^53 - 1))": -Number.MAX_SAFE_INTEGER,
  "float64": 1.5,
  "negative float64": -0.1,
  "Infinity": Infinity,
  "empty string": "",
  "fixstr": "hello",
  "str8": "x".repeat(200),
  "str16": "y".repeat(70_000).slice(0, 60_000),
  "str32": "z".repeat(70_000),
  "unicode string": "héllo wörld ✓ 😀",
  "empty bin": new Uint8Array(0),
  "bin8": Uint8Array.from({ length: 200 }, (_, i) => i),
  "bin16": new Uint8Array(70_000 - 10).fill(7),
  "timestamp 32 (whole seconds)": new Date("2024-01-02T03:04:05Z"),
  "timestamp 64 (milliseconds)": new Date("2024-01-02T03:04:05.678Z"),
  "timestamp 96 (DateTime.MinValue)": new Date(-62_135_596_800_000),
  "timestamp 96 (year 2600)": new Date("2600-01-01T00:00:00.001Z"),
  "empty array": [],
  "fixarray": [1, "two", null, [3]],
  "array16": Array.from({ length: 20 }, (_, i) => i),
  "empty map": {},
  "map with C# member names": { Name: "Ada", Born: new Date(0), Tags: ["x"], Score: 9.5 },
  "map16": Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
  "nested 60 deep": nested(60),
};

const MESSAGES: Record<string, HubMessage> = {
  "Invocation without id": { type: MessageType.Invocation, target: "Send", arguments: ["a", 1] },
  "Invocation with id": {
    type: MessageType.Invocation,
    invocationId: "12",
    target: "Add",
    arguments: [1, 2],
  },
  "Invocation with stream ids": {
    type: MessageType.Invocation,
    invocationId: "3",
    target: "Upload",
    arguments: ["name"],
    streamIds: ["4", "5"],
  },
  "Invocation with headers": {
    type: MessageType.Invocation,
    headers: { "trace-id": "abc", "x": "" },
    target: "Send",
    arguments: [],
  },
  "StreamInvocation": {
    type: MessageType.StreamInvocation,
    invocationId: "7",
    target: "Counter",
    arguments: [10, 500],
  },
  "StreamInvocation with stream ids": {
    type: MessageType.StreamInvocation,
    invocationId: "8",
    target: "Echo",
    arguments: [],
    streamIds: ["9"],
  },
  "StreamItem": { type: MessageType.StreamItem, invocationId: "7", item: 42 },
  "StreamItem with headers": {
    type: MessageType.StreamItem,
    headers: { a: "b" },
    invocationId: "7",
    item: "x",
  },
  "Completion with a result": { type: MessageType.Completion, invocationId: "1", result: 3 },
  "Completion with a nil result": {
    type: MessageType.Completion,
    invocationId: "1",
    result: null,
  },
  "Completion of a void method": { type: MessageType.Completion, invocationId: "1" },
  "Completion with an error": {
    type: MessageType.Completion,
    invocationId: "1",
    error: "An unexpected error occurred invoking 'Fail' on the server.",
  },
  "CancelInvocation": { type: MessageType.CancelInvocation, invocationId: "7" },
  "Ping": { type: MessageType.Ping },
  "Close (as a client sends it)": { type: MessageType.Close },
  "Ack": { type: MessageType.Ack, sequenceId: 1394 },
  "Sequence": { type: MessageType.Sequence, sequenceId: 4_000_000_000 },
};

test("MessagePackHubProtocol: name, version, binary", () => {
  assert.equal(ours.name, "messagepack");
  assert.equal(ours.name, official.name);
  assert.equal(ours.version, 1);
  assert.equal(ours.transferFormat, "Binary");
});

test("MessagePackHubProtocol: every message type encodes byte for byte as the official one", () => {
  for (const [name, message] of Object.entries(MESSAGES)) {
    assert.equal(hex(ours.encode(message)), hex(officialBytes(message)), name);
  }
});

test("MessagePackHubProtocol: every value kind encodes byte for byte as the official one", () => {
  for (const [name, value] of Object.entries(VALUES)) {
    const item: HubMessage = { type: MessageType.StreamItem, invocationId: "1", item: value };
    assert.equal(hex(ours.encode(item)), hex(officialBytes(item)), `item: ${name}`);
    const call: HubMessage = {
      type: MessageType.Invocation,
      target: "Take",
      arguments: [value, value],
    };
    assert.equal(hex(ours.encode(call)), hex(officialBytes(call)), `argument: ${name}`);
  }
});

test("MessagePackHubProtocol: the Date forms are the timestamp extension's 32-, 64- and 96-bit ones", () => {
  const head = (date: Date) => {
    const bytes = ours.encode({ type: MessageType.StreamItem, invocationId: "1", item: date });
    // prefix, 94 02 80 a1 31, then the value
    return hex(bytes.subarray(6, 9));
  };
  assert.equal(head(new Date("2024-01-02T03:04:05Z")), "d6 ff 65"); // fixext 4
  assert.equal(head(new Date("2024-01-02T03:04:05.678Z")), "d7 ff a1"); // fixext 8
  assert.equal(head(new Date(-62_135_596_800_000)), "c7 0c ff"); // ext 8, 12 bytes
});

test("MessagePackHubProtocol: decodes what the official protocol encodes, every value kind", () => {
  for (const [name, value] of Object.entries(VALUES)) {
    const [message] = decoder().decode(
      officialBytes({ type: MessageType.StreamItem, invocationId: "1", item: value }),
    );
    assert.deepEqual(
      message,
      { type: MessageType.StreamItem, invocationId: "1", item: value },
      name,
    );
    const [call] = decoder().decode(
      officialBytes({ type: MessageType.Invocation, target: "T", arguments: [value] }),
    );
    assert.deepEqual(call, { type: MessageType.Invocation, target: "T", arguments: [value] }, name);
  }
});

test("MessagePackHubProtocol: decodes what the official protocol encodes, every message type", () => {
  for (const [name, message] of Object.entries(MESSAGES)) {
    const [decoded] = decoder().decode(officialBytes(message));
    const expected = message.type === MessageType.Close ? { type: MessageType.Close } : message;
    assert.deepEqual(decoded, expected, name);
  }
});

test("MessagePackHubProtocol: the official protocol decodes what ours encodes", () => {
  // It reads the message types a server sends; it adds empty headers and stream ids.
  const serverSent = [
    "Invocation with id",
    "Invocation with headers",
    "StreamItem",
    "StreamItem with headers",
    "Completion with a result",
    "Completion of a void method",
    "Completion with an error",
    "Ping",
    "Ack",
    "Sequence",
  ];
  for (const name of serverSent) {
    const message = MESSAGES[name];
    assert.deepEqual(officialParse(ours.encode(message)), officialParse(officialBytes(message)));
    const [parsed] = officialParse(ours.encode(message)) as Record<string, unknown>[];
    assert.equal(parsed.type, message.type, name);
    if ("invocationId" in message) assert.equal(parsed.invocationId, message.invocationId, name);
  }
  for (const [name, value] of Object.entries(VALUES)) {
    const bytes = ours.encode({ type: MessageType.StreamItem, invocationId: "1", item: value });
    const [parsed] = officialParse(bytes) as { item: unknown }[];
    assert.deepEqual(parsed.item, value, name);
  }
});

test("MessagePackHubProtocol: Close with error and allowReconnect, as ASP.NET Core sends it", () => {
  // [7, "bye", true]
  const bytes = Uint8Array.of(0x07, 0x93, 0x07, 0xa3, 0x62, 0x79, 0x65, 0xc3);
  assert.deepEqual(decoder().decode(bytes), [
    { type: MessageType.Close, error: "bye", allowReconnect: true },
  ]);
  // [7, nil, false] and [7, nil]
  assert.deepEqual(decoder().decode(Uint8Array.of(0x04, 0x93, 0x07, 0xc0, 0xc2)), [
    { type: MessageType.Close, allowReconnect: false },
  ]);
  assert.deepEqual(decoder().decode(Uint8Array.of(0x03, 0x92, 0x07, 0xc0)), [
    { type: MessageType.Close },
  ]);
  // What a server writes for it, and what ours encodes: the same array.
  const close: HubMessage = { type: MessageType.Close, error: "bye", allowReconnect: true };
  assert.equal(hex(ours.encode(close)), hex(bytes));
});

test("MessagePackHubProtocol: an Invocation as ASP.NET Core writes it (nil id, empty stream ids)", () => {
  // [1, {}, nil, "Receive", ["ada", 1], []]
  const body = [0x96, 0x01, 0x80, 0xc0, 0xa7, ...new TextEncoder().encode("Receive")];
  const bytes = Uint8Array.of(body.length + 7, ...body, 0x92, 0xa3, 0x61, 0x64, 0x61, 0x01, 0x90);
  assert.deepEqual(decoder().decode(bytes), [
    { type: MessageType.Invocation, target: "Receive", arguments: ["ada", 1] },
  ]);
});

test("MessagePackHubProtocol: 64-bit integers are numbers by default, bigint with useBigInt64", () => {
  // [2, {}, "1", uint64 2^53 + 1]
  const big = Uint8Array.of(0x0e, 0x94, 0x02, 0x80, 0xa1, 0x31, 0xcf, 0, 0x20, 0, 0, 0, 0, 0, 1);
  const [lossy] = decoder().decode(big) as { item: unknown }[];
  assert.equal(lossy.item, 2 ** 53); // the nearest double: documented, not exact
  const exact = new MessagePackHubProtocol({ useBigInt64: true });
  const [precise] = decoder(exact).decode(big) as { item: unknown }[];
  assert.equal(precise.item, 2n ** 53n + 1n);
  const sent = exact.encode({
    type: MessageType.StreamItem,
    invocationId: "1",
    item: 2n ** 53n + 1n,
  });
  assert.deepEqual(decoder(exact).decode(sent), [
    { type: MessageType.StreamItem, invocationId: "1", item: 2n ** 53n + 1n },
  ]);
  assert.throws(() => ours.encode({ type: MessageType.StreamItem, invocationId: "1", item: 1n }));
});

test("MessagePackHubProtocol: encoder options pass through (forceFloat32, sortKeys, ignoreUndefined)", () => {
  const message: HubMessage = {
    type: MessageType.StreamItem,
    invocationId: "1",
    item: { b: 0.5, a: undefined },
  };
  const options = { forceFloat32: true, sortKeys: true, ignoreUndefined: true };
  const theirs = new OfficialProtocol(options);
  const mine = new MessagePackHubProtocol(options);
  // deno-lint-ignore no-explicit-any
  assert.equal(hex(mine.encode(message)), hex(new Uint8Array(theirs.writeMessage(message as any))));
  assert.deepEqual(decoder(mine).decode(mine.encode(message)), [
    { type: MessageType.StreamItem, invocationId: "1", item: { b: 0.5 } },
  ]);
});

test("MessagePackHubProtocol: decoder limits pass through and end in a ProtocolError", () => {
  const strict = new MessagePackHubProtocol({ maxStrLength: 4 });
  const long = ours.encode({ type: MessageType.StreamItem, invocationId: "1", item: "too long" });
  assert.throws(() => decoder(strict).decode(long), { name: "ProtocolError" });
  const short = ours.encode({ type: MessageType.StreamItem, invocationId: "1", item: "ok" });
  assert.deepEqual(decoder(strict).decode(short), [
    { type: MessageType.StreamItem, invocationId: "1", item: "ok" },
  ]);
});

test("MessagePackHubProtocol: DateTime.MaxValue stays in year 9999 (milliseconds round down)", () => {
  // [2, {}, "1", timestamp 96: nsec 999 999 900, sec 253 402 300 799], as ASP.NET Core writes it
  const bytes = Uint8Array.of(
    0x14,
    0x94,
    0x02,
    0x80,
    0xa1,
    0x31,
    0xc7,
    0x0c,
    0xff,
    0x3b,
    0x9a,
    0xc9,
    0x9c,
    0,
    0,
    0,
    0x3a,
    0xff,
    0xf4,
    0x41,
    0x7f,
  );
  const expected = "9999-12-31T23:59:59.999Z";
  const [plain] = decoder().decode(bytes) as { item: Date }[];
  assert.equal(plain.item.toISOString(), expected);
  // With extension types of one's own too.
  const custom = new MessagePackHubProtocol({
    extensionCodec: { tryToEncode: () => null, decode: (_data, type) => `ext ${type}` },
  });
  const [mine] = decoder(custom).decode(bytes) as { item: Date }[];
  assert.equal(mine.item.toISOString(), expected);
  const [other] = decoder(custom).decode(
    Uint8Array.of(0x08, 0x94, 0x02, 0x80, 0xa1, 0x31, 0xd4, 0x05, 0x00),
  ) as { item: unknown }[];
  assert.equal(other.item, "ext 5");
});
