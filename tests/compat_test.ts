// What users of @microsoft/signalr rely on, on TestHub: Observables (RxJS) uploaded as streams,
// the official texts for client results, and the timer properties.
import "./_guard.ts";
import assert from "node:assert/strict";
import { Subject as RxSubject } from "npm:rxjs@7.8.2";
import {
  HttpError,
  HttpTransportType,
  HubConnectionBuilder,
  HubConnectionState,
  LogLevel,
  NullLogger,
  ServerTimeoutError,
  VERSION,
} from "../mod.ts";
import { TestHub } from "../testing.ts";

function connect(url: string) {
  return new HubConnectionBuilder().withUrl(url).configureLogging({ log() {} }).build();
}

Deno.test("an RxJS Subject argument is uploaded as a stream, never sent as data", async () => {
  const failure = Promise.withResolvers<string>();
  await using hub = await TestHub.serve({
    methods: {
      Join: async (separator: string, items: AsyncIterable<string>) =>
        (await Array.fromAsync(items)).join(separator),
      Watch: async (items: AsyncIterable<unknown>) => {
        try {
          for await (const _ of items);
          failure.resolve("no error");
        } catch (error) {
          failure.resolve((error as Error).message);
        }
      },
    },
  });
  await using connection = connect(hub.url);
  await connection.start();

  const subject = new RxSubject<string>();
  const joined = connection.invoke("Join", "-", subject);
  subject.next("a");
  subject.next("b");
  subject.complete();
  assert.equal(await joined, "a-b");
  const client = await hub.nextConnection();
  const call = client.received.find((m) => m.type === 1 && "target" in m && m.target === "Join");
  assert.ok(call && "streamIds" in call && call.streamIds?.length === 1, JSON.stringify(call));
  assert.deepEqual(call.arguments, ["-"]);

  const failing = new RxSubject<number>();
  await connection.send("Watch", failing);
  failing.next(1);
  failing.error(new Error("client gave up"));
  assert.match(await failure.promise, /client gave up/);
});

Deno.test("an uploaded Observable is unsubscribed when the server completes the call first", async () => {
  await using hub = await TestHub.serve({
    methods: {
      First: async (items: AsyncIterable<number>) => {
        for await (const item of items) return item;
      },
    },
  });
  await using connection = connect(hub.url);
  await connection.start();
  const subject = new RxSubject<number>();
  const first = connection.invoke("First", subject);
  subject.next(7);
  assert.equal(await first, 7);
  assert.equal(subject.observed, false);
  subject.next(8); // after the call: dropped, not sent
  subject.complete();
});

Deno.test("serverTimeoutInMilliseconds set after start applies at once, and is validated", async () => {
  await using hub = await TestHub.serve({});
  await using connection = connect(hub.url);
  assert.equal(connection.serverTimeoutInMilliseconds, 30_000);
  assert.equal(connection.keepAliveIntervalInMilliseconds, 15_000);
  for (const bad of [0, -1, NaN]) {
    assert.throws(() => connection.serverTimeoutInMilliseconds = bad, TypeError);
    assert.throws(() => connection.keepAliveIntervalInMilliseconds = bad, TypeError);
  }
  await connection.start();
  const closed = Promise.withResolvers<Error | undefined>();
  connection.onclose((error) => closed.resolve(error));
  hub.faults.pings = false;
  connection.keepAliveIntervalInMilliseconds = 100;
  connection.serverTimeoutInMilliseconds = 200;
  assert.equal(connection.serverTimeoutInMilliseconds, 200);
  const error = await closed.promise;
  assert.ok(error instanceof ServerTimeoutError, String(error));
  assert.equal(error.timeout, 200);
  assert.match(
    error.message,
    /^Server timeout elapsed without receiving a message from the server/,
  );
});

Deno.test("client results: the official texts for a missing handler and a throwing one", async () => {
  await using hub = await TestHub.serve({});
  await using connection = connect(hub.url);
  connection.on("Fail", () => {
    throw new Error("from callback");
  });
  connection.on("Reject", () => Promise.reject(new RangeError("out of range")));
  await connection.start();
  const server = await hub.nextConnection();
  await assert.rejects(() => hub.invokeClient(server.id, "Missing"), {
    message: "Client didn't provide a result.",
  });
  await assert.rejects(() => hub.invokeClient(server.id, "Fail"), {
    message: "Error: from callback",
  });
  await assert.rejects(() => hub.invokeClient(server.id, "Reject"), {
    message: "RangeError: out of range",
  });
});

Deno.test("the official client's names: VERSION, NullLogger, HubConnectionState values, transport flags", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.equal(VERSION, config.version);
  assert.equal(NullLogger.instance.log(LogLevel.Critical, "dropped"), undefined);
  assert.deepEqual(Object.values(HubConnectionState).sort(), [
    "Connected",
    "Connecting",
    "Disconnected",
    "Disconnecting",
    "Reconnecting",
  ]);
  // The values @microsoft/signalr uses, so that stored or combined flags mean the same.
  assert.deepEqual(
    [HttpTransportType.None, HttpTransportType.WebSockets, HttpTransportType.ServerSentEvents],
    [0, 1, 2],
  );
  assert.equal(HttpTransportType.LongPolling, 4);
  const connection = new HubConnectionBuilder()
    .withUrl("http://127.0.0.1:1/hub", HttpTransportType.LongPolling)
    .configureLogging(NullLogger.instance)
    .build();
  assert.equal(connection.state, HubConnectionState.Disconnected);
});

Deno.test("withUrl's logger option, as @microsoft/signalr takes it", async () => {
  const lines: string[] = [];
  await using hub = await TestHub.serve({});
  await using connection = new HubConnectionBuilder()
    .withUrl(hub.url, { logger: { log: (_level, message) => lines.push(message) } })
    .build();
  await connection.start();
  assert.ok(lines.length > 0);
});

Deno.test("official idioms: combined transport flags, a level name in a string, a null token, HttpError.statusCode", async () => {
  await using hub = await TestHub.serve({
    methods: { Add: (a: number, b: number) => a + b },
    transports: ["LongPolling"],
  });
  // As in the official docs: the level comes from configuration as a string; no one is signed in.
  const level: string = "Warning";
  await using connection = new HubConnectionBuilder()
    .withUrl(hub.url, HttpTransportType.WebSockets | HttpTransportType.LongPolling)
    .withUrl(hub.url, {
      transport: HttpTransportType.WebSockets | HttpTransportType.LongPolling,
      accessTokenFactory: () => null,
    })
    .configureLogging(level)
    .build();
  await connection.start();
  assert.equal(connection.transport, "LongPolling");
  assert.equal(await connection.invoke("Add", 1, 2), 3);
  const server = await hub.nextConnection();
  for (const { headers } of server.requests) assert.equal(headers.get("authorization"), null);

  const refused = new HttpError("Unauthorized: Status code '401'", 401);
  assert.equal(refused.statusCode, 401);
  assert.equal(refused.status, 401);
});
