// Faithfulness: the official client, @microsoft/signalr, against TestHub. These tests pass only
// if TestHub speaks negotiate, the transports and the JSON hub protocol as the official client
// expects. Nothing is skipped: negotiate runs, and each test runs once per transport, selected
// from its answer. In Deno the official client runs as on Node: the `ws` package for
// WebSockets, the `eventsource` package for Server-Sent Events, node-fetch for the rest.
import * as signalR from "npm:@microsoft/signalr@10.0.11";
import assert from "node:assert/strict";
import {
  type HubCallContext,
  MessageType,
  TestHub,
  TestHubError,
  type TestHubTransport,
} from "../testing.ts";

const TRANSPORTS: readonly TestHubTransport[] = ["WebSockets", "ServerSentEvents", "LongPolling"];

/** Builds an official connection and makes sure that it is stopped and closed afterwards. */
async function official(
  url: string,
  transport: TestHubTransport | undefined,
  configure?: (builder: signalR.HubConnectionBuilder) => signalR.HubConnectionBuilder,
): Promise<
  { connection: signalR.HubConnection; closed: Promise<Error | undefined> } & AsyncDisposable
> {
  let builder = new signalR.HubConnectionBuilder()
    .withUrl(url, transport ? { transport: signalR.HttpTransportType[transport] } : {})
    .configureLogging(signalR.LogLevel.None);
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

for (const transport of TRANSPORTS) {
  Deno.test(`official client over ${transport}: invoke, send, errors`, async () => {
    const seen: unknown[] = [];
    await using hub = await TestHub.serve({
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
    await using client = await official(hub.url, transport);
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
  });

  Deno.test(`official client over ${transport}: server stream, and its cancellation reaches the generator`, async () => {
    const finallyRan = Promise.withResolvers<string>();
    await using hub = await TestHub.serve({
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
    await using client = await official(hub.url, transport);
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

  Deno.test(`official client over ${transport}: upload with the official Subject`, async () => {
    await using hub = await TestHub.serve({
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
    await using client = await official(hub.url, transport);
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

  Deno.test(`official client over ${transport}: client results`, async () => {
    await using hub = await TestHub.serve({
      methods: {
        AskCaller: (question: string, context: HubCallContext) =>
          context.client.invoke("Answer", question),
      },
    });
    await using client = await official(hub.url, transport);
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

  Deno.test(`official client over ${transport}: the server's Close, with and without allowReconnect`, async () => {
    await using hub = await TestHub.serve({ methods: { Echo: (x: unknown) => x } });
    {
      await using client = await official(hub.url, transport);
      const server = await hub.nextConnection();
      await server.close({ error: "Server going away" });
      const error = await client.closed;
      assert.ok(error instanceof Error);
      assert.match(error.message, /Server going away/);
      assert.equal(client.connection.state, signalR.HubConnectionState.Disconnected);
    }
    {
      await using client = await official(
        hub.url,
        transport,
        (builder) => builder.withAutomaticReconnect([0]),
      );
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

  Deno.test(`official client over ${transport}: TestHub.close() sends Close to every connection`, async () => {
    const hub = await TestHub.serve();
    const a = await official(hub.url, transport);
    const b = await official(hub.url, transport);
    await hub.close();
    assert.equal(await a.closed, undefined);
    assert.equal(await b.closed, undefined);
    await Promise.all([a[Symbol.asyncDispose](), b[Symbol.asyncDispose]()]);
  });

  Deno.test(`official client over ${transport}: the cookie and the token on every request`, async () => {
    await using hub = await TestHub.serve({
      accessToken: "secret",
      negotiateHeaders: { "set-cookie": "affinity=abc; Path=/" },
      methods: { Echo: (x: unknown) => x },
    });
    await using client = await official(
      hub.url,
      transport,
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
