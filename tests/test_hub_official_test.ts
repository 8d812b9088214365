// Faithfulness: the official client, @microsoft/signalr, against TestHub. These tests pass only
// if TestHub speaks negotiate, the transports and the hub protocols as the official client
// expects. Nothing is skipped: negotiate runs, and each test runs once per transport, selected
// from its answer, with JSON, and on the transports that carry binary with the official
// MessagePack protocol (@microsoft/signalr-protocol-msgpack) too. In Deno the official client
// runs as on Node: the `ws` package for WebSockets, the `eventsource` package for Server-Sent
// Events, node-fetch for the rest.
import "./_guard.ts";
import * as signalR from "npm:@microsoft/signalr@10.0.11";
import { MessagePackHubProtocol as OfficialMessagePack } from "npm:@microsoft/signalr-protocol-msgpack@10.0.11";
import assert from "node:assert/strict";
import { MessagePackHubProtocol } from "../msgpack.ts";
import {
  type HubCallContext,
  MessageType,
  TestHub,
  TestHubError,
  type TestHubOptions,
  type TestHubTransport,
} from "../testing.ts";

type Protocol = "json" | "messagepack";

const TRANSPORTS: readonly TestHubTransport[] = ["WebSockets", "ServerSentEvents", "LongPolling"];
// Every transport with JSON; MessagePack where the transport carries binary.
const CASES: readonly (readonly [TestHubTransport, Protocol])[] = [
  ...TRANSPORTS.map((transport) => [transport, "json"] as const),
  ["WebSockets", "messagepack"],
  ["LongPolling", "messagepack"],
];

/** A hub that speaks MessagePack too when the case needs it. */
function serve(protocol: Protocol, options: TestHubOptions = {}): Promise<TestHub> {
  return TestHub.serve(
    protocol === "messagepack"
      ? { protocols: [new MessagePackHubProtocol()], ...options }
      : options,
  );
}

/** Builds an official connection and makes sure that it is stopped and closed afterwards. */
async function official(
  url: string,
  transport: TestHubTransport | undefined,
  configure?: (builder: signalR.HubConnectionBuilder) => signalR.HubConnectionBuilder,
  protocol: Protocol = "json",
): Promise<
  { connection: signalR.HubConnection; closed: Promise<Error | undefined> } & AsyncDisposable
> {
  let builder = new signalR.HubConnectionBuilder()
    .withUrl(url, transport ? { transport: signalR.HttpTransportType[transport] } : {})
    .configureLogging(signalR.LogLevel.None);
  if (protocol === "messagepack") builder = builder.withHubProtocol(new OfficialMessagePack());
  if (configure) builder = configure(builder);
  const connection = builder.build();
  let stopping = false;
  let serverEnded = false;
  const closed = new Promise<Error | undefined>((resolve) =>
    connection.onclose((error) => {
      serverEnded ||= !stopping;
      resolve(error);
    })
  );
  connection.onreconnecting(() => serverEnded = true);
  await connection.start();
  return {
    connection,
    closed,
    async [Symbol.asyncDispose]() {
      if (connection.state !== signalR.HubConnectionState.Disconnected) {
        stopping = true;
        await connection.stop();
      }
      await closed;
      if (transport === "ServerSentEvents" && serverEnded) {
        // When the server ends the event stream (as ASP.NET Core does after its Close), the
        // `eventsource` package schedules a reconnect 1 s later before the official client
        // closes it, and close() does not clear that timer: wait it out.
        await new Promise((resolve) => setTimeout(resolve, EVENTSOURCE_RECONNECT_MS));
      }
    },
  };
}

// The `eventsource` package's default reconnection delay, and a margin.
const EVENTSOURCE_RECONNECT_MS = 1_050;

for (const [transport, protocol] of CASES) {
  const over = `official client over ${transport}${
    protocol === "messagepack" ? " with MessagePack" : ""
  }`;
  /** This case's official connection. */
  const connect = (
    url: string,
    configure?: (builder: signalR.HubConnectionBuilder) => signalR.HubConnectionBuilder,
  ) => official(url, transport, configure, protocol);

  Deno.test(`${over}: invoke, send, errors`, async () => {
    const seen: unknown[] = [];
    await using hub = await serve(protocol, {
      methods: {
        Add: (a: number, b: number) => a + b,
        Echo: async (x: unknown) => {
          await Promise.resolve();
          return x;
        },
        Nothing: () => {},
        Record: (x: unknown) => void seen.push(x),
        Refuse: () => {
          throw new TestHubError("No, thanks.");
        },
        Crash: () => {
          throw new Error("secret detail");
        },
      },
    });
    await using client = await connect(hub.url);
    const { connection } = client;
    assert.equal(await connection.invoke("Add", 2, 3), 5);
    assert.deepEqual(await connection.invoke("echo", { a: [1, "x"] }), { a: [1, "x"] });
    assert.equal(await connection.invoke("Nothing"), undefined); // a Completion without result
    await assert.rejects(() => connection.invoke("Refuse"), { message: "No, thanks." });
    await assert.rejects(() => connection.invoke("Crash"), {
      message: "An unexpected error occurred invoking 'Crash' on the server.",
    });
    await assert.rejects(() => connection.invoke("Missing"), {
      message:
        "Failed to invoke 'Missing' due to an error on the server. HubException: Method does not exist.",
    });
    await connection.send("Record", "fire and forget");
    const server = await hub.nextConnection();
    await server.waitForMessage((m) => m.type === MessageType.Invocation && m.target === "Record");
    assert.deepEqual(seen, ["fire and forget"]);
    assert.equal(server.id, connection.connectionId);
    assert.equal(server.transport, transport);
    assert.equal(server.protocol, protocol);
  });

  Deno.test(`${over}: server stream, and its cancellation reaches the generator`, async () => {
    const finallyRan = Promise.withResolvers<string>();
    await using hub = await serve(protocol, {
      methods: {
        Counter: async function* (count: number) {
          for (let i = 0; i < count; i++) yield i;
        },
        Endless: async function* (_context: HubCallContext) {
          try {
            for (let i = 0;; i++) {
              yield i;
              await new Promise((resolve) => setTimeout(resolve, 1));
            }
          } finally {
            finallyRan.resolve("finally");
          }
        },
      },
    });
    await using client = await connect(hub.url);
    const { connection } = client;

    const items: number[] = [];
    await new Promise<void>((resolve, reject) =>
      connection.stream<number>("Counter", 5).subscribe({
        next: (item) => void items.push(item),
        complete: resolve,
        error: reject,
      })
    );
    assert.deepEqual(items, [0, 1, 2, 3, 4]);

    const server = await hub.nextConnection();
    const first = Promise.withResolvers<number>();
    const subscription = connection.stream<number>("Endless").subscribe({
      next: (item) => first.resolve(item),
      complete: () => {},
      error: (error) => first.reject(error),
    });
    assert.equal(await first.promise, 0);
    subscription.dispose(); // sends CancelInvocation
    const cancel = await server.waitForMessage(MessageType.CancelInvocation);
    assert.equal(cancel.type, MessageType.CancelInvocation);
    assert.equal(await finallyRan.promise, "finally");
  });

  Deno.test(`${over}: upload with the official Subject`, async () => {
    await using hub = await serve(protocol, {
      methods: {
        Join: async (items: AsyncIterable<string>) => {
          const all: string[] = [];
          for await (const item of items) all.push(item);
          return all.join(",");
        },
        Pair: TestHub.method(
          { streams: [1] },
          async (prefix: string, items: AsyncIterable<number>, suffix: string) => {
            let sum = 0;
            for await (const item of items) sum += item;
            return `${prefix}${sum}${suffix}`;
          },
        ),
      },
    });
    await using client = await connect(hub.url);
    const { connection } = client;

    const subject = new signalR.Subject<string>();
    const joined = connection.invoke("Join", subject);
    for (const item of ["a", "b", "c"]) subject.next(item);
    subject.complete();
    assert.equal(await joined, "a,b,c");

    const numbers = new signalR.Subject<number>();
    const paired = connection.invoke("Pair", "<", numbers, ">");
    numbers.next(1);
    numbers.next(2);
    numbers.complete();
    assert.equal(await paired, "<3>");
  });

  Deno.test(`${over}: client results`, async () => {
    await using hub = await serve(protocol, {
      methods: {
        AskCaller: (question: string, context: HubCallContext) =>
          context.client.invoke("Answer", question),
      },
    });
    await using client = await connect(hub.url);
    const { connection } = client;
    connection.on("Answer", (question: string) => `answer to ${question}`);
    connection.on("Fail", () => {
      throw new Error("cannot");
    });
    const server = await hub.nextConnection();

    assert.equal(await hub.invokeClient(server.id, "Answer", "life"), "answer to life");
    // A hub method can call back into its caller and wait (invocations run concurrently).
    assert.equal(await connection.invoke("AskCaller", "everything"), "answer to everything");
    const failure = await hub.invokeClient(server.id, "Fail").catch((error) => error);
    assert.ok(failure instanceof TestHubError);
    assert.equal(failure.message, "Error: cannot"); // the official client's text for a throw
    await assert.rejects(() => hub.invokeClient(server.id, "NoSuchHandler"), TestHubError);
  });

  Deno.test(`${over}: the server's Close, with and without allowReconnect`, async () => {
    await using hub = await serve(protocol, { methods: { Echo: (x: unknown) => x } });
    {
      await using client = await connect(hub.url);
      const server = await hub.nextConnection();
      await server.close({ error: "Server going away" });
      const error = await client.closed;
      assert.ok(error instanceof Error);
      assert.match(error.message, /Server going away/);
      assert.equal(client.connection.state, signalR.HubConnectionState.Disconnected);
    }
    {
      await using client = await connect(hub.url, (builder) => builder.withAutomaticReconnect([0]));
      const first = await hub.nextConnection();
      const reconnecting = new Promise<Error | undefined>((resolve) =>
        client.connection.onreconnecting(resolve)
      );
      const reconnected = new Promise<string | undefined>((resolve) =>
        client.connection.onreconnected(resolve)
      );
      await first.close({ error: "Restarting", allowReconnect: true });
      assert.match(String(await reconnecting), /Restarting/);
      const second = await hub.nextConnection();
      assert.equal(await reconnected, second.id);
      assert.notEqual(second.id, first.id);
      assert.equal(
        await client.connection.invoke("Missing").catch(() => "still works"),
        "still works",
      );
    }
  });

  Deno.test(`${over}: TestHub.close() sends Close to every connection`, async () => {
    const hub = await serve(protocol);
    const a = await connect(hub.url);
    const b = await connect(hub.url);
    await hub.close();
    assert.equal(await a.closed, undefined);
    assert.equal(await b.closed, undefined);
    await Promise.all([a[Symbol.asyncDispose](), b[Symbol.asyncDispose]()]);
  });

  Deno.test(`${over}: the cookie and the token on every request`, async () => {
    await using hub = await serve(protocol, {
      accessToken: "secret",
      negotiateHeaders: { "set-cookie": "affinity=abc; Path=/" },
      methods: { Echo: (x: unknown) => x },
    });
    await using client = await connect(
      hub.url,
      (builder) =>
        builder.withUrl(hub.url, {
          transport: signalR.HttpTransportType[transport],
          accessTokenFactory: () => "secret",
        }),
    );
    for (let i = 0; i < 3; i++) assert.equal(await client.connection.invoke("Echo", i), i);
    const server = await hub.nextConnection();
    const [negotiate, ...later] = server.requests;
    assert.equal(negotiate.headers.get("cookie"), null);
    assert.ok(later.length >= (transport === "WebSockets" ? 1 : 4));
    for (const { method, url, headers } of later) {
      // The official client sends the cookie with its attributes on a WebSocket or an event
      // stream ("affinity=abc; Path=/"), and puts the token in the query for an event stream.
      assert.match(headers.get("cookie") ?? "", /^affinity=abc\b/, `${method} ${url}`);
      const token = headers.get("authorization") ??
        `Bearer ${new URL(url).searchParams.get("access_token")}`;
      assert.equal(token, "Bearer secret", `${method} ${url}`);
    }
  });
}

for (const transport of ["WebSockets", "LongPolling"] as const) {
  Deno.test(`official client over ${transport} with MessagePack: its handshake, Date and binary values both ways`, async () => {
    const seen: unknown[] = [];
    await using hub = await serve("messagepack", {
      methods: {
        Echo: (x: unknown) => {
          seen.push(x);
          return x;
        },
      },
    });
    await using client = await official(hub.url, transport, undefined, "messagepack");
    const { connection } = client;
    const server = await hub.nextConnection();
    // The official MessagePack protocol's version is 2, but the official client asks for 1
    // unless the server agreed to stateful reconnect (TestHub does not offer it).
    assert.deepEqual([server.protocol, server.protocolVersion], ["messagepack", 1]);

    const date = new Date(Date.UTC(2024, 1, 29, 1, 2, 3, 456));
    const old = new Date(Date.UTC(1900, 0, 1)); // the 96-bit timestamp
    const bytes = new Uint8Array([0, 1, 127, 128, 255]);
    for (const value of [date, old]) {
      const back = await connection.invoke("Echo", value);
      assert.ok(back instanceof Date, `a Date: ${back}`);
      assert.equal(back.getTime(), value.getTime());
    }
    const back = await connection.invoke("Echo", bytes);
    assert.ok(back instanceof Uint8Array);
    assert.deepEqual([...back], [...bytes]);
    assert.ok(seen[0] instanceof Date && seen[1] instanceof Date, "the hub got Dates");
    assert.ok(seen[2] instanceof Uint8Array, "the hub got bytes");
    assert.deepEqual([...(seen[2] as Uint8Array)], [...bytes]);

    const pushed = new Promise<unknown[]>((resolve) =>
      connection.on("Push", (...args: unknown[]) => resolve(args))
    );
    await hub.send("Push", { when: date, data: bytes });
    const [{ when, data }] = (await pushed) as [{ when: Date; data: Uint8Array }];
    assert.ok(when instanceof Date && data instanceof Uint8Array);
    assert.equal(when.getTime(), date.getTime());
    assert.deepEqual([...data], [...bytes]);

    if (transport === "LongPolling") {
      // The handshake request is JSON text; every later POST is binary.
      const [handshake, ...later] = server.requests.filter((r) => r.method === "POST").slice(1);
      assert.match(handshake.headers.get("content-type") ?? "", /^text\/plain/);
      assert.ok(later.length >= 3);
      for (const post of later) {
        assert.equal(post.headers.get("content-type"), "application/octet-stream");
      }
    }
  });
}

Deno.test("official client with MessagePack: skips Server-Sent Events for Long Polling", async () => {
  await using hub = await serve("messagepack", { transports: ["ServerSentEvents", "LongPolling"] });
  await using _ = await official(hub.url, undefined, undefined, "messagepack");
  const server = await hub.nextConnection();
  assert.deepEqual([server.transport, server.protocol], ["LongPolling", "messagepack"]);
});

Deno.test("official client: falls back when the hub offers no WebSockets, or refuses them", async () => {
  {
    await using hub = await TestHub.serve({ transports: ["ServerSentEvents", "LongPolling"] });
    await using _ = await official(hub.url, undefined);
    assert.equal((await hub.nextConnection()).transport, "ServerSentEvents");
  }
  await using hub = await TestHub.serve({
    // Not 5xx for the event stream: the `eventsource` package would schedule a retry timer.
    faults: { refuseTransports: { WebSockets: 503, ServerSentEvents: 403 } },
  });
  await using _ = await official(hub.url, undefined);
  assert.equal((await hub.nextConnection()).transport, "LongPolling");
});

Deno.test("official client over LongPolling: empty 200s after the poll timeout", async () => {
  await using hub = await TestHub.serve({
    longPollTimeout: 20,
    methods: { Echo: (x: unknown) => x },
  });
  await using client = await official(hub.url, "LongPolling");
  const server = await hub.nextConnection();
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.ok(server.requests.filter((r) => r.method === "GET").length >= 4, "polled again");
  assert.equal(await client.connection.invoke("Echo", "still"), "still");
});
