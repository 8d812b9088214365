// The WebSocket transport on an injected constructor: framing, failures, bounded close, and
// what it assumes (nothing) about the runtime's globals.
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { TransportClosedError } from "../../mod.ts";
import { webSocketTransport, writesWholeFrames } from "../../src/transport/_websocket.ts";
import { userAgentOf } from "../../src/connection/_connect.ts";
import { HttpClient } from "../../src/http/_http_client.ts";
import type { Transport, TransportConnectOptions } from "../../src/transport/transport.ts";
import type { WebSocketConstructor } from "../../src/connection/http_connection_options.ts";

interface FakeBehaviour {
  /** Throw a SyntaxError when given an options object, like a browser's WebSocket. */
  browser?: boolean;
  /** Throw from the n-th send (1-based). */
  throwOnSend?: number;
  /** Never confirm a close (a peer that hung). */
  silentClose?: boolean;
  /** Stay connecting: a server that never answers the upgrade. */
  neverOpen?: boolean;
  /** Have `terminate()`, like the `ws` package's sockets. */
  terminate?: boolean;
}

function fakeWebSocket(behaviour: FakeBehaviour = {}) {
  const sockets: FakeSocket[] = [];
  // No static OPEN/CLOSED: the transport must not need them.
  class FakeSocket extends EventTarget {
    readonly url: string;
    readonly options: unknown;
    binaryType = "blob";
    readyState = 0;
    bufferedAmount = 0;
    readonly sent: unknown[] = [];
    closeCode: number | undefined;
    terminated = 0;
    constructor(url: string, options?: unknown) {
      if (behaviour.browser && typeof options === "object" && !Array.isArray(options)) {
        throw new DOMException("The subprotocol '[object Object]' is invalid.", "SyntaxError");
      }
      super();
      this.url = url;
      this.options = options;
      sockets.push(this);
      if (behaviour.neverOpen) return;
      queueMicrotask(() => {
        this.readyState = 1;
        this.dispatchEvent(new Event("open"));
      });
    }
    send(data: unknown) {
      if (this.sent.length + 1 === behaviour.throwOnSend) throw new Error("send failed");
      this.sent.push(data);
    }
    close(code = 1000) {
      this.closeCode = code;
      if (this.readyState === 3) return;
      this.readyState = 2;
      if (behaviour.silentClose) return;
      queueMicrotask(() => {
        this.readyState = 3;
        this.dispatchEvent(new CloseEvent("close", { code, wasClean: true }));
      });
    }
  }
  // The `ws` package's way to drop the TCP connection without a closing handshake.
  class TerminableSocket extends FakeSocket {
    terminate() {
      this.terminated++;
    }
  }
  const constructor = behaviour.terminate ? TerminableSocket : FakeSocket;
  return { WebSocket: constructor as unknown as WebSocketConstructor, sockets };
}

function options(overrides: Partial<TransportConnectOptions> = {}) {
  const closes: (Error | undefined)[] = [];
  const opts: TransportConnectOptions = {
    url: "http://h/hub?id=abc",
    transferFormat: "Text",
    headers: { Authorization: "Bearer tok", "X-Tenant": "a" },
    accessToken: "tok",
    receiver: { onFrame() {}, onClose: (error) => closes.push(error) },
    http: new HttpClient({ fetch: () => Promise.reject(new Error("no HTTP here")) }),
    signal: undefined,
    logger: { log() {} },
    ...overrides,
  };
  return { opts, closes };
}

/** The opening's bound in most tests: far beyond what a fake socket takes to open. */
const BOUND = { connectTimeout: 10_000 };

const record = (i: number) => `{"type":1,"target":"T","arguments":[${i}]}\x1e`;

test("WebSocket: headers where the constructor takes them, the token in the query where not", async () => {
  const runtime = fakeWebSocket();
  const live = await webSocketTransport(runtime.WebSocket, BOUND).connect(options().opts);
  assert.equal(runtime.sockets[0].url, "ws://h/hub?id=abc");
  assert.deepEqual(runtime.sockets[0].options, {
    headers: { Authorization: "Bearer tok", "X-Tenant": "a" },
  });
  await live.close(1_000);

  const browser = fakeWebSocket({ browser: true });
  const inBrowser = await webSocketTransport(browser.WebSocket, BOUND).connect(options().opts);
  assert.equal(browser.sockets[0].url, "ws://h/hub?id=abc&access_token=tok");
  assert.equal(browser.sockets[0].options, undefined);
  await inBrowser.close(1_000);
});

test("WebSocket: sends with no global WebSocket (Node 20 with an injected constructor)", async () => {
  const { WebSocket, sockets } = fakeWebSocket();
  const live = await webSocketTransport(WebSocket, BOUND).connect(options().opts);
  const global = globalThis as { WebSocket?: unknown };
  const saved = global.WebSocket;
  delete global.WebSocket;
  try {
    assert.equal(live.send([record(1)], record(1).length), undefined);
  } finally {
    global.WebSocket = saved;
  }
  assert.deepEqual(sockets[0].sent, [record(1)]);
  await live.close(1_000);
});

test("WebSocket: a small batch goes as ~1 KB frames, a large one as 32 KB frames", async () => {
  const { WebSocket, sockets } = fakeWebSocket();
  const live = await webSocketTransport(WebSocket, BOUND).connect(options().opts);
  const small = Array.from({ length: 64 }, (_, i) => record(i));
  live.send(small, small.join("").length);
  assert.ok(sockets[0].sent.length > 1);
  for (const frame of sockets[0].sent) assert.ok((frame as string).length <= 1_000);
  assert.equal(sockets[0].sent.join(""), small.join(""));
  sockets[0].sent.length = 0;
  const large = Array.from({ length: 2_000 }, (_, i) => record(i));
  live.send(large, large.join("").length);
  for (const frame of sockets[0].sent) assert.ok((frame as string).length <= 32 * 1024);
  assert.ok(sockets[0].sent.length < 5);
  await live.close(1_000);
});

test("WebSocket: only Node's own WebSocket writes a small batch whole", () => {
  const NodeWebSocket = class {};
  const node = { WebSocket: NodeWebSocket, process: { versions: { node: "26.10.0" } } };
  assert.equal(writesWholeFrames(NodeWebSocket, node), true);
  // Injected (the ws package), or Deno's and Bun's (which define process as well).
  assert.equal(writesWholeFrames(class {}, node), false);
  assert.equal(writesWholeFrames(NodeWebSocket, { ...node, Deno: {} }), false);
  assert.equal(writesWholeFrames(NodeWebSocket, { ...node, Bun: {} }), false);
  assert.equal(writesWholeFrames(NodeWebSocket, { WebSocket: NodeWebSocket }), false);
  assert.equal(writesWholeFrames(globalThis.WebSocket), false);
});

test("WebSocket: one frame of a batch failing rejects the batch once and closes with it", async () => {
  const { WebSocket } = fakeWebSocket({ throwOnSend: 2 });
  const { opts, closes } = options();
  const live: Transport = await webSocketTransport(WebSocket, BOUND).connect(opts);
  const batch = Array.from({ length: 64 }, (_, i) => record(i));
  const sent = live.send(batch, batch.join("").length);
  assert.ok(sent instanceof Promise);
  await assert.rejects(sent, TransportClosedError);
  await live.close(1_000);
  assert.equal(closes.length, 1);
  assert.ok(closes[0] instanceof TransportClosedError, "the end carries the send's error");
  await assert.rejects(
    Promise.resolve(live.send([record(1)], 1)),
    TransportClosedError,
    "a closed transport refuses, it does not throw",
  );
});

test("WebSocket: close() settles within its bound when the peer never confirms", async () => {
  const { WebSocket, sockets } = fakeWebSocket({ silentClose: true });
  const { opts, closes } = options();
  const live = await webSocketTransport(WebSocket, BOUND).connect(opts);
  await live.close(20);
  assert.equal(sockets[0].closeCode, 1000);
  assert.deepEqual(closes, [undefined], "the end is reported once, as asked for");
  await live.close(20); // again: at once
});

test("WebSocket: an upgrade never answered fails at the connect bound and closes the socket", async () => {
  const { WebSocket, sockets } = fakeWebSocket({ neverOpen: true });
  const { opts, closes } = options();
  const error = await webSocketTransport(WebSocket, { connectTimeout: 20 }).connect(opts).then(
    () => assert.fail("connected"),
    (e) => e,
  );
  assert.ok(error instanceof DOMException && error.name === "TimeoutError", String(error));
  assert.match(error.message, /not answered within 20 ms/);
  assert.ok(!error.message.includes("abc"), "the connection token stays out of the message");
  assert.equal(sockets[0].closeCode, 1000, "the connection attempt was given up");
  assert.deepEqual(closes, [], "a failed connect is not an end to report");
});

test("WebSocket: a socket with terminate() is cut past the close bound, and only then", async () => {
  const silent = fakeWebSocket({ silentClose: true, terminate: true });
  const live = await webSocketTransport(silent.WebSocket, BOUND).connect(options().opts);
  await live.close(20);
  assert.equal(silent.sockets[0].terminated, 1);

  const answering = fakeWebSocket({ terminate: true });
  const { opts, closes } = options();
  const confirmed = await webSocketTransport(answering.WebSocket, BOUND).connect(opts);
  await confirmed.close(20);
  assert.deepEqual(closes, [undefined]);
  // No timer is left to cut it later: the timer sanitizer would fail the test.
  assert.equal(answering.sockets[0].terminated, 0, "a confirmed close needs no cut");
});

test("user agent: Bun is Bun (it also has process.versions.node), then Node, Deno, browsers", () => {
  const bun = { Bun: { version: "1.2.0" }, process: { versions: { node: "22.6.0" } } };
  assert.match(userAgentOf(bun), /\(Bun; 1\.2\.0\)$/);
  assert.match(userAgentOf({ process: { versions: { node: "22.6.0" } } }), /\(NodeJS; 22\.6\.0\)/);
  assert.match(userAgentOf(globalThis), /\(Deno; /);
  assert.match(userAgentOf({}), /\(Browser\)$/);
});
