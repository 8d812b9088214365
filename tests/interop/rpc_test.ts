// Calls against the real ASP.NET Core hub: invoke, send, errors, payloads, handlers, groups,
// client results, headers and query string, and the options form with abort and timeout; on
// each transport with each hub protocol. Where JSON and MessagePack differ (member names,
// DateTime, byte[], 64-bit integers) each protocol's shape is asserted as it is.
import "../_guard.ts";
import assert from "node:assert/strict";
import {
  ConnectionClosedError,
  type HubConnection,
  HubConnectionState,
  HubError,
  LogLevel,
  NotConnectedError,
} from "../../mod.ts";
import { RecordingLogger, signal, within } from "../_util.ts";
import { largeString, startInteropServer } from "./_server.ts";
import { builderOn, forEachVariant, startOn, type Variant } from "./_transports.ts";

Deno.test("interop: calls", async (t) => {
  await using server = await startInteropServer();
  if (!server) return;
  const hubUrl = `${server.url}/hub`;
  await forEachVariant(t, (t, variant) => calls(t, variant, hubUrl));
});

async function calls(t: Deno.TestContext, variant: Variant, hubUrl: string) {
  const { transport, protocol } = variant;
  const logger = new RecordingLogger();
  const open = () => startOn(builderOn(variant, hubUrl, {}, logger).build(), variant);

  await t.step("invoke returns the result; start sets state and connection id", async () => {
    await using connection = await open();
    assert.equal(connection.state, HubConnectionState.Connected);
    assert.equal(typeof connection.connectionId, "string");
    assert.equal(await connection.invoke("Add", 2, 3), 5);
    assert.equal(await connection.invoke("GetConnectionId"), connection.connectionId);
    // The protocol the server's handshake chose.
    assert.equal(await connection.invoke("GetProtocol"), protocol);
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
    const nested = { a: [1, { b: null, c: [true, false] }], d: { e: { f: 1.5 } } };
    assert.deepEqual(await connection.invoke("Echo", nested), nested);
    if (protocol === "json") {
      // C# members camel-cased, DateTime as an ISO 8601 string.
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
      assert.equal(await connection.invoke("GetDate"), "2024-02-29T13:45:30.123Z");
      // A Date argument is sent as its ISO string, which the server binds to a DateTime.
      const echoed = await connection.invoke<{ born: string }>("EchoPerson", {
        ...person,
        born: new Date("2000-01-01T12:00:00Z"),
      });
      assert.equal(echoed.born, "2000-01-02T12:00:00Z");
    } else {
      // C# member names as they are, DateTime as a Date (the timestamp extension) both ways.
      const person = {
        Name: "Ada",
        Age: 36,
        Born: new Date("1815-12-10T00:00:00Z"),
        Tags: ["math", "engines"],
        Address: { Street: "St James's Square", City: "London" },
      };
      const echoed = await connection.invoke<typeof person>("EchoPerson", person);
      assert.deepEqual(echoed, { ...person, Age: 37, Born: new Date("1815-12-11T00:00:00Z") });
      assert.ok(echoed.Born instanceof Date);
      const date = await connection.invoke<Date>("GetDate");
      assert.ok(date instanceof Date);
      assert.equal(date.toISOString(), "2024-02-29T13:45:30.123Z");
    }
  });

  await t.step("DateTime: MinValue, MaxValue, every timestamp form, both ways", async () => {
    await using connection = await open();
    // GetDates: MinValue, the epoch, whole seconds, milliseconds, before 1970, 2^34 s after
    // 1970, MaxValue (all UTC).
    if (protocol === "json") {
      assert.deepEqual(await connection.invoke("GetDates"), [
        "0001-01-01T00:00:00Z",
        "1970-01-01T00:00:00Z",
        "2024-02-29T13:45:30Z",
        "2024-02-29T13:45:30.123Z",
        "1969-12-31T23:59:59.5Z",
        "2514-05-30T01:53:04Z",
        "9999-12-31T23:59:59.9999999Z",
      ]);
      // A Date goes as its ISO string; the server binds a UTC DateTime and writes it back.
      const min = new Date("0001-01-01T00:00:00Z");
      assert.equal(
        await connection.invoke("DescribeDate", min),
        "Utc 0001-01-01T00:00:00.0000000Z",
      );
      assert.equal(await connection.invoke("EchoDate", min), "0001-01-01T00:00:00Z");
      return;
    }
    // The timestamp extension in its 32-bit (whole seconds), 64-bit (with nanoseconds) and
    // 96-bit forms (negative seconds, or seconds from 2^34 on: DateTime.MinValue is one). JSON's
    // 100 ns of MaxValue are cut to the millisecond a Date holds, as new Date(iso) cuts them.
    const dates = [
      "0001-01-01T00:00:00.000Z",
      "1970-01-01T00:00:00.000Z",
      "2024-02-29T13:45:30.000Z",
      "2024-02-29T13:45:30.123Z",
      "1969-12-31T23:59:59.500Z",
      "2514-05-30T01:53:04.000Z",
      "9999-12-31T23:59:59.999Z",
    ];
    const got = await connection.invoke<Date[]>("GetDates");
    assert.ok(got.every((d) => d instanceof Date), String(got));
    assert.deepEqual(got.map((d) => d.toISOString()), dates);
    // Each form the client writes, as the server binds it (a UTC DateTime), and back.
    for (const iso of dates) {
      const date = new Date(iso);
      const described = await connection.invoke("DescribeDate", date);
      assert.equal(described, `Utc ${iso.replace(/Z$/, "0000Z")}`, iso);
      const echoed = await connection.invoke<Date>("EchoDate", date);
      assert.ok(echoed instanceof Date, iso);
      assert.equal(echoed.toISOString(), iso);
    }
    // An untyped (object) parameter binds a timestamp as a DateTime too.
    const echoed = await connection.invoke<Date>("Echo", new Date("2000-01-01T12:00:00.250Z"));
    assert.ok(echoed instanceof Date);
    assert.equal(echoed.toISOString(), "2000-01-01T12:00:00.250Z");
  });

  await t.step("byte[]: base64 in JSON, Uint8Array (bin) in MessagePack, both ways", async () => {
    await using connection = await open();
    if (protocol === "json") {
      assert.equal(await connection.invoke("GetBytes", 5), "AAECAwQ=");
      assert.equal(await connection.invoke("DescribeBytes", "AQL/"), "3:0102FF");
      assert.equal(await connection.invoke("ReverseBytes", "AQL/"), "/wIB");
      return;
    }
    const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 256);
    // bin 8, bin 16 and bin 32 (from 65 536 bytes on).
    for (const n of [0, 5, 300, 70_000]) {
      const got = await connection.invoke<Uint8Array>("GetBytes", n);
      assert.ok(got instanceof Uint8Array, `GetBytes(${n})`);
      assert.deepEqual(got, bytes(n));
      const reversed = await connection.invoke<Uint8Array>("ReverseBytes", bytes(n));
      assert.ok(reversed instanceof Uint8Array);
      assert.deepEqual(reversed, bytes(n).reverse());
    }
    assert.equal(await connection.invoke("DescribeBytes", Uint8Array.of(1, 2, 255)), "3:0102FF");
    // A view into a larger buffer sends only its own bytes.
    const view = new Uint8Array(Uint8Array.of(9, 1, 2, 255, 9).buffer, 1, 3);
    assert.equal(await connection.invoke("DescribeBytes", view), "3:0102FF");
    // Through an untyped (object) parameter: byte[] on the server, Uint8Array again here.
    const echoed = await connection.invoke<Uint8Array>("Echo", Uint8Array.of(7, 0, 7));
    assert.ok(echoed instanceof Uint8Array);
    assert.deepEqual(echoed, Uint8Array.of(7, 0, 7));
  });

  await t.step("long beyond 2^53: lossy numbers, or bigint with useBigInt64", async () => {
    await using connection = await open();
    // GetLongs: 2^53 + 1, -(2^53 + 1), long.MaxValue, long.MinValue. As numbers they round to
    // the nearest double: 2^53, -2^53, 2^63, -2^63 (JSON.parse does it for JSON, the decoder
    // for MessagePack's uint64/int64 by default).
    assert.deepEqual(await connection.invoke("GetLongs"), [
      2 ** 53,
      -(2 ** 53),
      2 ** 63,
      -(2 ** 63),
    ]);
    assert.equal(
      await connection.invoke("DescribeLong", Number.MAX_SAFE_INTEGER),
      "9007199254740991",
    );
    // A bigint cannot be sent by default (JSON has no form for it; MessagePack needs the option).
    await assert.rejects(connection.invoke("DescribeLong", 2n ** 53n + 1n), TypeError);
    assert.equal(connection.state, HubConnectionState.Connected);
    if (protocol === "json") return;

    // new MessagePackHubProtocol({ useBigInt64: true }): integers written in 64 bits arrive as
    // bigint, exactly; ASP.NET Core writes every integer in its smallest form, so small ones
    // still arrive as numbers, and a bigint may be sent.
    await using exact = await startOn(
      builderOn(variant, hubUrl, { messagePack: { useBigInt64: true } }, logger).build(),
      variant,
    );
    assert.deepEqual(await exact.invoke("GetLongs"), [
      2n ** 53n + 1n,
      -(2n ** 53n + 1n),
      2n ** 63n - 1n,
      -(2n ** 63n),
    ]);
    assert.equal(await exact.invoke("DescribeLong", 2n ** 53n + 1n), "9007199254740993");
    assert.equal(await exact.invoke("DescribeLong", -(2n ** 63n)), "-9223372036854775808");
    assert.equal(await exact.invoke("Add", 2, 3), 5);
    assert.equal(await exact.invoke("Echo", 10n), 10);
  });

  await t.step("member names: camelCase in JSON, the C# names in MessagePack", async () => {
    await using connection = await open();
    const outer = await connection.invoke("GetOuter");
    const pascal = {
      Name: "x",
      Child: { Label: "c", Values: [1] },
      Items: [{ Label: "i", Values: [] }],
      Counts: { Key: 1, key: 2 },
      Missing: null,
    };
    const camel = {
      name: "x",
      child: { label: "c", values: [1] },
      items: [{ label: "i", values: [] }],
      counts: { Key: 1, key: 2 },
      missing: null,
    };
    // Dictionary keys are data: no protocol renames them.
    if (protocol === "json") {
      assert.deepEqual(outer, {
        name: "outer",
        child: { label: "child", values: [1, 2] },
        items: [{ label: "a", values: [] }, { label: "b", values: [3] }],
        counts: { Alpha: 1, beta: 2 },
        missing: null,
      });
      assert.deepEqual(await connection.invoke("EchoOuter", camel), { ...camel, name: "x!" });
      // ASP.NET Core's JSON protocol binds member names case-insensitively.
      assert.deepEqual(await connection.invoke("EchoOuter", pascal), { ...camel, name: "x!" });
    } else {
      assert.deepEqual(outer, {
        Name: "outer",
        Child: { Label: "child", Values: [1, 2] },
        Items: [{ Label: "a", Values: [] }, { Label: "b", Values: [3] }],
        Counts: { Alpha: 1, beta: 2 },
        Missing: null,
      });
      assert.deepEqual(await connection.invoke("EchoOuter", pascal), { ...pascal, Name: "x!" });
      // MessagePack binds only the C# names: camelCase keys are skipped, and nothing is bound.
      assert.deepEqual(await connection.invoke("EchoOuter", camel), {
        Name: "!",
        Child: null,
        Items: null,
        Counts: null,
        Missing: null,
      });
    }
  });

  await t.step("arrays and maps nested 50 deep, both ways", async () => {
    await using connection = await open();
    // Nest(n) in C#: level i is [i, inner] when i is even, { level: i, next: inner } when odd.
    let nest: unknown = "bottom";
    for (let i = 49; i >= 0; i--) nest = i % 2 === 0 ? [i, nest] : { level: i, next: nest };
    assert.deepEqual(await connection.invoke("Nest", 50), nest);
    assert.deepEqual(await connection.invoke("Echo", nest), nest);
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
      "client error: Error: client says no",
    );
    assert.equal(
      await connection.invoke("AskClient", "rejects", null),
      "client error: Error: async no",
    );
    const answer = await connection.invoke<string>("AskClient", "missing", null);
    assert.equal(answer, "client error: Client didn't provide a result.");
  });

  await t.step("headers and query string reach the hub", async () => {
    const connection = builderOn(variant, `${hubUrl}?tenant=blue&x=1`, {
      headers: { "X-Tenant": "acme" },
    }, logger).build();
    await startOn(connection, variant);
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
    const connection = builderOn(variant, hubUrl, { accessTokenFactory: () => token })
      .configureLogging({ log: (level, message) => quiet.log(level, message) })
      .build();
    await startOn(connection, variant);
    await connection.invoke("Echo", secret);
    await connection.stop();
    const all = quiet.entries.map((e) => e.message).join("\n");
    assert.ok(quiet.entries.length > 0);
    assert.ok(!all.includes(secret), "content logged although logMessageContent is off");
    assert.ok(!all.includes(token), "access token logged");

    const loud = new RecordingLogger();
    const verbose = builderOn(variant, hubUrl, {
      accessTokenFactory: () => token,
      logMessageContent: true,
    }, loud).build();
    await startOn(verbose, variant);
    await verbose.invoke("Echo", secret);
    await verbose.stop();
    const traces = loud.entries.filter((e) => e.level === LogLevel.Trace).map((e) => e.message);
    // JSON frames are text; MessagePack frames may be logged as text or as their bytes in hex
    // (the official client writes "0x70 0x61 ..."): either way the content is there.
    const content = protocol === "json" ? secret : new RegExp(
      `${secret}|${
        [...new TextEncoder().encode(secret)]
          .map((b) => `(0x)?${b.toString(16).padStart(2, "0")}`).join("[ ,]?")
      }`,
      "i",
    );
    const shows = (prefix: string) => (m: string) =>
      m.startsWith(prefix) && (typeof content === "string" ? m.includes(content) : content.test(m));
    assert.ok(traces.some(shows("Sending:")), traces.join("\n"));
    assert.ok(traces.some(shows("Received:")), traces.join("\n"));
    assert.ok(!loud.entries.some((e) => e.message.includes(token)), "access token logged");
  });

  await t.step("misuse: invoke before start, start twice, bad arguments", async () => {
    const connection: HubConnection = builderOn(variant, hubUrl, {}, logger).build();
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
