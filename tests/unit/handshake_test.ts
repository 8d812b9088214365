// The handshake request, and HandshakeReader: buffering, the messages after it, and refusals.
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { HandshakeError, type HubProtocol, JsonHubProtocol } from "../../mod.ts";
import { HandshakeReader, handshakeRequest } from "../../src/protocol/_handshake.ts";

const RS = "\x1e";
const utf8 = new TextEncoder();

function assertHandshakeError(feed: () => unknown, pattern: RegExp | string): void {
  assert.throws(feed, (error: unknown) => {
    assert.ok(error instanceof HandshakeError, `expected HandshakeError, got ${error}`);
    assert.equal(error.name, "HandshakeError");
    if (typeof pattern === "string") assert.equal(error.message, pattern);
    else assert.match(error.message, pattern);
    return true;
  });
}

test("handshakeRequest: JSON protocol name and version plus the separator", () => {
  assert.equal(handshakeRequest(new JsonHubProtocol()), '{"protocol":"json","version":1}' + RS);
});

test("handshakeRequest: another protocol, and an explicit version (stateful reconnect)", () => {
  const msgpack = { name: "messagepack", version: 1 } as HubProtocol;
  assert.equal(handshakeRequest(msgpack), '{"protocol":"messagepack","version":1}' + RS);
  assert.equal(handshakeRequest(msgpack, 2), '{"protocol":"messagepack","version":2}' + RS);
});

test("HandshakeReader: {} response as a string, nothing after it", () => {
  const result = new HandshakeReader(1024).feed("{}" + RS);
  assert.deepEqual(result, { rest: undefined });
});

test("HandshakeReader: {} response as bytes, nothing after it", () => {
  const result = new HandshakeReader(1024).feed(utf8.encode("{}" + RS));
  assert.deepEqual(result, { rest: undefined });
});

test("HandshakeReader: unknown fields in a successful response are ignored", () => {
  assert.deepEqual(new HandshakeReader(1024).feed('{"minorVersion":1}' + RS), { rest: undefined });
});

test("HandshakeReader: messages after the response in the same string frame are the rest", () => {
  const messages = '{"type":6}' + RS + '{"type":1,"target":"Hi","arguments":[]}' + RS;
  const result = new HandshakeReader(1024).feed("{}" + RS + messages);
  assert.equal(result?.rest, messages);
});

test("HandshakeReader: messages after the response in the same byte frame are the rest", () => {
  const messages = utf8.encode('{"type":6}' + RS);
  const binaryMessage = new Uint8Array([0x02, 0x91, 0x06, 0x1e, 0xff]); // any bytes, even RS
  const frame = new Uint8Array([...utf8.encode("{}" + RS), ...messages, ...binaryMessage]);
  const result = new HandshakeReader(1024).feed(frame);
  assert.ok(result?.rest instanceof Uint8Array);
  assert.deepEqual([...result.rest], [...messages, ...binaryMessage]);
});

test("HandshakeReader: a response split across string frames", () => {
  const reader = new HandshakeReader(1024);
  assert.equal(reader.feed("{"), undefined);
  assert.equal(reader.feed(""), undefined);
  assert.equal(reader.feed("}"), undefined);
  assert.deepEqual(reader.feed(RS + '{"type":6}' + RS), { rest: '{"type":6}' + RS });
});

test("HandshakeReader: a response split across byte frames at every position", () => {
  const frame = utf8.encode('{"x":"é😀"}' + RS + '{"type":6}' + RS);
  for (let i = 0; i < frame.length - 1; i++) {
    const reader = new HandshakeReader(1024);
    const first = reader.feed(frame.subarray(0, i));
    const rsAt = frame.indexOf(0x1e);
    if (i > rsAt) {
      assert.ok(first !== undefined, `split at ${i}: complete in the first frame`);
      continue;
    }
    assert.equal(first, undefined, `split at ${i}`);
    const result = reader.feed(frame.subarray(i));
    assert.ok(result?.rest instanceof Uint8Array, `split at ${i}`);
    assert.equal(new TextDecoder().decode(result.rest), '{"type":6}' + RS, `split at ${i}`);
  }
});

test("HandshakeReader: {error} → HandshakeError with exactly the server's text", () => {
  const text = "The protocol 'xml' is not supported. 日本語 😀";
  assertHandshakeError(
    () => new HandshakeReader(1024).feed(JSON.stringify({ error: text }) + RS),
    text,
  );
  assertHandshakeError(
    () => new HandshakeReader(1024).feed(utf8.encode(JSON.stringify({ error: text }) + RS)),
    text,
  );
});

test("HandshakeReader: {error} split across frames → HandshakeError", () => {
  const reader = new HandshakeReader(1024);
  assert.equal(reader.feed('{"error":"Handshake was '), undefined);
  assertHandshakeError(() => reader.feed('canceled."}' + RS), "Handshake was canceled.");
});

test("HandshakeReader: a non-string error → HandshakeError", () => {
  assertHandshakeError(() => new HandshakeReader(1024).feed('{"error":42}' + RS), /non-string/);
});

test("HandshakeReader: non-JSON → HandshakeError", () => {
  assertHandshakeError(() => new HandshakeReader(1024).feed("HTTP/1.1 200" + RS), /not valid JSON/);
  assertHandshakeError(() => new HandshakeReader(1024).feed(RS), /not valid JSON/);
  assertHandshakeError(
    () => new HandshakeReader(1024).feed(new Uint8Array([0x91, 0x06, 0x1e])),
    /not valid JSON/,
  );
});

test("HandshakeReader: a JSON value that is not an object → HandshakeError", () => {
  for (const json of ["[]", "null", "1", '"ok"']) {
    assertHandshakeError(() => new HandshakeReader(1024).feed(json + RS), /not a JSON object/);
  }
});

test("HandshakeReader: a hub message instead of the response → HandshakeError", () => {
  assertHandshakeError(() => new HandshakeReader(1024).feed('{"type":6}' + RS), /hub message/);
  assertHandshakeError(
    () => new HandshakeReader(1024).feed('{"type":1,"target":"x","arguments":[]}' + RS),
    /hub message/,
  );
  // A Close with an error in place of the response still fails the handshake (with its text).
  assertHandshakeError(() => new HandshakeReader(1024).feed('{"type":7,"error":"x"}' + RS), "x");
  assertHandshakeError(() => new HandshakeReader(1024).feed('{"type":7}' + RS), /hub message/);
});

test("HandshakeReader: oversized without a separator → HandshakeError (string and bytes)", () => {
  const text = new HandshakeReader(16);
  assert.equal(text.feed("{".padEnd(16, " ")), undefined); // exactly the limit: still waiting
  assertHandshakeError(() => text.feed(" "), /exceeds 16 bytes/);

  const bytes = new HandshakeReader(16);
  assert.equal(bytes.feed(utf8.encode("{".padEnd(10, " "))), undefined);
  assertHandshakeError(() => bytes.feed(utf8.encode(" ".repeat(10))), /exceeds 16 bytes/);
});
