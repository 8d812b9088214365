// Calls against the real ASP.NET Core hub: invoke, send, errors, payloads, handlers, groups,
// client results, headers and query string, and the options form with abort and timeout; on
// each transport.
import assert from "node:assert/strict";
import {
  ConnectionClosedError,
  type HubConnection,
  HubConnectionState,
  HubError,
  LogLevel,
  NotConnectedError,
  type TransportName,
} from "../../mod.ts";
import { RecordingLogger, signal, within } from "../_util.ts";
import { largeString, startInteropServer } from "./_server.ts";
import { builderOn, forEachTransport, startOn } from "./_transports.ts";

Deno.test("interop: calls", async (t) => {
  await using server = await startInteropServer();
  if (!server) return;
  const hubUrl = `${server.url}/hub`;
  await forEachTransport(t, (t, transport) => calls(t, transport, hubUrl));
});

async function calls(t: Deno.TestContext, transport: TransportName, hubUrl: string) {
  const logger = new RecordingLogger();
  const open = () => startOn(builderOn(transport, hubUrl, {}, logger).build(), transport);

  await t.step("invoke returns the result; start sets state and connection id", async () => {
    await using connection = await open();
    assert.equal(connection.state, HubConnectionState.Connected);
    assert.equal(typeof connection.connectionId, "string");
    assert.equal(await connection.invoke("Add", 2, 3), 5);
    assert.equal(await connection.invoke("GetConnectionId"), connection.connectionId);
  });

  await t.step("unicode and 200 KB payloads round-trip both ways", async () => {
    await using connection = await open();
    const text = "héllo wörld — 漢字 — 😀🎉 — \u0000\u001e\u2028";
    assert.equal(await connection.invoke("Echo", text), text);
    const big = largeString(200 * 1024);
    assert.equal(await connection.invoke("EchoLength", big), big.length);
    assert.equal(await connection.invoke("GetLargeString", 200 * 1024), big);
    assert.equal(await connection.invoke("Echo", big), big);
  });

  await t.step("complex objects and dates", async () => {
    await using connection = await open();
    const person = {
      name: "Ada",
      age: 36,
      born: "1815-12-10T00:00:00Z",
      tags: ["math", "engines"],
      address: { street: "St James's Square", city: "London" },
    };
    assert.deepEqual(await connection.invoke("EchoPerson", person), {
      ...person,
      age: 37,
      born: "1815-12-11T00:00:00Z",
    });
    const date = await connection.invoke<string>("GetDate");
    assert.equal(new Date(date).toISOString(), "2024-02-29T13:45:30.123Z");
    // A Date argument is sent as its ISO string, which the server binds to a DateTime.
    const echoed = await connection.invoke<{ born: string }>("EchoPerson", {
      ...person,
      born: new Date("2000-01-01T12:00:00Z"),
    });
    assert.equal(new Date(echoed.born).toISOString(), "2000-01-02T12:00:00.000Z");
    const nested = { a: [1, { b: null, c: [true, false] }], d: { e: { f: 1.5 } } };
    assert.deepEqual(await connection.invoke("Echo", nested), nested);
  });

  await t.step("HubException text vs the generic text for other exceptions", async () => {
    await using connection = await open();
    await assert.rejects(
      connection.invoke("ThrowHubException", "Name is required"),
      (error: unknown) =>
        error instanceof HubError &&
        error.message ===
          "An unexpected error occurred invoking 'ThrowHubException' on the server. HubException: Name is required",
    );
    await assert.rejects(
      connection.invoke("ThrowException"),
      (error: unknown) =>
        error instanceof HubError &&
        error.message ===
          "An unexpected error occurred invoking 'ThrowException' on the server." &&
        !error.message.includes("secret"),
    );
    // The connection is unharmed.
    assert.equal(await connection.invoke("Add", 1, 1), 2);
  });

  await t.step("unknown method and wrong arguments reject with the server's text", async () => {
    await using connection = await open();
    await assert.rejects(
      connection.invoke("NoSuchMethod"),
      (error: unknown) =>
        error instanceof HubError &&
        error.message ===
          "Failed to invoke 'NoSuchMethod' due to an error on the server. HubException: Method does not exist.",
    );
    await assert.rejects(connection.invoke("Add", 1), HubError);
    assert.equal(connection.state, HubConnectionState.Connected);
  });

  await t.step(
    "send + on: several handlers, case-insensitive names, unsubscribe, off",
    async () => {
      await using connection = await open();
      const first = signal<unknown[]>();
      const second = signal<unknown[]>();
      const unsubscribe = connection.on("receivemessage", (user, text) => first.fire([user, text]));
      connection.on("ReceiveMessage", (user, text) => second.fire([user, text]));
      await connection.send("SendMessage", "ada", "hello");
      assert.deepEqual(await within(first.promise, 5000, "first handler"), ["ada", "hello"]);
      assert.deepEqual(await within(second.promise, 5000, "second handler"), ["ada", "hello"]);

      unsubscribe();
      let calls = 0;
      connection.off("RECEIVEMESSAGE");
      const after = signal<void>();
      connection.on("ReceiveMessage", () => calls++);
      connection.on("ReceiveMessage", () => after.fire());
      await connection.invoke("SendMessage", "ada", "again");
      await within(after.promise, 5000, "handler after off");
      assert.equal(calls, 1);
    },
  );

  await t.step("a throwing handler is logged; the connection keeps working", async () => {
    await using connection = await open();
    const seen = signal<void>();
    connection.on("ReceiveMessage", () => {
      throw new Error("handler bug");
    });
    connection.on("ReceiveMessage", () => seen.fire());
    await connection.send("SendMessage", "a", "b");
    await within(seen.promise, 5000, "second handler");
    assert.ok(logger.at(LogLevel.Error).some((m) => m.includes("handler bug")));
    assert.equal(await connection.invoke("Add", 2, 2), 4);
  });

  await t.step("groups", async () => {
    await using a = await open();
    await using b = await open();
    const got: string[] = [];
    const bGot = signal<void>();
    a.on("GroupMessage", (group, text) => got.push(`a:${group}:${text}`));
    b.on("GroupMessage", (group, text) => {
      got.push(`b:${group}:${text}`);
      bGot.fire();
    });
    await a.invoke("JoinGroup", "blue");
    await b.invoke("JoinGroup", "blue");
    await b.invoke("JoinGroup", "red");
    await a.invoke("SendToGroup", "red", "only b");
    await within(bGot.promise, 5000, "group message");
    await a.invoke("LeaveGroup", "blue");
    const second = signal<void>();
    b.on("GroupMessage", () => second.fire());
    await a.invoke("SendToGroup", "blue", "b again");
    await within(second.promise, 5000, "second group message");
    // a round trip on `a` proves no message for `a` was pending
    await a.invoke("Add", 0, 0);
    assert.deepEqual(got, ["b:red:only b", "b:blue:b again"]);
  });

  await t.step("client results: values, falsy values, promises, errors, no handler", async () => {
    await using connection = await open();
    connection.on("double", (x: number) => x * 2);
    connection.on("later", async (x: string) => {
      await Promise.resolve();
      return x.toUpperCase();
    });
    connection.on("zero", () => 0);
    connection.on("no", () => false);
    connection.on("nothing", () => undefined);
    connection.on("nul", () => null);
    connection.on("fails", () => {
      throw new Error("client says no");
    });
    connection.on("rejects", () => Promise.reject(new Error("async no")));
    assert.equal(await connection.invoke("AskClient", "double", 21), 42);
    assert.equal(await connection.invoke("AskClient", "later", "abc"), "ABC");
    assert.equal(await connection.invoke("AskClient", "zero", null), 0);
    assert.equal(await connection.invoke("AskClient", "no", null), false);
    assert.equal(await connection.invoke("AskClient", "nothing", null), null);
    assert.equal(await connection.invoke("AskClient", "nul", null), null);
    assert.equal(await connection.invoke("AskClientNoArgs", "zero"), 0);
    assert.equal(
      await connection.invoke("AskClient", "fails", null),
      "client error: client says no",
    );
    assert.equal(await connection.invoke("AskClient", "rejects", null), "client error: async no");
    const answer = await connection.invoke<string>("AskClient", "missing", null);
    assert.match(answer, /^client error: .*missing/);
  });

  await t.step("headers and query string reach the hub", async () => {
    const connection = builderOn(transport, `${hubUrl}?tenant=blue&x=1`, {
      headers: { "X-Tenant": "acme" },
    }, logger).build();
    await startOn(connection, transport);
    try {
      assert.equal(await connection.invoke("GetHeader", "X-Tenant"), "acme");
      assert.equal(await connection.invoke("GetQuery", "tenant"), "blue");
      assert.equal(await connection.invoke("GetQuery", "x"), "1");
      assert.equal(typeof await connection.invoke("GetQuery", "id"), "string");
      assert.match(
        await connection.invoke<string>("GetHeader", "X-SignalR-User-Agent"),
        /signalrcore/,
      );
    } finally {
      await connection.stop();
    }
  });

  await t.step(
    "options form: abort rejects with the reason and leaves the connection usable",
    async () => {
      await using connection = await open();
      const controller = new AbortController();
      const call = connection.invoke({
        method: "SlowEcho",
        args: ["x", 300],
        signal: controller.signal,
      });
      const reason = new Error("user gave up");
      controller.abort(reason);
      await assert.rejects(call, (error) => error === reason);
      // The server still completes SlowEcho later; that late Completion is dropped quietly.
      assert.equal(await connection.invoke({ method: "Add", args: [4, 5] }), 9);
      await assert.rejects(
        connection.invoke({ method: "Add", args: [1, 2], signal: AbortSignal.abort(reason) }),
        (error) => error === reason,
      );
      await assert.rejects(
        connection.invoke({ method: "SlowEcho", args: ["y", 3000], timeout: 50 }),
        (error: unknown) => error instanceof DOMException && error.name === "TimeoutError",
      );
      await connection.send({ method: "SendMessage", args: ["a", "b"] });
      assert.equal(connection.state, HubConnectionState.Connected);
      assert.deepEqual(
        logger.at(LogLevel.Warning).filter((m) => m.includes("unknown invocation id")),
        [],
      );
    },
  );

  await t.step("stop() rejects pending calls with ConnectionClosedError", async () => {
    const connection = await open();
    const pending = connection.invoke("SlowEcho", "x", 5000);
    await connection.stop();
    await assert.rejects(pending, ConnectionClosedError);
    assert.equal(connection.state, HubConnectionState.Disconnected);
    assert.equal(connection.connectionId, null);
  });

  await t.step("logging: message content only when enabled; tokens never", async () => {
    const quiet = new RecordingLogger();
    const token = "tok-" + crypto.randomUUID();
    const secret = "payload-" + crypto.randomUUID();
    const connection = builderOn(transport, hubUrl, { accessTokenFactory: () => token })
      .configureLogging({ log: (level, message) => quiet.log(level, message) })
      .build();
    await startOn(connection, transport);
    await connection.invoke("Echo", secret);
    await connection.stop();
    const all = quiet.entries.map((e) => e.message).join("\n");
    assert.ok(quiet.entries.length > 0);
    assert.ok(!all.includes(secret), "content logged although logMessageContent is off");
    assert.ok(!all.includes(token), "access token logged");

    const loud = new RecordingLogger();
    const verbose = builderOn(transport, hubUrl, {
      accessTokenFactory: () => token,
      logMessageContent: true,
    }, loud).build();
    await startOn(verbose, transport);
    await verbose.invoke("Echo", secret);
    await verbose.stop();
    const traces = loud.entries.filter((e) => e.level === LogLevel.Trace).map((e) => e.message);
    assert.ok(traces.some((m) => m.startsWith("Sending:") && m.includes(secret)));
    assert.ok(traces.some((m) => m.startsWith("Received:") && m.includes(secret)));
    assert.ok(!loud.entries.some((e) => e.message.includes(token)), "access token logged");
  });

  await t.step("misuse: invoke before start, start twice, bad arguments", async () => {
    const connection: HubConnection = builderOn(transport, hubUrl, {}, logger).build();
    assert.equal(connection.transport, null);
    const notConnected = (e: unknown) =>
      e instanceof NotConnectedError && e.state === "Disconnected";
    await assert.rejects(connection.invoke("Add", 1, 2), notConnected);
    await assert.rejects(connection.send("Add", 1, 2), notConnected);
    await assert.rejects(connection.stream("Counter", 1, 0).getReader().read(), notConnected);
    const starting = connection.start();
    await assert.rejects(
      connection.start(),
      (e: unknown) => e instanceof DOMException && /Connecting/.test(e.message),
    );
    await starting;
    assert.equal(connection.transport, transport);
    await assert.rejects(connection.start(), /Connected/);
    assert.throws(() => connection.invoke(""), TypeError);
    assert.throws(() => connection.on("x", 5 as never), TypeError);
    await assert.rejects(connection.invoke("Echo", 10n), TypeError);
    assert.equal(await connection.invoke("Add", 1, 2), 3);
    assert.throws(() => connection.baseUrl = hubUrl, /Disconnected or Reconnecting/);
    await connection.stop();
    assert.equal(connection.transport, null);
    await connection.stop(); // idempotent
  });
}
