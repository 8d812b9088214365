// TestHub's own tests, with this package's client (and a raw WebSocket where the wire itself
// is the subject). Sanitizers stay on: every test ends with nothing leaked.
import "./_guard.ts";
import assert from "node:assert/strict";
import {
  HandshakeError,
  HttpError,
  type HubConnection,
  HubConnectionBuilder,
  HubError,
  type HubProtocol,
  JsonHubProtocol,
  LogLevel,
  Subject,
} from "../mod.ts";
import {
  type HubCallContext,
  type HubMessage,
  MessageType,
  TestHub,
  TestHubError,
  type TestHubOptions,
} from "../testing.ts";

const RS = "\x1e";

function connect(
  url: string,
  configure: (builder: HubConnectionBuilder) => HubConnectionBuilder = (b) => b,
): HubConnection {
  return configure(new HubConnectionBuilder().withUrl(url).configureLogging(LogLevel.None))
    .build();
}

/** Resolves with the error of the connection's next onclose. */
function nextClose(connection: HubConnection): Promise<Error | undefined> {
  return new Promise((resolve) => connection.onclose(resolve));
}

/** A bare WebSocket client speaking JSON records, without negotiate. */
class RawClient implements AsyncDisposable {
  readonly socket: WebSocket;
  readonly closed: Promise<CloseEvent>;
  #records: string[] = [];
  #wake: (() => void) | undefined;
  #buffer = "";

  private constructor(socket: WebSocket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.addEventListener("close", resolve));
    socket.onmessage = (event) => {
      this.#buffer += event.data as string;
      let end;
      while ((end = this.#buffer.indexOf(RS)) !== -1) {
        this.#records.push(this.#buffer.slice(0, end));
        this.#buffer = this.#buffer.slice(end + 1);
      }
      this.#wake?.();
    };
    socket.addEventListener("close", () => this.#wake?.());
  }

  static async open(url: string, headers?: Record<string, string>): Promise<RawClient> {
    const socket = new WebSocket(url.replace(/^http/, "ws"), { headers });
    const client = new RawClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => {};
      client.closed.then((event) => reject(new Error(`WebSocket closed: ${event.code}`)));
    });
    return client;
  }

  /** Opens, sends the JSON handshake, and checks the `{}` answer. */
  static async handshaken(url: string): Promise<RawClient> {
    const client = await RawClient.open(url);
    client.send({ protocol: "json", version: 1 });
    assert.equal(await client.next(), "{}");
    return client;
  }

  send(value: unknown): void {
    this.socket.send(JSON.stringify(value) + RS);
  }

  /** The next record, or `undefined` once the socket closed. */
  async next(): Promise<string | undefined> {
    while (this.#records.length === 0) {
      if (this.socket.readyState === WebSocket.CLOSED) return undefined;
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
    return this.#records.shift();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.close();
    await this.closed;
  }
}

// ---- invocations ---------------------------------------------------------------------------

Deno.test("invoke: results, void, async, case-insensitive names, send", async () => {
  const recorded: unknown[] = [];
  await using hub = await TestHub.serve({
    methods: {
      Add: (a: number, b: number) => a + b,
      Later: async (x: unknown) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        return { x };
      },
      Void: () => {},
      Record: (x: unknown) => void recorded.push(x),
    },
  });
  await using connection = connect(hub.url);
  await connection.start();
  const server = await hub.nextConnection();
  assert.equal(await connection.invoke("Add", 1, 2), 3);
  assert.equal(await connection.invoke("aDD", 40, 2), 42);
  assert.deepEqual(await connection.invoke("Later", [1]), { x: [1] });
  assert.equal(await connection.invoke("Void"), undefined);
  await connection.send("Record", "sent");
  const invocation = await server.waitForMessage((m) =>
    m.type === MessageType.Invocation && m.target === "Record"
  );
  assert.equal("invocationId" in invocation, false);
  assert.deepEqual(recorded, ["sent"]);
  assert.deepEqual(hub.connections, [server.id]);
});

Deno.test("invoke: error texts match ASP.NET Core's", async (t) => {
  const methods: TestHubOptions["methods"] = {
    Refuse: () => {
      throw new TestHubError("Name is required.");
    },
    Crash: () => {
      throw new RangeError("secret detail");
    },
    Reject: () => Promise.reject(new Error("async secret")),
    Stream: async function* () {
      yield 1;
    },
    Plain: () => 1,
    Two: TestHub.method({ streams: [0, 1] }, () => "never"),
    FailMidway: async function* () {
      yield 1;
      throw new Error("midway");
    },
    RefuseMidway: async function* () {
      yield 1;
      throw new TestHubError("Stopped on purpose.");
    },
  };
  await using hub = await TestHub.serve({ methods });
  await using connection = connect(hub.url);
  await connection.start();

  await t.step("TestHubError: as is", async () => {
    await assert.rejects(() => connection.invoke("Refuse"), {
      name: "HubError",
      message: "Name is required.",
    });
  });
  await t.step("other errors: generic", async () => {
    await assert.rejects(() => connection.invoke("Crash"), {
      message: "An unexpected error occurred invoking 'Crash' on the server.",
    });
    await assert.rejects(() => connection.invoke("Reject"), {
      message: "An unexpected error occurred invoking 'Reject' on the server.",
    });
  });
  await t.step("unknown method", async () => {
    await assert.rejects(() => connection.invoke("Nope", 1), {
      message:
        "Failed to invoke 'Nope' due to an error on the server. HubException: Method does not exist.",
    });
  });
  await t.step("streaming method with invoke, plain method with stream", async () => {
    await assert.rejects(() => connection.invoke("Stream"), {
      message:
        "The client attempted to invoke the streaming 'Stream' method with a non-streaming invocation.",
    });
    await assert.rejects(
      async () => {
        for await (const _ of connection.stream("Plain"));
      },
      {
        message:
          "The client attempted to invoke the non-streaming 'Plain' method with a streaming invocation.",
      },
    );
  });
  await t.step("declared stream count", async () => {
    await assert.rejects(() => connection.invoke("Two", ReadableStream.from([1])), {
      message:
        "An unexpected error occurred invoking 'Two' on the server. HubException: Client sent 1 stream(s), Hub method expects 2.",
    });
  });
  await t.step("a stream that fails after its first item", async () => {
    const items: unknown[] = [];
    await assert.rejects(
      async () => {
        for await (const item of connection.stream("FailMidway")) items.push(item);
      },
      (error: Error) => {
        assert.ok(error instanceof HubError);
        assert.equal(error.message, "An error occurred on the server while streaming results.");
        return true;
      },
    );
    assert.deepEqual(items, [1]);
    await assert.rejects(
      async () => {
        for await (const _ of connection.stream("RefuseMidway"));
      },
      { message: "Stopped on purpose." },
    );
  });
});

Deno.test("invoke: detailedErrors adds the error's name and message", async () => {
  await using hub = await TestHub.serve({
    detailedErrors: true,
    methods: {
      Crash: () => {
        throw new RangeError("detail");
      },
    },
  });
  await using connection = connect(hub.url);
  await connection.start();
  await assert.rejects(() => connection.invoke("Crash"), {
    message: "An unexpected error occurred invoking 'Crash' on the server. RangeError: detail",
  });
});

Deno.test("context: connection id, headers, query, token, invocation id", async () => {
  let seen: HubCallContext | undefined;
  await using hub = await TestHub.serve({
    methods: {
      Who: (context: HubCallContext) => {
        seen = context;
        return context.connectionId;
      },
    },
  });
  await using connection = connect(
    hub.url + "?tenant=a",
    (b) =>
      b.withUrl(hub.url + "?tenant=a", {
        headers: { "X-Test": "yes" },
        accessTokenFactory: () => "tok",
      }),
  );
  await connection.start();
  assert.equal(await connection.invoke("Who"), connection.connectionId);
  assert.ok(seen);
  assert.equal(seen.headers.get("x-test"), "yes");
  assert.equal(seen.query.get("tenant"), "a");
  assert.equal(seen.query.has("id"), false);
  assert.equal(seen.accessToken, "tok");
  assert.equal(typeof seen.invocationId, "string");
  assert.equal(seen.client, hub.client(connection.connectionId!));
  assert.equal(seen.hub, hub);
});

// ---- streams -------------------------------------------------------------------------------

Deno.test("server stream: items, then a cancel reaches the generator", async () => {
  const finallyRan = Promise.withResolvers<boolean>();
  await using hub = await TestHub.serve({
    methods: {
      Counter: async function* (count: number) {
        for (let i = 0; i < count; i++) yield i;
      },
      Sync: function* () {
        yield "a";
        yield "b";
      },
      Readable: TestHub.method({ stream: true }, () => ReadableStream.from(["x", "y"])),
      Endless: async function* (context: HubCallContext) {
        try {
          for (let i = 0;; i++) {
            yield i;
            await new Promise((resolve) => setTimeout(resolve, 1));
          }
        } finally {
          finallyRan.resolve(context.signal.aborted);
        }
      },
    },
  });
  await using connection = connect(hub.url);
  await connection.start();
  const server = await hub.nextConnection();

  assert.deepEqual(await Array.fromAsync(connection.stream("Counter", 1000)), [
    ...Array(1000).keys(),
  ]);
  assert.deepEqual(await Array.fromAsync(connection.stream("Sync")), ["a", "b"]);
  assert.deepEqual(await Array.fromAsync(connection.stream("Readable")), ["x", "y"]);

  const stream = connection.stream<number>("Endless");
  for await (const item of stream) {
    if (item === 2) break; // leaving the loop cancels
  }
  const cancel = await server.waitForMessage(MessageType.CancelInvocation);
  assert.equal(await finallyRan.promise, true, "the generator's finally saw an aborted signal");
  const streamInvocation = server.received.find((m) =>
    m.type === MessageType.StreamInvocation && m.target === "Endless"
  );
  assert.equal(
    (cancel as { invocationId: string }).invocationId,
    (streamInvocation as { invocationId: string } | undefined)?.invocationId,
  );
  assert.equal(await connection.invoke("Counter").catch((e) => e.constructor), HubError);
});

Deno.test("server stream: a method that is not a stream", async () => {
  await using hub = await TestHub.serve({
    methods: {
      NotAStream: TestHub.method({ stream: true }, function NotAStream() {
        return 5;
      }),
    },
  });
  await using connection = connect(hub.url);
  await connection.start();
  await assert.rejects(() => Array.fromAsync(connection.stream("NotAStream")), {
    message:
      "The value returned by the streaming method 'NotAStream' is not a ChannelReader<> or IAsyncEnumerable<>.",
  });
});

Deno.test("uploads: after the plain arguments, at declared positions, with an error", async () => {
  const uploadError = Promise.withResolvers<string>();
  await using hub = await TestHub.serve({
    methods: {
      Join: async (separator: string, items: AsyncIterable<string>) => {
        const all: string[] = [];
        for await (const item of items) all.push(item);
        return all.join(separator);
      },
      Mixed: TestHub.method(
        { streams: [1, 3] },
        async (p: string, a: AsyncIterable<number>, m: number, b: AsyncIterable<number>) => {
          const [xs, ys] = await Promise.all([Array.fromAsync(a), Array.fromAsync(b)]);
          return { p, xs, m, ys };
        },
      ),
      Watch: async (items: AsyncIterable<unknown>) => {
        try {
          for await (const _ of items);
          uploadError.resolve("no error");
        } catch (error) {
          uploadError.resolve((error as Error).message);
        }
      },
      Echoes: async function* (items: AsyncIterable<number>) {
        for await (const item of items) yield item * 10;
      },
    },
  });
  await using connection = connect(hub.url);
  await connection.start();

  const subject = new Subject<string>();
  const joined = connection.invoke("Join", "-", subject);
  subject.next("a");
  subject.next("b");
  await subject.complete();
  assert.equal(await joined, "a-b");

  assert.deepEqual(
    await connection.invoke("Mixed", "p", ReadableStream.from([1, 2]), 7, ReadableStream.from([3])),
    { p: "p", xs: [1, 2], m: 7, ys: [3] },
  );

  const failing = new Subject<number>();
  await connection.send("Watch", failing);
  await failing.next(1);
  await failing.error(new Error("client gave up"));
  assert.match(await uploadError.promise, /client gave up/);

  assert.deepEqual(
    await Array.fromAsync(connection.stream("Echoes", ReadableStream.from([1, 2, 3]))),
    [10, 20, 30],
  );
});

// ---- server to client ----------------------------------------------------------------------

Deno.test("server to client: send to all, to one, to a group", async () => {
  await using hub = await TestHub.serve({
    methods: {
      Join: (group: string, context: HubCallContext) => context.join(group),
      Leave: (group: string, context: HubCallContext) => context.leave(group),
    },
  });
  await using a = connect(hub.url);
  await using b = connect(hub.url);
  const got = { a: [] as unknown[], b: [] as unknown[] };
  const arrived = { a: Promise.withResolvers<void>(), b: Promise.withResolvers<void>() };
  a.on("Note", (x) => (got.a.push(x), arrived.a.resolve()));
  b.on("Note", (x) => (got.b.push(x), arrived.b.resolve()));
  const reset = () => {
    arrived.a = Promise.withResolvers();
    arrived.b = Promise.withResolvers();
  };
  await a.start();
  await b.start();
  const [sa, sb] = [await hub.nextConnection(), await hub.nextConnection()];
  assert.deepEqual([sa.id, sb.id], [a.connectionId, b.connectionId]);

  await hub.send("Note", "all");
  await Promise.all([arrived.a.promise, arrived.b.promise]);
  reset();
  await hub.client(sb.id).send("Note", "only b");
  await arrived.b.promise;
  reset();

  await a.invoke("Join", "g");
  assert.deepEqual(hub.group("g").connections, [sa.id]);
  assert.deepEqual(sa.groups, ["g"]);
  await hub.group("g").send("Note", "group");
  await arrived.a.promise;
  reset();
  hub.group("g").add(sb.id);
  await a.invoke("Leave", "g");
  await hub.group("g").send("Note", "group again");
  await arrived.b.promise;
  assert.deepEqual(got, { a: ["all", "group"], b: ["all", "only b", "group again"] });

  await b.stop();
  await sb.closed;
  assert.deepEqual(hub.group("g").connections, []);
  assert.deepEqual(hub.connections, [sa.id]);
  assert.throws(() => hub.client(sb.id), RangeError);
});

Deno.test("client results: value, error text, timeout, abort", async () => {
  // Long enough for a busy machine to answer "Add"; "Hang" waits it out.
  await using hub = await TestHub.serve({ invokeClientTimeout: 300 });
  await using connection = connect(hub.url);
  connection.on("Add", (a: number, b: number) => a + b);
  connection.on("Fail", () => {
    throw new Error("client says no");
  });
  const never = Promise.withResolvers<void>();
  connection.on("Hang", () => never.promise);
  await connection.start();
  const server = await hub.nextConnection();

  assert.equal(await hub.invokeClient(server.id, "Add", 2, 3), 5);
  assert.equal(await server.invoke("Add", 1, 1), 2);
  await assert.rejects(() => hub.invokeClient(server.id, "Fail"), {
    name: "TestHubError",
    // The error's string form, as @microsoft/signalr sends it.
    message: "Error: client says no",
  });
  await assert.rejects(() => hub.invokeClient(server.id, "Hang"), { name: "TimeoutError" });
  const controller = new AbortController();
  const aborted = hub.invokeClient({
    connectionId: server.id,
    method: "Hang",
    timeout: 0,
    signal: controller.signal,
  });
  controller.abort(new Error("not needed"));
  await assert.rejects(() => aborted, { message: "not needed" });
  await assert.rejects(() => hub.invokeClient("nobody", "Add"), RangeError);
  never.resolve();
});

Deno.test("nextConnection: connections queue up, and close() rejects waiters", async () => {
  const hub = await TestHub.serve();
  const a = connect(hub.url);
  const b = connect(hub.url);
  await a.start();
  await b.start();
  assert.equal((await hub.nextConnection()).id, a.connectionId);
  assert.equal((await hub.nextConnection()).id, b.connectionId);
  const waiting = hub.nextConnection().catch((error: Error) => error);
  const closedA = nextClose(a);
  const closedB = nextClose(b);
  await hub.close();
  assert.equal((await waiting as Error).message, "The TestHub was closed.");
  assert.equal(await closedA, undefined, "a Close without error: the client stops");
  assert.equal(await closedB, undefined);
  assert.equal(a.state, "Disconnected");
});

// ---- fault injection -----------------------------------------------------------------------

Deno.test("fault: drop() cuts the connection without a Close; the client reconnects", async () => {
  await using hub = await TestHub.serve({ methods: { Echo: (x: unknown) => x } });
  await using connection = connect(hub.url, (b) => b.withAutomaticReconnect([0]));
  await connection.start();
  const first = await hub.nextConnection();
  const reconnecting = new Promise<Error | undefined>((r) => connection.onreconnecting(r));
  const reconnected = new Promise<string | undefined>((r) => connection.onreconnected(r));
  await first.drop();
  assert.deepEqual(await first.closed, { reason: "dropped" });
  const error = await reconnecting;
  // Not a clean close: 1006 in browsers; Deno's WebSocket reports code 0, "Unexpected EOF".
  assert.match(String(error), /status code (0|1006)/);
  const second = await hub.nextConnection();
  assert.notEqual(second.id, first.id);
  assert.equal(await reconnected, second.id);
  assert.ok(!first.received.some((m) => m.type === MessageType.Close));
  assert.equal(await connection.invoke("Echo", 1), 1);
});

/** Invokes `Echo` over a raw client and waits for its answer: a round trip through the hub. */
async function roundTrip(raw: RawClient, id: string): Promise<void> {
  raw.send({ type: MessageType.Invocation, invocationId: id, target: "Echo", arguments: [id] });
  assert.deepEqual(JSON.parse((await raw.next())!), { type: 3, invocationId: id, result: id });
}

Deno.test("fault: freeze() silences a connection both ways until drop()", async () => {
  // A short client timeout: the frozen client's silence must not end it as a client timeout.
  await using hub = await TestHub.serve({
    clientTimeout: 20,
    methods: {
      Echo: (x: unknown) => x,
      Wait: (ms: number) => new Promise((resolve) => setTimeout(resolve, ms)),
    },
  });
  await using frozen = await RawClient.handshaken(hub.url);
  const server = await hub.nextConnection();
  await using other = await RawClient.handshaken(hub.url);
  await hub.nextConnection();
  frozen.send({ type: MessageType.Ping }); // starts the client timeout
  await server.waitForMessage(MessageType.Ping);

  await server.freeze();
  const received = server.received.length;
  let delivered = 0;
  frozen.socket.addEventListener("message", () => delivered++);
  frozen.send({ type: MessageType.Invocation, invocationId: "0", target: "Echo", arguments: [1] });
  await server.send("Hello", "lost");
  // Longer than the client timeout, on a connection that is not frozen.
  other.send({ type: MessageType.Invocation, invocationId: "w", target: "Wait", arguments: [60] });
  assert.equal(JSON.parse((await other.next())!).invocationId, "w");
  await roundTrip(other, "1");
  assert.equal(server.received.length, received, "the hub received nothing");
  assert.equal(delivered, 0, "the client received nothing");
  assert.ok(hub.connections.includes(server.id), "still open on the hub's side");

  let closeEvent = false;
  frozen.closed.then(() => closeEvent = true);
  frozen.socket.close();
  await roundTrip(other, "2");
  assert.equal(closeEvent, false, "the close frame is not answered");

  await server.drop();
  await frozen.closed;
  assert.deepEqual(await server.closed, { reason: "dropped" });
  await roundTrip(other, "3");
});

Deno.test("fault: a frozen client's writes pile up in its bufferedAmount", async () => {
  await using hub = await TestHub.serve({ maxMessageSize: 1 << 30 });
  await using frozen = await RawClient.handshaken(hub.url);
  const server = await hub.nextConnection();
  await server.freeze();
  // Unfrozen, each 1 MB is written out within a turn of the event loop; frozen, nothing reads
  // it, so once the kernel's socket buffers (a few MB) are full the WebSocket queues it all.
  const chunk = "x".repeat(1 << 20);
  let sent = 0;
  while (frozen.socket.bufferedAmount < 4 * chunk.length && sent < 64) {
    frozen.socket.send(chunk);
    sent++;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.ok(frozen.socket.bufferedAmount >= 4 * chunk.length, `${sent} MB sent, none queued`);
  await server.drop();
  await frozen.closed;
});

Deno.test("fault: a frozen connection ends cleanly when the hub closes", async () => {
  const hub = await TestHub.serve({ methods: { Echo: (x: unknown) => x } });
  const frozen = await RawClient.handshaken(hub.url);
  const server = await hub.nextConnection();
  await server.freeze();
  frozen.socket.close();
  const started = performance.now();
  await hub.close();
  // Cut at once, not after the grace period the hub gives a client to answer its close frame.
  assert.ok(performance.now() - started < 1_500, "closed without waiting out the grace period");
  await frozen.closed;
  assert.deepEqual(await server.closed, { reason: "server-close" });
});

Deno.test("fault: close() with an error, and with allowReconnect", async () => {
  await using hub = await TestHub.serve();
  await using connection = connect(hub.url, (b) => b.withAutomaticReconnect([0]));
  await connection.start();
  const first = await hub.nextConnection();
  const reconnecting = new Promise<Error | undefined>((r) => connection.onreconnecting(r));
  await first.close({ error: "Restarting", allowReconnect: true });
  assert.match(String(await reconnecting), /Restarting/);
  const second = await hub.nextConnection();
  const closed = nextClose(connection);
  await second.close({ error: "Go away" });
  assert.match(String(await closed), /Go away/);
  assert.equal(connection.state, "Disconnected", "no allowReconnect: no reconnect");
});

Deno.test("fault: writeRaw: partial records, unknown ids, then malformed JSON", async () => {
  await using hub = await TestHub.serve({ methods: { Echo: (x: unknown) => x } });
  await using connection = connect(hub.url);
  const greeted = Promise.withResolvers<unknown>();
  connection.on("Greet", (x) => greeted.resolve(x));
  await connection.start();
  const server = await hub.nextConnection();

  await server.writeRaw('{"type":1,"target":"Greet","argu');
  await server.writeRaw('ments":["split"]}' + RS);
  assert.equal(await greeted.promise, "split");

  await server.sendMessage({ type: MessageType.Completion, invocationId: "999", result: 1 });
  assert.equal(await connection.invoke("Echo", "still open"), "still open");

  const closed = nextClose(connection);
  await server.writeRaw("{not json}" + RS);
  const error = await closed;
  assert.equal(error?.name, "ProtocolError");
  assert.equal((await server.closed).reason, "transport-closed");
});

Deno.test("fault: refuseWebSockets fails the upgrade, then the hub accepts again", async () => {
  // WebSockets only: with the other transports offered, the client would fall back to them.
  await using hub = await TestHub.serve({
    transports: ["WebSockets"],
    faults: { refuseWebSockets: 503 },
  });
  const connection = connect(hub.url);
  await assert.rejects(() => connection.start(), /WebSocket/);
  hub.faults.refuseWebSockets = undefined;
  await connection.start();
  assert.equal(connection.state, "Connected");
  await connection.stop();
});

Deno.test("fault: negotiate redirect, error, status, custom JSON", async (t) => {
  await using hub = await TestHub.serve({
    methods: { Token: (c: HubCallContext) => c.accessToken },
  });

  await t.step("redirect with an access token, once", async () => {
    let redirects = 0;
    hub.faults.negotiate = () =>
      redirects++ === 0 ? { redirect: hub.url + "?via=redirect", accessToken: "azure" } : undefined;
    await using connection = connect(hub.url);
    await connection.start();
    assert.equal(redirects, 2);
    assert.equal(await connection.invoke("Token"), "azure");
    const server = hub.client(connection.connectionId!);
    assert.equal(server.query.get("via"), "redirect");
  });
  await t.step("error", async () => {
    hub.faults.negotiate = { error: "Not today" };
    const connection = connect(hub.url);
    await assert.rejects(() => connection.start(), { message: "Negotiate failed: Not today" });
  });
  await t.step("status", async () => {
    hub.faults.negotiate = { status: 500, body: "boom" };
    const connection = connect(hub.url);
    const error = await connection.start().catch((e) => e);
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 500);
    assert.match(error.message, /boom/);
  });
  await t.step("custom JSON", async () => {
    hub.faults.negotiate = { body: { ProtocolVersion: "1.5" } };
    const connection = connect(hub.url);
    await assert.rejects(() => connection.start(), /classic ASP\.NET SignalR/);
  });
  await t.step("a Response", async () => {
    hub.faults.negotiate = new Response("{}", { status: 418 });
    const connection = connect(hub.url);
    const error = await connection.start().catch((e) => e);
    assert.equal((error as HttpError).status, 418);
  });
});

Deno.test("fault: handshake delay, error, garbage, silence", async (t) => {
  await using hub = await TestHub.serve();

  await t.step("a delay shorter than the client's timeout", async () => {
    hub.faults.handshake = { delay: 30 };
    await using connection = connect(hub.url, (b) => b.withHandshakeTimeout(5_000));
    const began = performance.now();
    await connection.start();
    assert.ok(performance.now() - began >= 25);
  });
  await t.step("a delay longer than the client's timeout", async () => {
    hub.faults.handshake = { delay: 5_000 };
    const connection = connect(hub.url, (b) => b.withHandshakeTimeout(50));
    await assert.rejects(() => connection.start(), HandshakeError);
  });
  await t.step("an error", async () => {
    hub.faults.handshake = { error: "No handshake for you" };
    const connection = connect(hub.url);
    await assert.rejects(() => connection.start(), {
      name: "HandshakeError",
      message: "No handshake for you",
    });
  });
  await t.step("garbage", async () => {
    hub.faults.handshake = { raw: "garbage" + RS };
    const connection = connect(hub.url);
    await assert.rejects(() => connection.start(), /not valid JSON/);
  });
  await t.step("silence", async () => {
    hub.faults.handshake = { ignore: true };
    const connection = connect(hub.url, (b) => b.withHandshakeTimeout(50));
    await assert.rejects(() => connection.start(), /did not answer the handshake/);
  });
});

Deno.test("fault: pings stop, and the client's server timeout fires", async () => {
  await using hub = await TestHub.serve({ keepAliveInterval: 10 });
  await using connection = connect(
    hub.url,
    (b) => b.withServerTimeout(150).withKeepAliveInterval(5_000),
  );
  await connection.start();
  const server = await hub.nextConnection();
  // The hub pings every 10 ms (seen here on a raw connection), which keeps `connection` alive...
  const raw = await RawClient.handshaken(hub.url);
  assert.equal(await raw.next(), JSON.stringify({ type: MessageType.Ping }));
  await raw[Symbol.asyncDispose]();
  const closed = nextClose(connection);
  assert.equal(connection.state, "Connected");
  server.pings = false; // ...until they stop for it.
  assert.match(String(await closed), /Server timeout/);
});

Deno.test("fault: faults.pings = false stops every connection's pings", async () => {
  await using hub = await TestHub.serve({ keepAliveInterval: 10, faults: { pings: false } });
  await using connection = connect(hub.url, (b) => b.withServerTimeout(100));
  const closed = nextClose(connection);
  await connection.start();
  assert.match(String(await closed), /Server timeout/);
});

Deno.test("auth: bearer token required on negotiate and on the WebSocket", async () => {
  await using hub = await TestHub.serve({
    accessToken: "secret",
    methods: { Token: (c: HubCallContext) => c.accessToken },
  });
  const anonymous = connect(hub.url);
  const error = await anonymous.start().catch((e) => e);
  assert.ok(error instanceof HttpError);
  assert.equal(error.status, 401);

  await using connection = connect(
    hub.url,
    (b) => b.withUrl(hub.url, { accessTokenFactory: () => "secret" }),
  );
  await connection.start();
  assert.equal(await connection.invoke("Token"), "secret");

  const wrong = connect(
    hub.url,
    (b) =>
      b.withUrl(hub.url, { transport: 1, skipNegotiation: true, accessTokenFactory: () => "bad" }),
  );
  await assert.rejects(() => wrong.start(), /WebSocket/);

  await using query = await RawClient.open(hub.url + "?access_token=secret");
  query.send({ protocol: "json", version: 1 });
  assert.equal(await query.next(), "{}");
  await assert.rejects(() => RawClient.open(hub.url), /WebSocket closed/);
});

// ---- the wire, with a raw WebSocket ---------------------------------------------------------

Deno.test("wire: negotiate v0 and v1 answers", async () => {
  await using hub = await TestHub.serve();
  const v1 = await (await fetch(hub.url + "/negotiate?negotiateVersion=1", { method: "POST" }))
    .json();
  assert.equal(v1.negotiateVersion, 1);
  assert.equal(typeof v1.connectionId, "string");
  assert.equal(typeof v1.connectionToken, "string");
  assert.notEqual(v1.connectionToken, v1.connectionId);
  assert.deepEqual(v1.availableTransports, [
    { transport: "WebSockets", transferFormats: ["Text", "Binary"] },
    { transport: "ServerSentEvents", transferFormats: ["Text"] },
    { transport: "LongPolling", transferFormats: ["Text", "Binary"] },
  ]);
  const v0 = await (await fetch(hub.url + "/negotiate", { method: "POST" })).json();
  assert.equal(v0.connectionToken, undefined);
  assert.equal(typeof v0.connectionId, "string");
  const get = await fetch(hub.url + "/negotiate");
  await get.body?.cancel();
  assert.equal(get.status, 405);
  // The token connects; the public id does not.
  await assert.rejects(() => RawClient.open(`${hub.url}?id=${v1.connectionId}`), /WebSocket/);
  await using raw = await RawClient.open(`${hub.url}?id=${v1.connectionToken}`);
  raw.send({ protocol: "json", version: 1 });
  assert.equal(await raw.next(), "{}");
  assert.equal((await hub.nextConnection()).id, v1.connectionId);
});

Deno.test("wire: handshake refusals use ASP.NET Core's texts", async () => {
  await using hub = await TestHub.serve();
  for (
    const [request, error] of [
      [{ protocol: "messagepack", version: 1 }, "The protocol 'messagepack' is not supported."],
      [
        { protocol: "json", version: 3 },
        "The server does not support version 3 of the 'json' protocol.",
      ],
      [{ protocol: "json" }, "An unexpected error occurred during connection handshake."],
    ] as const
  ) {
    await using raw = await RawClient.open(hub.url);
    raw.send(request);
    assert.deepEqual(JSON.parse((await raw.next())!), { error });
    await raw.closed;
  }
});

Deno.test("wire: protocols: JSON always, names case-insensitive, versions up to 2", async () => {
  await assert.rejects(
    () => TestHub.serve({ protocols: [{ name: "x" } as unknown as HubProtocol] }),
    TypeError,
  );
  await assert.rejects(
    () => TestHub.serve({ protocols: [new JsonHubProtocol(), new JsonHubProtocol()] }),
    /Duplicate hub protocol 'json'/,
  );
  await using hub = await TestHub.serve({ methods: { Echo: (x: unknown) => x } });
  await using raw = await RawClient.open(hub.url);
  raw.send({ protocol: "JSON", version: 2 });
  assert.equal(await raw.next(), "{}");
  const server = await hub.nextConnection();
  assert.deepEqual([server.protocol, server.protocolVersion], ["json", 2]);
  raw.send({ type: MessageType.Invocation, invocationId: "1", target: "Echo", arguments: [1] });
  assert.deepEqual(JSON.parse((await raw.next())!), { type: 3, invocationId: "1", result: 1 });
});

Deno.test("wire: handshake timeout, client timeout, protocol error", async () => {
  await using hub = await TestHub.serve({ handshakeTimeout: 20, clientTimeout: 40 });
  {
    await using raw = await RawClient.open(hub.url);
    assert.deepEqual(JSON.parse((await raw.next())!), { error: "Handshake was canceled." });
  }
  {
    await using raw = await RawClient.handshaken(hub.url);
    const server = await hub.nextConnection();
    raw.send({ type: MessageType.Ping }); // the client timeout starts with the first ping
    assert.deepEqual(JSON.parse((await raw.next())!), { type: MessageType.Close });
    assert.deepEqual(await server.closed, { reason: "client-timeout" });
  }
  {
    await using raw = await RawClient.handshaken(hub.url);
    const server = await hub.nextConnection();
    raw.socket.send("{oops" + RS);
    assert.deepEqual(JSON.parse((await raw.next())!), {
      type: MessageType.Close,
      error: "Connection closed with an error.",
    });
    assert.equal((await server.closed).reason, "protocol-error");
  }
});

Deno.test("wire: messages after the handshake in the same frame, and a client Close", async () => {
  await using hub = await TestHub.serve({ methods: { Echo: (x: unknown) => x } });
  await using raw = await RawClient.open(hub.url);
  raw.socket.send(
    JSON.stringify({ protocol: "json", version: 1 }) + RS +
      JSON.stringify({ type: 1, invocationId: "0", target: "Echo", arguments: ["x"] }) + RS,
  );
  assert.equal(await raw.next(), "{}");
  assert.deepEqual(JSON.parse((await raw.next())!), { type: 3, invocationId: "0", result: "x" });
  const server = await hub.nextConnection();
  raw.send({ type: MessageType.Close, error: "bye" });
  assert.deepEqual(await server.closed, { reason: "client-close", error: "bye" });
  const messages: HubMessage[] = [...server.received];
  assert.deepEqual(messages.map((m) => m.type), [MessageType.Invocation, MessageType.Close]);
});

Deno.test("skipNegotiation: the WebSocket request creates the connection", async () => {
  await using hub = await TestHub.serve({ methods: { Echo: (x: unknown) => x } });
  await using connection = connect(
    hub.url,
    (b) => b.withUrl(hub.url, { transport: 1, skipNegotiation: true }),
  );
  await connection.start();
  assert.equal(await connection.invoke("Echo", 5), 5);
  assert.equal(hub.connections.length, 1);
});
