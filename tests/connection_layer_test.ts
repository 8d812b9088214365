// The connection layer: lifecycle (one state machine), bounded closes, typed failures, and the
// defects of issue 10, each with a test that failed before its fix. Loopback against TestHub,
// or a bare Deno.serve where TestHub cannot misbehave the way a test needs.
import "./_guard.ts";
import assert from "node:assert/strict";
import {
  ConnectionClosedError,
  type HubConnection,
  HubConnectionBuilder,
  type HubConnectionStateChange,
  LogLevel,
  NegotiateError,
  NotConnectedError,
  ReconnectError,
  ServerCloseError,
  ServerTimeoutError,
  TransportClosedError,
} from "../mod.ts";
import { type HubMessage, MessageType, TestHub, TestHubError } from "../testing.ts";
import { bareHub, within } from "./_util.ts";

const RS = "\x1e";

/** Resolves with the error of the connection's next onclose. */
function nextClose(connection: HubConnection): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const off = connection.onclose((error) => {
      off();
      resolve(error);
    });
  });
}

function states(connection: HubConnection): HubConnectionStateChange[] {
  const changes: HubConnectionStateChange[] = [];
  connection.onstatechange((change) => changes.push(change));
  return changes;
}

/**
 * The runtime's WebSocket, recording every socket: a test whose peer never answers the close
 * waits on `allClosed()` after closing the hub, so that no socket outlives it.
 */
function trackedWebSocket() {
  const closed: Promise<unknown>[] = [];
  class Tracked extends WebSocket {
    constructor(url: string | URL, options?: string | string[] | { headers?: HeadersInit }) {
      super(url, options as string[]);
      closed.push(new Promise((resolve) => this.addEventListener("close", resolve)));
    }
  }
  return { WebSocket: Tracked, allClosed: () => Promise.all(closed) };
}

function build(url: string, configure = (b: HubConnectionBuilder) => b): HubConnection {
  return configure(new HubConnectionBuilder().withUrl(url).configureLogging(LogLevel.None))
    .build();
}

// ---- lifecycle API ------------------------------------------------------------------------

Deno.test("lifecycle: every state change goes through onstatechange, in order", async () => {
  await using hub = await TestHub.serve();
  const connection = build(hub.url);
  const changes = states(connection);
  await connection.start();
  await connection.stop();
  assert.deepEqual(changes.map((c) => `${c.previous}>${c.state}`), [
    "Disconnected>Connecting",
    "Connecting>Connected",
    "Connected>Disconnecting",
    "Disconnecting>Disconnected",
  ]);
});

Deno.test("lifecycle: onclose, onreconnecting, onreconnected and onstatechange unsubscribe", async () => {
  await using hub = await TestHub.serve();
  const connection = build(hub.url, (b) => b.withAutomaticReconnect([0]));
  const calls: string[] = [];
  const offs = [
    connection.onclose(() => calls.push("close")),
    connection.onreconnecting(() => calls.push("reconnecting")),
    connection.onreconnected(() => calls.push("reconnected")),
    connection.onstatechange(() => calls.push("change")),
  ];
  const kept: string[] = [];
  connection.onreconnected((id) => kept.push(`reconnected ${id === connection.connectionId}`));
  for (const off of offs) off();
  await connection.start();
  const server = await hub.nextConnection();
  await server.drop();
  await connection.waitForState("Reconnecting");
  await connection.waitForState("Connected");
  await connection.stop();
  assert.deepEqual(calls, []);
  assert.deepEqual(kept, ["reconnected true"]);
});

Deno.test("lifecycle: waitForState resolves on the state, rejects on abort and timeout", async () => {
  await using hub = await TestHub.serve();
  const connection = build(hub.url);
  await connection.waitForState("Disconnected"); // already there
  const connected = connection.waitForState("Connected");
  await connection.start();
  await connected;
  const reason = new Error("no longer needed");
  const controller = new AbortController();
  const aborted = connection.waitForState("Reconnecting", { signal: controller.signal });
  controller.abort(reason);
  await assert.rejects(aborted, (e: unknown) => e === reason);
  await assert.rejects(
    connection.waitForState("Reconnecting", { timeout: 10 }),
    (e: unknown) => e instanceof DOMException && e.name === "TimeoutError",
  );
  await connection.stop();
});

// ---- defect 1 -----------------------------------------------------------------------------

Deno.test("stop() inside onreconnecting ends the reconnect: no attempt, onclose once", async () => {
  await using hub = await TestHub.serve();
  const connection = build(hub.url, (b) => b.withAutomaticReconnect([0, 0, 0]));
  const changes = states(connection);
  const closes: (Error | undefined)[] = [];
  connection.onclose((error) => closes.push(error));
  let stopped: Promise<void> | undefined;
  connection.onreconnecting(() => stopped = connection.stop());
  await connection.start();
  const server = await hub.nextConnection();
  let negotiations = 0;
  hub.faults.negotiate = () => void negotiations++;
  await server.drop();
  await connection.waitForState("Disconnected");
  await stopped;
  assert.deepEqual(changes.map((c) => c.state), [
    "Connecting",
    "Connected",
    "Reconnecting",
    "Disconnected",
  ]);
  assert.deepEqual(closes, [undefined], "a stop is a clean end");
  assert.equal(negotiations, 0, "no reconnect attempt reached the hub");
});

// ---- defect 2 -----------------------------------------------------------------------------

Deno.test("server timeout with a peer that hung: onclose within the close bound", async () => {
  const { WebSocket, allClosed } = trackedWebSocket();
  const hub = await TestHub.serve();
  const connection = new HubConnectionBuilder().withUrl(hub.url, { WebSocket })
    .configureLogging(LogLevel.None).withServerTimeout(200).withKeepAliveInterval(50)
    .withCloseTimeout(100).build();
  await connection.start();
  const server = await hub.nextConnection();
  const closed = nextClose(connection);
  await server.freeze();
  const error = await within(closed, 5_000, "onclose after a server timeout");
  assert.ok(error instanceof ServerTimeoutError, String(error));
  assert.equal(error.timeout, 200);
  assert.equal(connection.state, "Disconnected");
  await hub.close();
  await allClosed();
});

// ---- defect 3 -----------------------------------------------------------------------------

Deno.test("stop() with megabytes queued to a peer that does not read settles in the bound", async () => {
  const { WebSocket, allClosed } = trackedWebSocket();
  const hub = await TestHub.serve();
  const connection = new HubConnectionBuilder().withUrl(hub.url, { WebSocket })
    .configureLogging(LogLevel.None).withCloseTimeout(200).build();
  await connection.start();
  const server = await hub.nextConnection();
  await server.freeze();
  const big = "x".repeat(1 << 20);
  const sends = Array.from({ length: 16 }, () => connection.send("Echo", big).catch((e) => e));
  await within(connection.stop(), 5_000, "stop()");
  assert.equal(connection.state, "Disconnected");
  for (const outcome of await Promise.all(sends)) {
    assert.ok(outcome === undefined || outcome instanceof Error);
  }
  await hub.close();
  await allClosed();
});

// ---- defect 4 -----------------------------------------------------------------------------

Deno.test("a logger that throws breaks neither start() nor the shared timer", async () => {
  await using hub = await TestHub.serve({ methods: { Echo: (x: unknown) => x } });
  let entries = 0;
  const logger = {
    log() {
      entries++;
      throw new Error("the logger is broken");
    },
  };
  const connection = new HubConnectionBuilder().withUrl(hub.url).configureLogging(logger)
    .withServerTimeout(100).withKeepAliveInterval(20).build();
  await connection.start();
  assert.equal(await connection.invoke("Echo", 1), 1);
  // The server timeout is found by the shared ticker, which logs a warning through the logger.
  hub.faults.pings = false;
  const error = await within(nextClose(connection), 5_000, "onclose");
  assert.ok(error instanceof ServerTimeoutError);
  assert.ok(entries > 0, "the logger was called (and threw)");
});

// ---- defect 5 -----------------------------------------------------------------------------

Deno.test("messages in the handshake's frame are dispatched once Connected", async () => {
  const echoed = Promise.withResolvers<HubMessage>();
  await using server = bareHub(
    (socket) => socket.send("{}" + RS + '{"type":1,"target":"Hello","arguments":["early"]}' + RS),
    (record) => {
      if (record.type === MessageType.Invocation) echoed.resolve(record);
    },
  );
  const connection = build(server.url);
  const seen: string[] = [];
  let sent: Promise<void> | undefined;
  connection.on("Hello", (word: string) => {
    seen.push(`${word} ${connection.state}`);
    sent = connection.send("Reply", word);
  });
  await connection.start();
  assert.deepEqual(seen, ["early Connected"]);
  await sent;
  const reply = await echoed.promise;
  assert.equal(reply.type === MessageType.Invocation && reply.target, "Reply");
  await connection.stop();
});

// ---- defect 6 -----------------------------------------------------------------------------

Deno.test("a client result that cannot be encoded answers with an error Completion", async () => {
  await using hub = await TestHub.serve();
  const connection = build(hub.url);
  connection.on("Ask", () => 10n);
  await connection.start();
  const server = await hub.nextConnection();
  await assert.rejects(
    within(hub.invokeClient(server.id, "Ask"), 5_000, "invokeClient"),
    (e: unknown) => e instanceof TestHubError && /could not be serialized/.test(e.message),
  );
  // The connection is still fine.
  assert.equal(connection.state, "Connected");
  await connection.stop();
});

// ---- defect 11 ----------------------------------------------------------------------------

Deno.test("start({ signal }) aborts while the access token factory runs", async () => {
  await using hub = await TestHub.serve();
  const factory = Promise.withResolvers<string>();
  const connection = new HubConnectionBuilder()
    .withUrl(hub.url, { accessTokenFactory: () => factory.promise })
    .configureLogging(LogLevel.None).build();
  const controller = new AbortController();
  const reason = new Error("user gave up");
  const started = connection.start({ signal: controller.signal });
  controller.abort(reason);
  await within(assert.rejects(started, (e: unknown) => e === reason), 5_000, "start()");
  assert.equal(connection.state, "Disconnected");
  factory.resolve("late"); // a late token goes nowhere
});

// ---- defect 12 ----------------------------------------------------------------------------

Deno.test("a Close message in the handshake's frame, then the socket closes: onclose fires", async () => {
  await using server = bareHub((socket) => {
    socket.send("{}" + RS + '{"type":7,"error":"Connection closed with an error."}' + RS);
    socket.close();
  });
  const connection = build(server.url, (b) => b.withAutomaticReconnect([0]));
  const changes = states(connection);
  const closed = nextClose(connection);
  await connection.start();
  const error = await within(closed, 5_000, "onclose");
  assert.ok(error instanceof ServerCloseError, String(error));
  assert.equal(error.serverMessage, "Connection closed with an error.");
  assert.equal(error.allowReconnect, false, "a missing allowReconnect means false");
  assert.equal(connection.state, "Disconnected");
  assert.ok(!changes.some((c) => c.state === "Reconnecting"));
});

Deno.test("the socket closing right after the handshake (no Close message) is not lost", async () => {
  await using server = bareHub((socket) => {
    socket.send("{}" + RS);
    socket.close(1011, "gone");
  });
  const connection = build(server.url);
  const closed = nextClose(connection);
  await connection.start();
  const error = await within(closed, 5_000, "onclose");
  assert.ok(error instanceof TransportClosedError, String(error));
  assert.equal(connection.state, "Disconnected");
});

// ---- typed failures -----------------------------------------------------------------------

Deno.test("typed failures: a dropped transport, with the cause on pending calls", async () => {
  await using hub = await TestHub.serve({ methods: { Wait: () => new Promise(() => {}) } });
  const connection = build(hub.url);
  await connection.start();
  const server = await hub.nextConnection();
  const pending = connection.invoke("Wait");
  await server.waitForMessage(MessageType.Invocation);
  const closed = nextClose(connection);
  await server.drop();
  const error = await closed;
  assert.ok(error instanceof TransportClosedError, String(error));
  await assert.rejects(
    pending,
    (e: unknown) => e instanceof ConnectionClosedError && e.cause === error,
  );
  await assert.rejects(
    connection.invoke("Wait"),
    (e: unknown) => e instanceof NotConnectedError && e.state === "Disconnected",
  );
});

Deno.test("typed failures: a Close that allows reconnecting, then reconnect gives up", async () => {
  await using hub = await TestHub.serve();
  let attempts = 0;
  const connection = build(hub.url, (b) =>
    b.withAutomaticReconnect({
      nextRetryDelayInMilliseconds: (context) => {
        attempts = context.previousRetryCount;
        return context.previousRetryCount < 2 ? 0 : null;
      },
    }));
  const reasons: (Error | undefined)[] = [];
  connection.onreconnecting((error) => reasons.push(error));
  await connection.start();
  const server = await hub.nextConnection();
  hub.faults.negotiate = { status: 503, body: "down" };
  const calls: Promise<unknown>[] = [];
  connection.onreconnecting(() => calls.push(connection.invoke("Echo", 1).catch((e) => e)));
  const closed = nextClose(connection);
  await server.close({ error: "Server restarting", allowReconnect: true });
  const error = await within(closed, 5_000, "onclose");
  assert.ok(reasons[0] instanceof ServerCloseError);
  assert.equal(reasons[0].allowReconnect, true);
  assert.equal(reasons[0].serverMessage, "Server restarting");
  const [during] = await Promise.all(calls);
  assert.ok(during instanceof NotConnectedError && during.state === "Reconnecting");
  assert.ok(error instanceof ReconnectError, String(error));
  assert.equal(error.attempts, 2);
  assert.equal(attempts, 2);
  assert.match(String((error.cause as Error).message), /503/);
});

Deno.test("a retry policy that declines the first attempt (null or a throw): no Reconnecting, onclose gets the reason", async (t) => {
  await using hub = await TestHub.serve();
  const declines = {
    "returns null": () => null,
    "throws": () => {
      throw new Error("policy bug");
    },
  };
  for (const [how, decline] of Object.entries(declines)) {
    await t.step(how, async () => {
      const reasons: Error[] = [];
      const connection = build(hub.url, (b) =>
        b.withAutomaticReconnect({
          nextRetryDelayInMilliseconds: ({ retryReason }) => (reasons.push(retryReason), decline()),
        }));
      const states: string[] = [];
      connection.onstatechange(({ state }) => states.push(state));
      let reconnecting = 0;
      connection.onreconnecting(() => reconnecting++);
      await connection.start();
      const server = await hub.nextConnection();
      const closed = nextClose(connection);
      await server.close({ error: "Server restarting", allowReconnect: true });
      const error = await within(closed, 5_000, "onclose");
      assert.equal(reasons.length, 1);
      assert.equal(error, reasons[0]);
      assert.ok(error instanceof ServerCloseError && error.serverMessage === "Server restarting");
      assert.equal(reconnecting, 0);
      assert.deepEqual(states, ["Connecting", "Connected", "Disconnecting", "Disconnected"]);
    });
  }
});

// ---- http/ --------------------------------------------------------------------------------

Deno.test("cookies set by negotiate go back on the next negotiate and the WebSocket upgrade", async () => {
  await using hub = await TestHub.serve();
  const cookies: (string | null)[] = [];
  let first = true;
  hub.faults.negotiate = (request) => {
    cookies.push(request.headers.get("Cookie"));
    if (!first) return undefined;
    first = false;
    // A load balancer's affinity cookie, on a redirect back to the same hub.
    return {
      body: { url: hub.url },
      headers: { "Set-Cookie": "affinity=node-1; Path=/; HttpOnly" },
    };
  };
  const connection = build(hub.url);
  await connection.start();
  const server = await hub.nextConnection();
  assert.deepEqual(cookies, [null, "affinity=node-1"]);
  assert.equal(server.headers.get("Cookie"), "affinity=node-1");
  await connection.stop();
});

Deno.test("typed failures: a negotiate answer the runtime would choke on is a NegotiateError", async () => {
  await using hub = await TestHub.serve();
  hub.faults.negotiate = {
    body: {
      negotiateVersion: 1,
      connectionId: "id",
      connectionToken: "lone \ud800 surrogate",
      availableTransports: [{ transport: "WebSockets", transferFormats: ["Text"] }],
    },
  };
  const connection = build(hub.url);
  await assert.rejects(connection.start(), (e: unknown) => e instanceof NegotiateError);
  assert.equal(connection.state, "Disconnected");
  // A fragment in a redirect URL is dropped, not passed on to the WebSocket constructor.
  let redirected = false;
  hub.faults.negotiate = () =>
    redirected ? undefined : (redirected = true, { redirect: `${hub.url}#frag` });
  await connection.start();
  assert.equal(connection.state, "Connected");
  await connection.stop();
});
