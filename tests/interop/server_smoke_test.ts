// Smoke test of the interop server and its harness, with a raw WebSocket and fetch only (no
// client library): checks the server speaks SignalR the way the interop tests expect.

import "../_guard.ts";
import assert from "node:assert/strict";
import {
  AUTH_TOKEN,
  type InteropServer,
  LARGE_STRING_PATTERN,
  largeString,
  startInteropServer,
} from "./_server.ts";

const RS = "\x1e";
const sanitizers = { sanitizeOps: true, sanitizeResources: true, sanitizeExit: true };

// deno-lint-ignore no-explicit-any
type Message = Record<string, any>;

/** A bare SignalR JSON-protocol connection over a WebSocket. */
class RawConnection {
  readonly received: Message[] = [];
  readonly closed: Promise<CloseEvent>;
  #queue: Message[] = [];
  #wake: (() => void) | undefined;

  readonly ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (event) => {
        resolve(event);
        this.#wake?.();
      });
    });
    ws.addEventListener("message", (event) => {
      for (const record of String(event.data).split(RS)) {
        if (!record) continue;
        const message = JSON.parse(record);
        this.received.push(message);
        this.#queue.push(message);
      }
      this.#wake?.();
    });
  }

  static async connect(baseUrl: string, path = "/hub"): Promise<RawConnection> {
    const response = await fetch(`${baseUrl}${path}/negotiate?negotiateVersion=1`, {
      method: "POST",
    });
    assert.equal(response.status, 200);
    const negotiate = await response.json();
    assert.equal(typeof negotiate.connectionToken, "string");
    assert.equal(negotiate.negotiateVersion, 1);

    const wsUrl = `${baseUrl.replace(/^http/, "ws")}${path}?id=${
      encodeURIComponent(negotiate.connectionToken)
    }`;
    const ws = new WebSocket(wsUrl);
    const connection = new RawConnection(ws);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error("WebSocket failed")), { once: true });
    });
    ws.send(JSON.stringify({ protocol: "json", version: 1 }) + RS);
    const handshake = await connection.next(() => true);
    assert.deepEqual(handshake, {});
    assert.equal(connection.received.length, 1);
    return connection;
  }

  send(message: Message): void {
    this.ws.send(JSON.stringify(message) + RS);
  }

  /** The next received message matching `match` (pings skipped by default). */
  async next(match: (m: Message) => boolean = (m) => m.type !== 6, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const index = this.#queue.findIndex(match);
      if (index >= 0) return this.#queue.splice(index, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0 || this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(`no matching message; received ${JSON.stringify(this.received)}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
  }

  invoke(invocationId: string, target: string, args: unknown[]): Promise<Message> {
    this.send({ type: 1, invocationId, target, arguments: args });
    return this.next((m) => m.type === 3 && m.invocationId === invocationId);
  }

  async close(): Promise<CloseEvent> {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) {
      this.ws.close();
    }
    return await this.closed;
  }
}

Deno.test({ name: "interop server: raw SignalR over WebSocket", ...sanitizers }, async (t) => {
  await using server = await startInteropServer();
  if (!server) return; // dotnet missing (not on CI): the harness printed a loud warning
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);

  await t.step("negotiate returns a connection token and the transports", async () => {
    const response = await fetch(`${server.url}/hub/negotiate?negotiateVersion=1`, {
      method: "POST",
    });
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.equal(typeof body.connectionToken, "string");
    assert.equal(typeof body.connectionId, "string");
    assert.notEqual(body.connectionToken, body.connectionId);
    assert.deepEqual(
      body.availableTransports.map((x: { transport: string }) => x.transport),
      ["WebSockets", "ServerSentEvents", "LongPolling"],
    );
  });

  await t.step("handshake, then Add(2, 3) completes with 5", async () => {
    const connection = await RawConnection.connect(server.url);
    try {
      assert.deepEqual(await connection.invoke("1", "Add", [2, 3]), {
        type: 3,
        invocationId: "1",
        result: 5,
      });
      assert.deepEqual(await connection.invoke("2", "add", [-1, 1]), {
        type: 3,
        invocationId: "2",
        result: 0,
      });
    } finally {
      await connection.close();
    }
  });

  await t.step("documented payloads and error texts", async () => {
    const connection = await RawConnection.connect(server.url);
    try {
      assert.equal(
        (await connection.invoke("1", "GetDate", [])).result,
        "2024-02-29T13:45:30.123Z",
      );
      for (const n of [0, 1, 5, 6, 7, 13, 14, 1000]) {
        const { result } = await connection.invoke(`l${n}`, "GetLargeString", [n]);
        assert.equal(result, largeString(n));
        assert.equal(result.length, n);
      }
      assert.equal(largeString(7), LARGE_STRING_PATTERN);
      assert.equal(
        (await connection.invoke("2", "ThrowException", [])).error,
        "An unexpected error occurred invoking 'ThrowException' on the server.",
      );
      assert.equal(
        (await connection.invoke("3", "ThrowHubException", ["boom"])).error,
        "An unexpected error occurred invoking 'ThrowHubException' on the server. " +
          "HubException: boom",
      );
    } finally {
      await connection.close();
    }
  });

  await t.step("DropConnection closes the socket without a Close message", async () => {
    const connection = await RawConnection.connect(server.url);
    connection.send({ type: 1, invocationId: "1", target: "DropConnection", arguments: [] });
    const event = await connection.closed;
    assert.equal(event.wasClean, false);
    // Only the handshake response arrived: no Completion, no Close (type 7).
    assert.deepEqual(connection.received, [{}]);
  });

  await t.step("Abort sends a Close message without allowReconnect", async () => {
    const connection = await RawConnection.connect(server.url);
    connection.send({ type: 1, invocationId: "1", target: "Abort", arguments: [] });
    const event = await connection.closed;
    const close = connection.received.at(-1);
    assert.deepEqual(close, { type: 7 });
    assert.equal(connection.received.filter((m) => m.type === 3).length, 0);
    assert.equal(event.code, 1000);
  });

  await t.step("/authhub negotiate: 401 without a token, 200 with one", async () => {
    const anonymous = await fetch(`${server.url}/authhub/negotiate?negotiateVersion=1`, {
      method: "POST",
    });
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();

    const wrong = await fetch(`${server.url}/authhub/negotiate?negotiateVersion=1`, {
      method: "POST",
      headers: { Authorization: "Bearer wrong-token" },
    });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();

    const bearer = await fetch(`${server.url}/authhub/negotiate?negotiateVersion=1`, {
      method: "POST",
      headers: { Authorization: `Bearer ${AUTH_TOKEN}` },
    });
    assert.equal(bearer.status, 200);
    assert.equal(typeof (await bearer.json()).connectionToken, "string");

    const query = await fetch(
      `${server.url}/authhub/negotiate?negotiateVersion=1&access_token=${AUTH_TOKEN}`,
      { method: "POST" },
    );
    assert.equal(query.status, 200);
    await query.body?.cancel();
  });

  await t.step("fake Azure SignalR negotiate endpoints", async () => {
    const redirect = await fetch(`${server.url}/redirect/negotiate?negotiateVersion=1`, {
      method: "POST",
    });
    assert.deepEqual(await redirect.json(), {
      url: `${server.url}/authhub`,
      accessToken: AUTH_TOKEN,
    });
    const refused = await fetch(`${server.url}/negotiate-error/negotiate?negotiateVersion=1`, {
      method: "POST",
    });
    assert.equal(refused.status, 200);
    assert.deepEqual(await refused.json(), { error: "negotiate refused by test server" });
  });
});

// The other way to share a server: started in the first test, closed in the last. Those two
// must opt out of the sanitizers (see _server.ts); the tests in between keep them, even while
// the server logs errors (its logs go to a file, not to the pipes the harness reads).
let shared: InteropServer | null = null;

Deno.test({
  name: "interop server: shared across tests (start)",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  shared = await startInteropServer();
});

Deno.test({ name: "interop server: shared across tests (use)", ...sanitizers }, async () => {
  if (!shared) return;
  const connection = await RawConnection.connect(shared.url);
  try {
    assert.equal((await connection.invoke("1", "Add", [40, 2])).result, 42);
    // Logged by the server at Error level.
    assert.ok((await connection.invoke("2", "ThrowException", [])).error);
  } finally {
    await connection.close();
  }
  assert.match(shared.readLog(), /secret detail/);
});

Deno.test({
  name: "interop server: shared across tests (close)",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  await shared?.close();
  await shared?.close(); // idempotent
});

Deno.test({ name: "interop harness: missing dotnet", ...sanitizers }, async () => {
  const path = Deno.env.get("PATH");
  const ci = Deno.env.get("CI");
  const warn = console.warn;
  const warnings: string[] = [];
  Deno.env.set("PATH", "/nonexistent-interop-test-dir");
  try {
    console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
    Deno.env.delete("CI");
    assert.equal(await startInteropServer(), null);
    assert.match(warnings.join("\n"), /INTEROP TESTS SKIPPED: dotnet not found/);

    Deno.env.set("CI", "true");
    await assert.rejects(startInteropServer(), /dotnet` was not found on PATH/);
  } finally {
    console.warn = warn;
    if (path === undefined) Deno.env.delete("PATH");
    else Deno.env.set("PATH", path);
    if (ci === undefined) Deno.env.delete("CI");
    else Deno.env.set("CI", ci);
  }
});
