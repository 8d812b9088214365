// Faithfulness: the official client, @microsoft/signalr, against TestHub. These tests pass only
// if TestHub speaks negotiate, WebSockets and the JSON hub protocol as the official client
// expects. Nothing is skipped: negotiate runs, the WebSockets transport is selected from its
// answer.
import * as signalR from "npm:@microsoft/signalr@10.0.11";
import assert from "node:assert/strict";
import { type HubCallContext, MessageType, TestHub, TestHubError } from "../testing.ts";

/** Builds an official connection and makes sure that it is stopped and closed afterwards. */
async function official(
  url: string,
  configure?: (builder: signalR.HubConnectionBuilder) => signalR.HubConnectionBuilder,
): Promise<
  { connection: signalR.HubConnection; closed: Promise<Error | undefined> } & AsyncDisposable
> {
  let builder = new signalR.HubConnectionBuilder()
    .withUrl(url, { transport: signalR.HttpTransportType.WebSockets })
    .configureLogging(signalR.LogLevel.None);
  if (configure) builder = configure(builder);
  const connection = builder.build();
  const closed = new Promise<Error | undefined>((resolve) => connection.onclose(resolve));
  await connection.start();
  return {
    connection,
    closed,
    async [Symbol.asyncDispose]() {
      if (connection.state !== signalR.HubConnectionState.Disconnected) {
        await connection.stop();
      }
      await closed;
    },
  };
}

Deno.test("official client: invoke, send, errors", async () => {
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
  await using client = await official(hub.url);
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
});

Deno.test("official client: server stream, and its cancellation reaches the generator", async () => {
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
  await using client = await official(hub.url);
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

Deno.test("official client: upload with the official Subject", async () => {
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
  await using client = await official(hub.url);
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

Deno.test("official client: client results", async () => {
  await using hub = await TestHub.serve({
    methods: {
      AskCaller: (question: string, context: HubCallContext) =>
        context.client.invoke("Answer", question),
    },
  });
  await using client = await official(hub.url);
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

Deno.test("official client: the server's Close, with and without allowReconnect", async () => {
  await using hub = await TestHub.serve({ methods: { Echo: (x: unknown) => x } });
  {
    await using client = await official(hub.url);
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

Deno.test("official client: TestHub.close() sends Close to every connection", async () => {
  const hub = await TestHub.serve();
  const a = await official(hub.url);
  const b = await official(hub.url);
  await hub.close();
  assert.equal(await a.closed, undefined);
  assert.equal(await b.closed, undefined);
  await a[Symbol.asyncDispose]();
  await b[Symbol.asyncDispose]();
});
