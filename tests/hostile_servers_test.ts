// Hostile servers (issue 16): each misbehaviour ends in its documented outcome, a typed error or
// a skipped message, within a bound: never a crash, a hang, unbounded memory or an unhandled
// rejection. TestHub's fault knobs where they reach, a raw server where they do not.
import "./_guard.ts";
import assert from "node:assert/strict";
import {
  HandshakeError,
  HttpTransportType,
  type HubConnection,
  HubConnectionBuilder,
  HubConnectionState,
  LogLevel,
  NegotiateError,
  ProtocolError,
  type RetryContext,
  ServerCloseError,
  ServerTimeoutError,
  TransportClosedError,
} from "../mod.ts";
import { MessagePackHubProtocol } from "../msgpack.ts";
import { MessageType, TestHub } from "../testing.ts";
import { RecordingLogger, signal, within } from "./_util.ts";

const RS = "\x1e";
const encoder = new TextEncoder();

function nextClose(connection: HubConnection): Promise<Error | undefined> {
  return new Promise((resolve) => connection.onclose(resolve));
}

/**
 * A retry policy that records why it was asked and declines at once (no Reconnecting): tells
 * whether reconnect would have begun.
 */
function recordingPolicy() {
  const reasons: Error[] = [];
  return {
    reasons,
    nextRetryDelayInMilliseconds(context: RetryContext): number | null {
      reasons.push(context.retryReason);
      return null;
    },
  };
}

/** A raw HTTP server; `dispose` also ends responses still open. */
function rawServer(handler: (request: Request) => Response | Promise<Response>) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return {
    url: `http://127.0.0.1:${server.addr.port}/hub`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

const NEGOTIATE = (transport: string) =>
  Response.json({
    negotiateVersion: 1,
    connectionId: "c",
    connectionToken: "t",
    availableTransports: [{ transport, transferFormats: ["Text"] }],
  });

Deno.test("a handshake answer trickling in a byte at a time: HandshakeError at the handshake timeout", async () => {
  const timers = new Set<ReturnType<typeof setInterval>>();
  let bytesSent = 0;
  await using server = rawServer((request) => {
    if (request.method === "POST") return NEGOTIATE("WebSockets");
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = () => {
      // An answer that never ends: `{"a":"xxxx...`, one character every 20 ms.
      socket.send('{"a":"');
      const timer = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send("x"), bytesSent++;
      }, 20);
      timers.add(timer);
      socket.onclose = () => (clearInterval(timer), timers.delete(timer));
    };
    return response;
  });
  const connection = new HubConnectionBuilder().withUrl(server.url)
    .withHandshakeTimeout(400).configureLogging(LogLevel.None).build();
  const began = performance.now();
  await assert.rejects(
    within(connection.start(), 3_000, "start"),
    (e: unknown) =>
      e instanceof HandshakeError && /did not answer the handshake within 400 ms/.test(e.message),
  );
  const took = performance.now() - began;
  assert.ok(took < 2_000, `took ${took} ms`);
  assert.ok(bytesSent >= 3, `bytes kept arriving (${bytesSent})`);
  assert.equal(connection.state, HubConnectionState.Disconnected);
  for (const timer of timers) clearInterval(timer);
});

Deno.test("negotiate redirects: endless ones and loops end with NegotiateError after 100", async (t) => {
  await using hub = await TestHub.serve();
  for (
    const [name, target] of [
      ["endless", (n: number) => `${hub.url}?hop=${n}`],
      ["to itself", () => hub.url],
      ["between two URLs", (n: number) => n % 2 ? `${hub.url}?a=1` : `${hub.url}?b=1`],
    ] as const
  ) {
    await t.step(name, async () => {
      let negotiations = 0;
      hub.faults.negotiate = () => ({ redirect: target(negotiations++) });
      const connection = new HubConnectionBuilder().withUrl(hub.url)
        .configureLogging(LogLevel.None).build();
      await assert.rejects(
        within(connection.start(), 5_000, "start"),
        (e: unknown) =>
          e instanceof NegotiateError && e.message === "Negotiate failed: more than 100 redirects.",
      );
      assert.equal(negotiations, 101);
      assert.equal(connection.state, HubConnectionState.Disconnected);
    });
  }
});

Deno.test("a ping flood: calls still complete and nothing piles up", async () => {
  await using hub = await TestHub.serve({ methods: { Echo: (x: unknown) => x } });
  await using connection = new HubConnectionBuilder().withUrl(hub.url)
    .configureLogging(LogLevel.None).build();
  await connection.start();
  const server = await hub.nextConnection();
  const batch = `{"type":6}${RS}`.repeat(1_000);
  for (let i = 0; i < 20; i++) {
    const flood = server.writeRaw(batch);
    assert.equal(await within(connection.invoke("Echo", i), 5_000, "invoke"), i);
    await flood;
  }
  assert.equal(connection.state, HubConnectionState.Connected);
  // The client answers pings with nothing: only its own calls (and keep-alive) came back.
  assert.ok(server.received.filter((m) => m.type === MessageType.Ping).length < 5);
});

Deno.test("10 000 stream items for an id never opened: dropped, warned about once", async () => {
  await using hub = await TestHub.serve({ methods: { Echo: (x: unknown) => x } });
  const logger = new RecordingLogger();
  await using connection = new HubConnectionBuilder().withUrl(hub.url).configureLogging(logger)
    .build();
  await connection.start();
  const server = await hub.nextConnection();
  const items = `{"type":2,"invocationId":"77","item":"${"x".repeat(100)}"}${RS}`;
  for (let i = 0; i < 10; i++) await server.writeRaw(items.repeat(1_000));
  assert.equal(await within(connection.invoke("Echo", "after"), 5_000, "invoke"), "after");
  const warnings = logger.at(LogLevel.Warning).filter((m) => m.includes("'77'"));
  assert.equal(warnings.length, 1, warnings.slice(0, 3).join("\n"));
  assert.equal(connection.state, HubConnectionState.Connected);
});

Deno.test("a Close message of the wrong shape: ProtocolError, closed, no reconnect", async (t) => {
  await using hub = await TestHub.serve({ protocols: [new MessagePackHubProtocol()] });
  const cases: [string, boolean, string | Uint8Array][] = [
    ["error: 5", false, `{"type":7,"error":5}${RS}`],
    ['allowReconnect: "yes"', false, `{"type":7,"allowReconnect":"yes"}${RS}`],
    ["error: {}, allowReconnect: 1", false, `{"type":7,"error":{},"allowReconnect":1}${RS}`],
    // MessagePack: [7, 5] and [7, nil, "yes"], length-prefixed.
    ["msgpack error: 5", true, new Uint8Array([0x03, 0x92, 0x07, 0x05])],
    [
      'msgpack allowReconnect: "yes"',
      true,
      new Uint8Array([0x07, 0x93, 0x07, 0xc0, 0xa3, 0x79, 0x65, 0x73]),
    ],
  ];
  for (const [name, msgpack, raw] of cases) {
    await t.step(name, async () => {
      const policy = recordingPolicy();
      const builder = new HubConnectionBuilder().withUrl(hub.url).withAutomaticReconnect(policy)
        .configureLogging(LogLevel.None);
      if (msgpack) builder.withHubProtocol(new MessagePackHubProtocol());
      const connection = builder.build();
      await connection.start();
      const server = await hub.nextConnection();
      const closed = nextClose(connection);
      await server.writeRaw(raw);
      const error = await within(closed, 5_000, "close");
      assert.ok(error instanceof ProtocolError, `${error?.name}: ${error?.message}`);
      assert.equal(connection.state, HubConnectionState.Disconnected);
      assert.equal(policy.reasons.length, 0);
      await within(server.closed, 5_000, "the server sees the end");
    });
  }
});

/** Writes `text` in two raw writes cut at every position, and checks each arrives whole. */
async function splitEverywhere(transport: HttpTransportType) {
  await using hub = await TestHub.serve();
  await using connection = new HubConnectionBuilder().withUrl(hub.url, { transport })
    .configureLogging(LogLevel.None).build();
  let got = signal<unknown[]>();
  connection.on("Note", (...args) => got.fire(args));
  await connection.start();
  const server = await hub.nextConnection();
  const args = ["é€😀", { a: [1, 2.5, null] }];
  const text = JSON.stringify({ type: 1, target: "Note", arguments: args }) + RS;
  for (let at = 1; at < text.length; at++) {
    // Not between the halves of a surrogate pair: a text frame or event is whole characters.
    if (/[\udc00-\udfff]/.test(text[at])) continue;
    got = signal<unknown[]>();
    await server.writeRaw(text.slice(0, at));
    await server.writeRaw(text.slice(at));
    assert.deepEqual(await within(got.promise, 5_000, `cut at ${at}`), args);
  }
  assert.equal(connection.state, HubConnectionState.Connected);
}

Deno.test("a record cut at every position over WebSockets is decoded the same", () =>
  splitEverywhere(HttpTransportType.WebSockets));
Deno.test("a record cut at every position over Server-Sent Events is decoded the same", () =>
  splitEverywhere(HttpTransportType.ServerSentEvents));
Deno.test("a record cut at every position over Long Polling is decoded the same", () =>
  splitEverywhere(HttpTransportType.LongPolling));

Deno.test("a record cut at every byte over Long Polling, each half in its own poll, is decoded the same", async () => {
  await using hub = await TestHub.serve();
  // The polls answered with data so far, and a signal for the next one.
  let answered = 0;
  let nextAnswer = signal();
  const fetchSpy: typeof fetch = async (input, init) => {
    const response = await globalThis.fetch(input, init);
    const length = response.headers.get("Content-Length");
    if (init?.method === "GET" && response.status === 200 && length !== null && length !== "0") {
      answered++;
      nextAnswer.fire();
    }
    return response;
  };
  await using connection = new HubConnectionBuilder()
    .withUrl(hub.url, { transport: HttpTransportType.LongPolling, fetch: fetchSpy })
    .configureLogging(LogLevel.None).build();
  let got = signal<unknown[]>();
  connection.on("Note", (...args) => got.fire(args));
  await connection.start();
  const server = await hub.nextConnection();
  const args = ["é€😀"];
  const bytes = encoder.encode(
    JSON.stringify({ type: 1, target: "Note", arguments: args }) + RS,
  );
  for (let at = 1; at < bytes.length; at++) {
    got = signal<unknown[]>();
    const before = answered;
    nextAnswer = signal();
    await server.writeRaw(bytes.subarray(0, at));
    // The first half was answered to a poll of its own: the second goes in a later one.
    await within(nextAnswer.promise, 5_000, `the poll with the first ${at} bytes`);
    assert.equal(answered, before + 1);
    await server.writeRaw(bytes.subarray(at));
    assert.deepEqual(await within(got.promise, 5_000, `cut at byte ${at}`), args);
  }
});

/**
 * A WebSocket server on bare TCP, since the WebSocket API only sends the close codes 1000 and
 * 3000-4999: answers the upgrade and the handshake, then `end(conn, write)`.
 */
function rawWebSocketServer(
  end: (
    conn: Deno.Conn,
    writeFrame: (opcode: number, payload: Uint8Array) => Promise<void>,
  ) => Promise<void>,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const done: Promise<void>[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      done.push(
        serve(conn).catch(() => {}).finally(() => {
          conns.delete(conn);
          try {
            conn.close();
          } catch { /* closed already */ }
        }),
      );
    }
  })();
  async function serve(conn: Deno.Conn) {
    let buffer = new Uint8Array(0);
    const more = async () => {
      const chunk = new Uint8Array(4096);
      const n = await conn.read(chunk);
      if (n === null) throw new Error("eof");
      const joined = new Uint8Array(buffer.length + n);
      joined.set(buffer);
      joined.set(chunk.subarray(0, n), buffer.length);
      buffer = joined;
    };
    const text = () => new TextDecoder().decode(buffer);
    while (!text().includes("\r\n\r\n")) await more();
    const key = /sec-websocket-key:\s*(\S+)/i.exec(text())![1];
    const digest = await crypto.subtle.digest(
      "SHA-1",
      encoder.encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
    );
    const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
    buffer = buffer.subarray(text().indexOf("\r\n\r\n") + 4);
    await conn.write(encoder.encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    ));
    // The handshake request: one masked frame (small), read whole.
    for (;;) {
      if (buffer.length >= 2) {
        const length = buffer[1] & 0x7f;
        if (length < 126 && buffer.length >= 6 + length) break;
      }
      await more();
    }
    const writeFrame = async (opcode: number, payload: Uint8Array) => {
      const head = payload.length < 126
        ? [0x80 | opcode, payload.length]
        : [0x80 | opcode, 126, payload.length >> 8, payload.length & 0xff];
      const frame = new Uint8Array(head.length + payload.length);
      frame.set(head);
      frame.set(payload, head.length);
      await conn.write(frame);
    };
    await writeFrame(1, encoder.encode("{}" + RS));
    await end(conn, writeFrame);
  }
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/hub`,
    async [Symbol.asyncDispose]() {
      listener.close();
      await serving.catch(() => {});
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* closed already */ }
      }
      await Promise.all(done);
    },
  };
}

Deno.test("a WebSocket closed with every close code and no Close message: a lost transport", async (t) => {
  // Each code as a close frame (1005: a close frame without a code; 1006: the TCP connection
  // cut without a close frame).
  const codes = [
    1000,
    1001,
    1002,
    1003,
    1005,
    1006,
    1007,
    1008,
    1009,
    1010,
    1011,
    1012,
    1013,
    1014,
    1015,
    3000,
    4000,
    4999,
  ];
  let code = 0;
  let closeMessage: string | undefined;
  await using server = rawWebSocketServer(async (conn, writeFrame) => {
    if (closeMessage !== undefined) await writeFrame(1, encoder.encode(closeMessage + RS));
    if (code === 1006) return conn.close();
    const payload = code === 1005 ? new Uint8Array(0) : new Uint8Array([code >> 8, code & 0xff]);
    await writeFrame(8, payload);
    // Wait for the client's close frame (or the end) before closing the TCP connection.
    await conn.read(new Uint8Array(1024)).catch(() => null);
  });
  for (code of codes) {
    await t.step(String(code), async () => {
      const policy = recordingPolicy();
      const connection = new HubConnectionBuilder()
        .withUrl(server.url, { transport: HttpTransportType.WebSockets, skipNegotiation: true })
        .withAutomaticReconnect(policy).configureLogging(LogLevel.None).build();
      const closed = nextClose(connection);
      await within(connection.start(), 5_000, "start");
      const error = await within(closed, 5_000, "close");
      // Without a SignalR Close message, any end of the WebSocket is a lost transport:
      // automatic reconnect is asked, with a TransportClosedError that names the code.
      assert.equal(policy.reasons.length, 1);
      const reason = policy.reasons[0];
      assert.ok(reason instanceof TransportClosedError, `${reason.name}: ${reason.message}`);
      // Deno fails the WebSocket on a close frame with a code it deems invalid (1014, and 1015
      // which must never be sent): an abnormal end, 1006.
      const reported = code === 1014 || code === 1015 ? 1006 : code;
      assert.match(
        reason.message,
        code === 1000
          ? /^The server closed the WebSocket without a SignalR Close message\.$/
          : new RegExp(`^WebSocket closed with status code ${reported}\\b`),
      );
      // The policy declined at once: no Reconnecting, onclose gets the reason itself.
      assert.equal(error, reason);
      assert.equal(connection.state, HubConnectionState.Disconnected);
    });
  }
  // After a Close message, the close code means nothing more: the Close message decides.
  for (code of [1000, 1006, 1011, 4000]) {
    await t.step(`${code} after a Close message`, async () => {
      for (
        const [message, reconnects] of [
          ['{"type":7}', false],
          ['{"type":7,"error":"Restarting","allowReconnect":true}', true],
        ] as const
      ) {
        closeMessage = message;
        const policy = recordingPolicy();
        const connection = new HubConnectionBuilder()
          .withUrl(server.url, { transport: HttpTransportType.WebSockets, skipNegotiation: true })
          .withAutomaticReconnect(policy).configureLogging(LogLevel.None).build();
        const closed = nextClose(connection);
        await within(connection.start(), 5_000, "start");
        const error = await within(closed, 5_000, "close");
        if (reconnects) {
          assert.ok(policy.reasons[0] instanceof ServerCloseError);
          assert.equal(policy.reasons[0].serverMessage, "Restarting");
          assert.equal(error, policy.reasons[0]);
        } else {
          assert.equal(policy.reasons.length, 0);
          assert.equal(error, undefined);
        }
      }
    });
  }
  closeMessage = undefined;
});

Deno.test("a Server-Sent Events response that never sends data", async (t) => {
  await t.step("no response at all: start fails at the HTTP timeout", async () => {
    const hanging = new Set<(response: Response) => void>();
    await using server = rawServer((request) => {
      if (request.method === "POST") return NEGOTIATE("ServerSentEvents");
      return new Promise((resolve) => hanging.add(resolve));
    });
    const connection = new HubConnectionBuilder().withUrl(server.url, { timeout: 300 })
      .configureLogging(LogLevel.None).build();
    await assert.rejects(
      within(connection.start(), 3_000, "start"),
      (e: unknown) =>
        e instanceof DOMException && e.name === "TimeoutError" &&
        /did not arrive within 300 ms/.test(e.message),
    );
    for (const resolve of hanging) resolve(new Response(null, { status: 503 }));
  });

  await t.step("an event stream without the handshake answer: HandshakeError", async () => {
    await using hub = await TestHub.serve();
    hub.faults.handshake = { ignore: true };
    const connection = new HubConnectionBuilder()
      .withUrl(hub.url, { transport: HttpTransportType.ServerSentEvents })
      .withHandshakeTimeout(300).configureLogging(LogLevel.None).build();
    await assert.rejects(
      within(connection.start(), 3_000, "start"),
      (e: unknown) => e instanceof HandshakeError && /within 300 ms/.test(e.message),
    );
  });

  await t.step("silence after the handshake: ServerTimeoutError, then reconnect", async () => {
    await using hub = await TestHub.serve();
    const policy = recordingPolicy();
    const connection = new HubConnectionBuilder()
      .withUrl(hub.url, { transport: HttpTransportType.ServerSentEvents })
      .withServerTimeout(300).withKeepAliveInterval(100).withAutomaticReconnect(policy)
      .configureLogging(LogLevel.None).build();
    const closed = nextClose(connection);
    await connection.start();
    const server = await hub.nextConnection();
    server.pings = false;
    const error = await within(closed, 3_000, "close");
    assert.equal(error, policy.reasons[0]);
    assert.ok(policy.reasons[0] instanceof ServerTimeoutError, policy.reasons[0]?.message);
  });
});

Deno.test("a server gone silent: the close comes at the server timeout, not after the close bound", async (t) => {
  // A frozen server answers nothing: not the WebSocket's close frame, not a POST in flight.
  // Waiting for either would hold back onclose (and a reconnect) by the whole close bound.
  for (const transport of ["WebSockets", "ServerSentEvents"] as const) {
    await t.step(transport, async () => {
      await using hub = await TestHub.serve();
      const connection = new HubConnectionBuilder()
        .withUrl(hub.url, { transport: HttpTransportType[transport] })
        .withServerTimeout(300).withKeepAliveInterval(100).withCloseTimeout(20_000)
        .configureLogging(LogLevel.None).build();
      const closed = nextClose(connection);
      await connection.start();
      const server = await hub.nextConnection();
      await server.freeze();
      const error = await within(closed, 10_000, "close");
      assert.ok(error instanceof ServerTimeoutError, String(error));
    });
  }
});

Deno.test("a peer that never confirms the close: an injected ws socket is cut at the close bound", async () => {
  // Deno's own WebSocket keeps such a TCP connection (and the process) until the peer ends it;
  // the standard API cannot cut it. The `ws` package's sockets can: terminate().
  const { default: WS } = await import("ws");
  const ended = Promise.withResolvers<void>();
  await using server = rawWebSocketServer(async (conn) => {
    // Read everything, answer nothing (not the close frame), until the client cuts the TCP.
    const buffer = new Uint8Array(1024);
    while (await conn.read(buffer).catch(() => null) !== null) { /* ignored */ }
    ended.resolve();
  });
  const connection = new HubConnectionBuilder()
    .withUrl(server.url, {
      transport: HttpTransportType.WebSockets,
      skipNegotiation: true,
      WebSocket: WS as unknown as typeof WebSocket,
    })
    .withCloseTimeout(300).configureLogging(LogLevel.None).build();
  await within(connection.start(), 5_000, "start");
  await within(connection.stop(), 5_000, "stop");
  await within(ended.promise, 5_000, "the TCP connection's end");
});

Deno.test("a WebSocket upgrade never answered: start() fails at the HTTP timeout, the TCP connection ends", async (t) => {
  // Accepts TCP connections and answers nothing but negotiate: a WebSocket upgrade stays
  // connecting, which the WebSocket API itself never gives up.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const served: Promise<void>[] = [];
  /** Told when a connection that asked for an upgrade ends. */
  let upgradeEnded = () => {};
  const negotiate = JSON.stringify({
    negotiateVersion: 1,
    connectionId: "c",
    connectionToken: "t",
    availableTransports: [{ transport: "WebSockets", transferFormats: ["Text"] }],
  });
  const serve = async (conn: Deno.Conn, upgraded: () => void) => {
    const buffer = new Uint8Array(4096);
    let head = "";
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) return;
      head += new TextDecoder().decode(buffer.subarray(0, n));
      if (!head.includes("\r\n\r\n")) continue;
      if (/^upgrade: *websocket/im.test(head)) upgraded();
      else if (head.startsWith("POST")) {
        await conn.write(encoder.encode(
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" +
            `Content-Length: ${negotiate.length}\r\n\r\n${negotiate}`,
        ));
      }
      head = "";
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      let upgrade = false;
      served.push(
        serve(conn, () => upgrade = true).catch(() => {}).finally(() => {
          if (conns.delete(conn)) conn.close();
          if (upgrade) upgradeEnded();
        }),
      );
    }
  })();
  const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/hub`;
  try {
    for (const skipNegotiation of [true, false]) {
      await t.step(skipNegotiation ? "skipNegotiation" : "after negotiate", async () => {
        const ended = Promise.withResolvers<void>();
        upgradeEnded = ended.resolve;
        const connection = new HubConnectionBuilder()
          .withUrl(url, { transport: HttpTransportType.WebSockets, skipNegotiation, timeout: 300 })
          .withHandshakeTimeout(60_000).configureLogging(LogLevel.None).build();
        const error = await within(connection.start(), 5_000, "start").then(
          () => assert.fail("connected"),
          (e) => e,
        );
        assert.ok(error instanceof DOMException && error.name === "TimeoutError", String(error));
        assert.match(
          error.message,
          /^The WebSocket upgrade at ws:.* was not answered within 300 ms\.$/,
        );
        assert.equal(connection.state, HubConnectionState.Disconnected);
        // The client gave the attempt up: the server sees that connection end.
        await within(ended.promise, 5_000, "the TCP connection's end");
      });
    }
  } finally {
    listener.close();
    await accepting.catch(() => {});
    // Closed here, the pooled negotiate connections end their reads (BadResource, caught).
    for (const conn of [...conns]) {
      conns.delete(conn);
      conn.close();
    }
    await Promise.all(served);
  }
});

Deno.test("a poll that never returns: the poll timeout fails the connection; stop() is bounded", async (t) => {
  await using hub = await TestHub.serve();
  const build = (policy?: ReturnType<typeof recordingPolicy>) => {
    const builder = new HubConnectionBuilder()
      .withUrl(hub.url, { transport: HttpTransportType.LongPolling, pollTimeout: 300 })
      .withCloseTimeout(500).configureLogging(LogLevel.None);
    if (policy) builder.withAutomaticReconnect(policy);
    return builder.build();
  };

  await t.step("the poll timeout: a lost transport, reconnect asked", async () => {
    const policy = recordingPolicy();
    const connection = build(policy);
    const closed = nextClose(connection);
    await connection.start();
    const server = await hub.nextConnection();
    await server.freeze();
    const began = performance.now();
    const error = await within(closed, 3_000, "close");
    const took = performance.now() - began;
    assert.ok(took < 1_500, `took ${took} ms`);
    const reason = policy.reasons[0];
    assert.ok(
      reason instanceof DOMException && reason.name === "TimeoutError" &&
        /^Poll request to .* timed out after 300 ms\.$/.test(reason.message),
      `${reason?.name}: ${reason?.message}`,
    );
    assert.equal(error, reason);
    await server.drop();
  });

  await t.step("stop() while the poll hangs: within the close timeout", async () => {
    const connection = build();
    await connection.start();
    const server = await hub.nextConnection();
    await server.freeze();
    const began = performance.now();
    await within(connection.stop(), 3_000, "stop");
    const took = performance.now() - began;
    assert.ok(took < 1_000, `stop took ${took} ms`);
    assert.equal(connection.state, HubConnectionState.Disconnected);
    await server.drop();
  });
});

Deno.test("a negotiate answer of 100 MB: NegotiateError past 1 MiB, and the read is stopped", async () => {
  await using hub = await TestHub.serve();
  let pulled = 0;
  const cancelled = signal();
  hub.faults.negotiate = () =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulled >= 100 * 1024 * 1024) return controller.close();
          const chunk = new Uint8Array(64 * 1024).fill(0x20); // spaces: valid JSON padding
          if (pulled === 0) chunk[0] = 0x7b; // "{"
          pulled += chunk.length;
          controller.enqueue(chunk);
        },
        cancel: () => cancelled.fire(),
      }),
      { headers: { "Content-Type": "application/json" } },
    );
  const connection = new HubConnectionBuilder().withUrl(hub.url)
    .configureLogging(LogLevel.None).build();
  await assert.rejects(
    within(connection.start(), 5_000, "start"),
    (e: unknown) =>
      e instanceof NegotiateError &&
      e.message === "Negotiate failed: the response is larger than 1048576 bytes.",
  );
  await within(cancelled.promise, 5_000, "the server sees the response cancelled");
  // The client keeps at most 1 MiB; what the server made beyond it waits in socket buffers.
  assert.ok(pulled < 32 * 1024 * 1024, `read ${pulled} bytes`);
});

Deno.test("a MessagePack record cut at every byte over WebSockets is decoded the same", async () => {
  const protocol = new MessagePackHubProtocol();
  await using hub = await TestHub.serve({ protocols: [protocol] });
  await using connection = new HubConnectionBuilder().withUrl(hub.url).withHubProtocol(protocol)
    .configureLogging(LogLevel.None).build();
  let got = signal<unknown[]>();
  connection.on("Note", (...args) => got.fire(args));
  await connection.start();
  const server = await hub.nextConnection();
  const args = ["é€😀", { a: [1, 2.5, null] }, "x".repeat(200)]; // a 2-byte length prefix
  const bytes = protocol.encode({ type: MessageType.Invocation, target: "Note", arguments: args });
  assert.ok(bytes instanceof Uint8Array);
  for (let at = 1; at < bytes.length; at++) {
    got = signal<unknown[]>();
    await server.writeRaw(bytes.subarray(0, at));
    await server.writeRaw(bytes.subarray(at));
    assert.deepEqual(await within(got.promise, 5_000, `cut at byte ${at}`), args);
  }
});
