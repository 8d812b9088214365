// TestHub speaking MessagePack: this package's client with its MessagePack protocol on every
// transport that carries binary (WebSockets, Long Polling), then the wire itself with raw
// requests (binary frames, octet-stream polls, the Server-Sent Events refusal). Sanitizers stay
// on: every test ends with nothing leaked.
import "./_guard.ts";
import assert from "node:assert/strict";
import {
  HttpTransportType,
  type HubConnection,
  HubConnectionBuilder,
  type HubMessage,
  JsonHubProtocol,
  LogLevel,
  Subject,
} from "../mod.ts";
import { MessagePackHubProtocol } from "../msgpack.ts";
import {
  type HubCallContext,
  MessageType,
  TestHub,
  TestHubError,
  type TestHubOptions,
  type TestHubTransport,
} from "../testing.ts";

const RS = "\x1e";
const BINARY_TRANSPORTS: readonly TestHubTransport[] = ["WebSockets", "LongPolling"];
const encoder = new TextEncoder();
const decoder = new TextDecoder();
// Encodes and decodes what a raw test sends and reads.
const codec = new MessagePackHubProtocol();

/** A hub that speaks MessagePack besides JSON. */
function serve(options: TestHubOptions = {}): Promise<TestHub> {
  return TestHub.serve({ protocols: [new MessagePackHubProtocol()], ...options });
}

function connectOver(
  hub: TestHub,
  transport: TestHubTransport,
  configure: (builder: HubConnectionBuilder) => HubConnectionBuilder = (b) => b,
): HubConnection {
  return configure(
    new HubConnectionBuilder()
      .withUrl(hub.url, { transport: HttpTransportType[transport] })
      .withHubProtocol(new MessagePackHubProtocol())
      .configureLogging(LogLevel.None),
  ).build();
}

/** Decodes the frames of one connection (one decoder: a message may span frames). */
function messageReader(): (frame: Uint8Array) => HubMessage[] {
  const messages = codec.createDecoder({ maxMessageSize: 1 << 20, logger: { log() {} } });
  return (frame) => messages.decode(frame);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function handshake(version = 1): string {
  return JSON.stringify({ protocol: "messagepack", version }) + RS;
}

// ---- this package's client -----------------------------------------------------------------

for (const transport of BINARY_TRANSPORTS) {
  Deno.test(`msgpack over ${transport}: invoke, send, errors`, async () => {
    const recorded: unknown[] = [];
    await using hub = await serve({
      methods: {
        Add: (a: number, b: number) => a + b,
        Echo: (x: unknown) => x,
        Nothing: () => {},
        Null: () => null,
        Record: (x: unknown) => void recorded.push(x),
        Refuse: () => {
          throw new TestHubError("No, thanks.");
        },
        Crash: () => {
          throw new Error("secret detail");
        },
      },
    });
    await using connection = connectOver(hub, transport);
    await connection.start();
    const server = await hub.nextConnection();
    assert.equal(server.transport, transport);
    assert.deepEqual([server.protocol, server.protocolVersion], ["messagepack", 1]);
    assert.equal(await connection.invoke("Add", 2, 3), 5);
    assert.equal(await connection.invoke("add", 0.5, 2 ** 40), 0.5 + 2 ** 40);
    const value = { Name: "x", list: [1, "two", null, true, -7], nested: { deep: [{}] } };
    assert.deepEqual(await connection.invoke("Echo", value), value);
    assert.equal(await connection.invoke("Echo", "ünïcødé ✓"), "ünïcødé ✓");
    assert.equal(await connection.invoke("Nothing"), undefined);
    assert.equal(await connection.invoke("Null"), null);
    await assert.rejects(() => connection.invoke("Refuse"), { message: "No, thanks." });
    await assert.rejects(() => connection.invoke("Crash"), {
      message: "An unexpected error occurred invoking 'Crash' on the server.",
    });
    await assert.rejects(() => connection.invoke("Missing"), {
      message:
        "Failed to invoke 'Missing' due to an error on the server. HubException: Method does not exist.",
    });
    await connection.send("Record", { fire: "and forget" });
    await server.waitForMessage((m) => m.type === MessageType.Invocation && m.target === "Record");
    assert.deepEqual(recorded, [{ fire: "and forget" }]);
  });

  Deno.test(`msgpack over ${transport}: server streams, and cancellation`, async () => {
    const finallyRan = Promise.withResolvers<void>();
    await using hub = await serve({
      methods: {
        Counter: async function* (count: number) {
          for (let i = 0; i < count; i++) yield { i, square: i * i };
        },
        Endless: async function* (context: HubCallContext) {
          try {
            for (let i = 0; !context.signal.aborted; i++) {
              yield i;
              await new Promise((resolve) => setTimeout(resolve, 1));
            }
          } finally {
            finallyRan.resolve();
          }
        },
        Broken: async function* () {
          yield 1;
          throw new TestHubError("stream broke");
        },
      },
    });
    await using connection = connectOver(hub, transport);
    await connection.start();
    const server = await hub.nextConnection();
    const items: unknown[] = [];
    for await (const item of connection.stream("Counter", 4)) items.push(item);
    assert.deepEqual(items, [0, 1, 2, 3].map((i) => ({ i, square: i * i })));

    for await (const item of connection.stream<number>("Endless")) {
      assert.equal(item, 0);
      break; // sends CancelInvocation
    }
    await server.waitForMessage(MessageType.CancelInvocation);
    await finallyRan.promise;

    const broken: unknown[] = [];
    await assert.rejects(async () => {
      for await (const item of connection.stream("Broken")) broken.push(item);
    }, { message: "stream broke" });
    assert.deepEqual(broken, [1]);
  });

  Deno.test(`msgpack over ${transport}: uploads`, async () => {
    await using hub = await serve({
      methods: {
        Join: async (items: AsyncIterable<string>) => {
          const all: string[] = [];
          for await (const item of items) all.push(item);
          return all.join(",");
        },
        Pair: TestHub.method(
          { streams: [1] },
          async (prefix: string, items: AsyncIterable<Uint8Array>, suffix: string) => {
            let length = 0;
            for await (const item of items) {
              assert.ok(item instanceof Uint8Array);
              length += item.length;
            }
            return `${prefix}${length}${suffix}`;
          },
        ),
      },
    });
    await using connection = connectOver(hub, transport);
    await connection.start();
    const subject = new Subject<string>();
    const joined = connection.invoke("Join", subject);
    for (const item of ["a", "b", "c"]) void subject.next(item);
    await subject.complete();
    assert.equal(await joined, "a,b,c");
    const bytes = ReadableStream.from([new Uint8Array(3), new Uint8Array(1000)]);
    assert.equal(await connection.invoke("Pair", "<", bytes, ">"), "<1003>");
  });

  Deno.test(`msgpack over ${transport}: client results`, async () => {
    await using hub = await serve({
      methods: {
        AskCaller: (question: string, context: HubCallContext) =>
          context.client.invoke("Answer", question),
      },
    });
    await using connection = connectOver(hub, transport);
    connection.on("Answer", (question: string) => `answer to ${question}`);
    connection.on("Falsy", () => 0);
    connection.on("When", (date: Date) => new Date(date.getTime() + 1_000));
    connection.on("Fail", () => {
      throw new Error("cannot");
    });
    await connection.start();
    const server = await hub.nextConnection();
    assert.equal(await hub.invokeClient(server.id, "Answer", "life"), "answer to life");
    assert.equal(await connection.invoke("AskCaller", "everything"), "answer to everything");
    assert.equal(await hub.invokeClient(server.id, "Falsy"), 0);
    const when = await hub.invokeClient<Date>(server.id, "When", new Date(Date.UTC(2020, 1, 29)));
    assert.ok(when instanceof Date);
    assert.equal(when.toISOString(), "2020-02-29T00:00:01.000Z");
    const failure = await hub.invokeClient(server.id, "Fail").catch((error) => error);
    assert.ok(failure instanceof TestHubError);
    assert.match(failure.message, /cannot/);
    await assert.rejects(() => hub.invokeClient(server.id, "NoSuchHandler"), TestHubError);
  });

  Deno.test(`msgpack over ${transport}: broadcast and groups, to MessagePack and JSON clients`, async () => {
    await using hub = await serve({
      methods: { Join: (group: string, context: HubCallContext) => context.join(group) },
    });
    await using packed = connectOver(hub, transport);
    await using json = new HubConnectionBuilder()
      .withUrl(hub.url, { transport: HttpTransportType[transport] })
      .configureLogging(LogLevel.None)
      .build();
    const heard = (connection: HubConnection, method: string) => {
      const { promise, resolve } = Promise.withResolvers<unknown[]>();
      connection.on(method, (...args) => resolve(args));
      return promise;
    };
    const everyone = [heard(packed, "News"), heard(json, "News")];
    const group = heard(packed, "GroupNews");
    await packed.start();
    await json.start();
    const [a, b] = [await hub.nextConnection(), await hub.nextConnection()];
    assert.deepEqual([a.protocol, b.protocol], ["messagepack", "json"]);
    await hub.send("News", "extra", 1, { read: true });
    for (const args of await Promise.all(everyone)) {
      assert.deepEqual(args, ["extra", 1, { read: true }]);
    }
    await packed.invoke("Join", "g");
    await hub.group("g").send("GroupNews", new Uint8Array([7, 8]));
    assert.deepEqual(await group, [new Uint8Array([7, 8])]);
  });

  Deno.test(`msgpack over ${transport}: the server's Close, with an error and allowReconnect`, async () => {
    await using hub = await serve({ methods: { Echo: (x: unknown) => x } });
    await using connection = connectOver(hub, transport, (b) => b.withAutomaticReconnect([0]));
    await connection.start();
    const first = await hub.nextConnection();
    const reconnecting = new Promise<Error | undefined>((r) => connection.onreconnecting(r));
    const reconnected = new Promise<string | undefined>((r) => connection.onreconnected(r));
    await first.close({ error: "Restarting", allowReconnect: true });
    assert.match(String(await reconnecting), /Restarting/);
    const second = await hub.nextConnection();
    assert.equal(await reconnected, second.id);
    assert.equal(second.protocol, "messagepack");
    assert.equal(await connection.invoke("Echo", "again"), "again");
    const closed = new Promise<Error | undefined>((r) => connection.onclose(r));
    await second.close({ error: "Go away" });
    assert.match(String(await closed), /Go away/);
    assert.equal(connection.state, "Disconnected", "no allowReconnect: no reconnect");
  });

  Deno.test(`msgpack over ${transport}: Date and Uint8Array round trips`, async () => {
    const seen: unknown[] = [];
    await using hub = await serve({
      maxMessageSize: 1 << 20,
      methods: {
        Echo: (x: unknown) => {
          seen.push(x);
          return x;
        },
        Epoch: () => new Date(0),
        Bytes: (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 251),
      },
    });
    await using connection = connectOver(hub, transport);
    await connection.start();
    const dates = [
      new Date(Date.UTC(2024, 5, 30, 12, 34, 56, 789)), // timestamp 64 (milliseconds)
      new Date(Date.UTC(2024, 0, 1)), // timestamp 32 (whole seconds)
      new Date(Date.UTC(1601, 0, 1)), // timestamp 96 (before 1970)
      new Date(Date.UTC(3000, 11, 31, 23, 59, 59, 1)), // timestamp 96 (seconds above 2^34)
    ];
    for (const date of dates) {
      const back = await connection.invoke<Date>("Echo", date);
      assert.ok(back instanceof Date, String(back));
      assert.equal(back.getTime(), date.getTime());
    }
    assert.ok(seen.every((x) => x instanceof Date), "the hub method got Dates");
    assert.equal((await connection.invoke<Date>("Epoch")).getTime(), 0);

    for (const length of [0, 1, 255, 70_000]) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 7) % 256);
      const back = await connection.invoke<Uint8Array>("Echo", bytes);
      assert.ok(back instanceof Uint8Array);
      assert.deepEqual(back, bytes);
    }
    assert.deepEqual(
      await connection.invoke("Bytes", 300),
      Uint8Array.from({ length: 300 }, (_, i) => i % 251),
    );
    const mixed = { when: dates[0], data: new Uint8Array([1, 2, 3]), list: [dates[2]] };
    assert.deepEqual(await connection.invoke("Echo", mixed), mixed);
    const server = await hub.nextConnection();
    const invocation = server.received.findLast((m) => m.type === MessageType.Invocation);
    assert.ok(invocation?.type === MessageType.Invocation);
    assert.deepEqual(invocation.arguments, [mixed], "received keeps the decoded values");
  });

  Deno.test(`msgpack over ${transport}: sendMessage and writeRaw send binary`, async () => {
    await using hub = await serve({ methods: { Echo: (x: unknown) => x } });
    await using connection = connectOver(hub, transport);
    const greeted = Promise.withResolvers<unknown>();
    connection.on("Greet", (x) => greeted.resolve(x));
    await connection.start();
    const server = await hub.nextConnection();
    // A message cut in two writes: two binary frames, or two parts of one poll's body.
    const frame = codec.encode({
      type: MessageType.Invocation,
      target: "Greet",
      arguments: ["split"],
    });
    await server.writeRaw(frame.subarray(0, 5));
    await server.writeRaw(frame.subarray(5));
    assert.equal(await greeted.promise, "split");
    await server.sendMessage({ type: MessageType.Completion, invocationId: "999", result: 1 });
    assert.equal(await connection.invoke("Echo", "still open"), "still open");
    const closed = new Promise<Error | undefined>((r) => connection.onclose(r));
    await server.writeRaw(new Uint8Array([0x01, 0xc1])); // 0xc1: never used in MessagePack
    assert.equal((await closed)?.name, "ProtocolError");
    await server.closed;
  });
}

Deno.test("msgpack: a client that allows only Server-Sent Events cannot use MessagePack", async () => {
  await using hub = await serve();
  assert.throws(() => connectOver(hub, "ServerSentEvents"), /Server-Sent Events|binary/i);
});

Deno.test("msgpack: a result the protocol cannot encode aborts the connection, as on ASP.NET Core", async () => {
  await using hub = await serve({ methods: { Big: () => 2n ** 70n } });
  for (const protocol of ["messagepack", "json"] as const) {
    const connection = connectOver(
      hub,
      "WebSockets",
      (b) => protocol === "json" ? b.withHubProtocol(new JsonHubProtocol()) : b,
    );
    await connection.start();
    const server = await hub.nextConnection();
    assert.equal(server.protocol, protocol);
    const closed = new Promise<Error | undefined>((r) => connection.onclose(r));
    await assert.rejects(() => connection.invoke("Big"));
    assert.match(String(await closed), /Connection closed with an error\./);
    const disconnect = await server.closed;
    assert.equal(disconnect.reason, "server-close");
    assert.ok(disconnect.error, "the encoder's error");
  }
  // A push the protocol cannot encode rejects, and ends the connection too.
  await using connection = connectOver(hub, "LongPolling");
  await connection.start();
  const server = await hub.nextConnection();
  await assert.rejects(() => server.send("Push", () => {}));
  assert.equal((await server.closed).reason, "server-close");
});

Deno.test("msgpack: pings and the client timeout", async () => {
  await using hub = await serve({ keepAliveInterval: 10, clientTimeout: 200 });
  await using connection = connectOver(
    hub,
    "WebSockets",
    (b) => b.withServerTimeout(150).withKeepAliveInterval(20),
  );
  await connection.start();
  const server = await hub.nextConnection();
  // The client's pings, decoded by the hub.
  await server.waitForMessage(MessageType.Ping);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(connection.state, "Connected", "kept alive by the hub's MessagePack pings");
  const closed = new Promise((resolve) => connection.onclose(resolve));
  server.pings = false;
  assert.match(String(await closed), /Server timeout/);
});

// ---- the wire --------------------------------------------------------------------------------

/** A raw WebSocket, without negotiate, that keeps every frame. */
async function rawSocket(hub: TestHub): Promise<
  { socket: WebSocket; next(): Promise<string | Uint8Array | undefined> } & AsyncDisposable
> {
  const socket = new WebSocket(hub.url.replace(/^http/, "ws"));
  socket.binaryType = "arraybuffer";
  const frames: (string | Uint8Array)[] = [];
  let wake: (() => void) | undefined;
  socket.onmessage = (event) => {
    frames.push(typeof event.data === "string" ? event.data : new Uint8Array(event.data));
    wake?.();
  };
  const closed = new Promise((resolve) => socket.addEventListener("close", resolve));
  socket.addEventListener("close", () => wake?.());
  await new Promise((resolve) => socket.onopen = resolve);
  return {
    socket,
    async next() {
      while (frames.length === 0) {
        if (socket.readyState === WebSocket.CLOSED) return undefined;
        await new Promise<void>((resolve) => wake = resolve);
      }
      return frames.shift();
    },
    async [Symbol.asyncDispose]() {
      if (socket.readyState !== WebSocket.CLOSED) socket.close();
      await closed;
    },
  };
}

Deno.test("wire (msgpack): WebSocket: the handshake response and every message in binary frames", async () => {
  await using hub = await serve({ methods: { Echo: (x: unknown) => x }, keepAliveInterval: 20 });
  await using raw = await rawSocket(hub);
  const read = messageReader();
  // The handshake and a first call in one binary frame.
  raw.socket.send(concat(
    encoder.encode(handshake()),
    codec.encode({
      type: MessageType.Invocation,
      invocationId: "0",
      target: "Echo",
      arguments: [new Uint8Array([9])],
    }),
  ));
  const accepted = await raw.next();
  assert.ok(accepted instanceof Uint8Array, "the handshake response is a binary frame");
  assert.equal(decoder.decode(accepted), "{}" + RS);
  const completion = await raw.next();
  assert.ok(completion instanceof Uint8Array);
  assert.deepEqual(read(completion), [
    { type: MessageType.Completion, invocationId: "0", result: new Uint8Array([9]) },
  ]);
  const server = await hub.nextConnection();
  assert.equal(server.protocol, "messagepack");
  const ping = await raw.next();
  assert.ok(ping instanceof Uint8Array);
  assert.deepEqual(read(ping), [{ type: MessageType.Ping }]);
  raw.socket.send(codec.encode({ type: MessageType.Close, error: "bye" }));
  assert.deepEqual(await server.closed, { reason: "client-close", error: "bye" });
});

Deno.test("wire (msgpack): refusals (version, Server-Sent Events), and a protocol error", async () => {
  await using hub = await serve({ methods: { Echo: (x: unknown) => x } });
  {
    // Refusals come before the binary format is active: text frames.
    await using raw = await rawSocket(hub);
    raw.socket.send(handshake(3));
    assert.deepEqual(JSON.parse(String(await raw.next()).slice(0, -1)), {
      error: "The server does not support version 3 of the 'messagepack' protocol.",
    });
  }
  {
    await using raw = await rawSocket(hub);
    raw.socket.send(handshake(2)); // the official client's version
    assert.equal(decoder.decode((await raw.next()) as Uint8Array), "{}" + RS);
    const server = await hub.nextConnection();
    assert.equal(server.protocolVersion, 2);
    raw.socket.send(new Uint8Array([0x02, 0x91, 0xc1]));
    const read = messageReader();
    assert.deepEqual(read((await raw.next()) as Uint8Array), [
      { type: MessageType.Close, error: "Connection closed with an error." },
    ]);
    assert.equal((await server.closed).reason, "protocol-error");
  }
  {
    await using raw = await rawSocket(hub);
    raw.socket.send(handshake());
    await raw.next();
    const server = await hub.nextConnection();
    raw.socket.send(JSON.stringify({ type: 6 }) + RS); // text on a MessagePack connection
    assert.match((await server.closed).error ?? "", /needs binary frames/);
  }
  // Server-Sent Events carry text only: ASP.NET Core refuses the handshake.
  const { connectionToken } = await (await fetch(`${hub.url}/negotiate?negotiateVersion=1`, {
    method: "POST",
  })).json();
  const stream = await fetch(`${hub.url}?id=${connectionToken}`, {
    headers: { accept: "text/event-stream" },
  });
  const posted = await fetch(`${hub.url}?id=${connectionToken}`, {
    method: "POST",
    body: handshake(),
  });
  await posted.body?.cancel();
  const error =
    "Cannot use the 'messagepack' protocol on the current transport. The transport does not support 'Binary' transfer format.";
  assert.equal(
    await stream.text(),
    `:\r\ndata: ${JSON.stringify({ error })}${RS}\r\n\r\n`,
    "the refusal, then the end of the stream",
  );
  assert.equal(hub.connections.length, 0);
});

Deno.test("wire (msgpack): Long Polling: octet-stream bodies, messages coalesced", async () => {
  await using hub = await serve({ methods: { Echo: (x: unknown) => x } });
  const { connectionToken: token } = await (await fetch(`${hub.url}/negotiate?negotiateVersion=1`, {
    method: "POST",
  })).json();
  const poll = async () => {
    const response = await fetch(`${hub.url}?id=${token}&_=${Date.now()}`);
    return {
      status: response.status,
      type: response.headers.get("content-type"),
      body: new Uint8Array(await response.arrayBuffer()),
    };
  };
  const post = async (body: string | Uint8Array) => {
    const response = await fetch(`${hub.url}?id=${token}`, {
      method: "POST",
      body: body as BodyInit,
      headers: {
        "content-type": typeof body === "string"
          ? "text/plain;charset=UTF-8"
          : "application/octet-stream",
      },
    });
    await response.body?.cancel();
    return response.status;
  };
  assert.equal((await poll()).status, 200);
  assert.equal(await post(handshake()), 200);
  const accepted = await poll();
  assert.equal(accepted.type, "application/octet-stream");
  assert.equal(decoder.decode(accepted.body), "{}" + RS);
  const server = await hub.nextConnection();

  // Two messages written in one turn: one body, the two frames one after the other.
  void server.send("One", 1);
  void server.send("Two", new Date(5));
  const both = await poll();
  assert.equal(both.type, "application/octet-stream");
  assert.deepEqual(messageReader()(both.body), [
    { type: MessageType.Invocation, target: "One", arguments: [1] },
    { type: MessageType.Invocation, target: "Two", arguments: [new Date(5)] },
  ]);

  // Two calls in one POST.
  const calls = [0, 1].map((i) =>
    codec.encode({ type: 1, invocationId: String(i), target: "Echo", arguments: [i] })
  );
  const answer = poll();
  assert.equal(await post(concat(...calls)), 200);
  const answers = messageReader()((await answer).body);
  assert.deepEqual(answers, [
    { type: MessageType.Completion, invocationId: "0", result: 0 },
    { type: MessageType.Completion, invocationId: "1", result: 1 },
  ]);
  const deleted = await fetch(`${hub.url}?id=${token}`, { method: "DELETE" });
  await deleted.body?.cancel();
  assert.equal((await server.closed).reason, "transport-closed");
});
