// The handshake request, and HandshakeReader: buffering, the messages after it, and refusals.
import "../_guard.ts";
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

/**
 * Runs `fn` with `String.prototype.indexOf` and `Uint8Array.prototype.indexOf` counting the
 * elements they may scan (from the start index to the end): the work of finding the record
 * separator, without timing.
 */
function countScans(fn: () => void): number {
  const stringIndexOf = String.prototype.indexOf;
  const bytesIndexOf = Object.getOwnPropertyDescriptor(Uint8Array.prototype, "indexOf");
  const typedIndexOf = Uint8Array.prototype.indexOf;
  let scanned = 0;
  const from = (length: number, position: number | undefined) => {
    const start = Math.trunc(position ?? 0);
    return length - (start < 0 ? Math.max(0, length + start) : Math.min(start, length));
  };
  String.prototype.indexOf = function (this: string, search: string, position?: number) {
    scanned += from(this.length, position);
    return stringIndexOf.call(this, search, position);
  };
  Object.defineProperty(Uint8Array.prototype, "indexOf", {
    configurable: true,
    writable: true,
    value: function (this: Uint8Array, search: number, position?: number) {
      scanned += from(this.length, position);
      return typedIndexOf.call(this, search, position);
    },
  });
  try {
    fn();
  } finally {
    String.prototype.indexOf = stringIndexOf;
    if (bytesIndexOf) Object.defineProperty(Uint8Array.prototype, "indexOf", bytesIndexOf);
    else delete (Uint8Array.prototype as { indexOf?: unknown }).indexOf;
  }
  return scanned;
}

test("HandshakeReader: a 1 MB response in 1 000-unit frames is scanned once (string and bytes)", () => {
  const response = `{"padding":"${"x".repeat(1_000_000)}"}`;
  const full = response + RS + '{"type":6}' + RS;
  for (const kind of ["text", "bytes"] as const) {
    const reader = new HandshakeReader(2_000_000);
    const data = kind === "text" ? full : utf8.encode(full);
    let result: ReturnType<HandshakeReader["feed"]>;
    const scanned = countScans(() => {
      for (let i = 0; result === undefined; i += 1_000) {
        result = reader.feed(data.slice(i, i + 1_000));
      }
    });
    // The last frame holds the separator and the hub message after it.
    const rest = result?.rest;
    assert.equal(
      typeof rest === "string" ? rest : new TextDecoder().decode(rest),
      '{"type":6}' + RS,
      kind,
    );
    // Rescanning the buffered response on every frame would be ~500 times the response.
    assert.ok(scanned < 3 * full.length, `${kind}: scanned ${scanned} for ${full.length}`);
  }
});

test("HandshakeReader: a response cut into many frames keeps the size limit exact", () => {
  const response = `{"padding":"${"x".repeat(100)}"}`; // ASCII: as many bytes as characters
  for (const kind of ["text", "bytes"] as const) {
    const feed = (max: number) => {
      const reader = new HandshakeReader(max);
      for (let i = 0; i < response.length; i += 7) {
        const piece = response.slice(i, i + 7);
        assert.equal(reader.feed(kind === "text" ? piece : utf8.encode(piece)), undefined);
      }
      return reader.feed(kind === "text" ? RS : utf8.encode(RS));
    };
    assert.deepEqual(feed(response.length), { rest: undefined }, kind);
    assertHandshakeError(
      () => feed(response.length - 1),
      `The handshake response exceeds ${response.length - 1} bytes without a record separator.`,
    );
  }
});
