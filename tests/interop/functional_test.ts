// The scenarios of ASP.NET Core's TypeScript functional suite
// (src/SignalR/clients/ts/FunctionalTests/ts/HubConnectionTests.ts) that no other interop test
// already covers, on each transport with each hub protocol. Where each scenario of that suite is
// tested here (step names; "here" = this file):
//
//   invoke and receive a result ........................ rpc_test "invoke returns the result; …"
//   the same over https ................................ not applicable (disabled upstream; no TLS)
//   send without waiting for a result .................. rpc_test "send + on: …"
//   object argument bound, sent back to a handler ...... here "an object argument is bound …"
//   server stream received ............................. streams_test "server stream with for await, …"
//   server stream cancelled ............................ streams_test "TrackedCounter: break, cancel(), …"
//   server exception on invoke ......................... rpc_test "HubException text vs the generic text …"
//   invoke() of a streaming method (ChannelReader and
//     IAsyncEnumerable) ................................ here "invoke() of a streaming method …"
//   stream() of a method that throws before streaming .. here "a stream whose method throws …"
//   stream() of a non-streaming method ................. here "stream() of a non-streaming method …"
//   server calls the client (names case-insensitive) ... rpc_test "send + on: several handlers, case-insensitive …"
//   handlers kept across stop and start ................ here "restart: handlers stay bound …"
//   hub that cannot be created ......................... here "a hub that cannot be created …"
//   echo of byte array, date, Guid, int array, string .. here "mixed types round-trip …"
//   receive byte array, date, Guid, int array, string .. here "mixed types from the server …"
//   can be restarted ................................... here "restart: handlers stay bound …"
//   upload from an RxJS Subject ........................ here "upload concat: RxJS Subject and Subject"
//   upload from an RxJS Subject ended with an error .... here "upload concat ended with an error …"
//   authorization with a token (sync and async factory)  lifecycle_test "authentication: …"
//   serverTimeoutInMilliseconds set after start ........ here "serverTimeoutInMilliseconds set after start …"
//                                                        (keepAliveIntervalInMilliseconds: here too, on SSE)
//   cookies from negotiate sent back ................... here "negotiate's cookies reach the hub; …";
//                                                        transports_test "the cookie negotiate sets …"
//   expired cookies not sent ........................... here "negotiate's cookies reach the hub; …"
//   automatic reconnect, new connection id ............. lifecycle_test "dropped TCP connection → reconnect, …"
//   baseUrl changed while reconnecting ................. lifecycle_test "RetryPolicy sees each failure; baseUrl …"
//   reconnect after a negotiate redirect ............... azure_redirect_test (reconnect and restart negotiate again from the original URL)
//   reconnect with skipNegotiation ..................... here "skipNegotiation: reconnects, connection id stays null"
//   connectionId matches the server's .................. rpc_test "invoke returns the result; …",
//                                                        lifecycle_test "dropped TCP connection → …"
//   connectionId null with skipNegotiation ............. lifecycle_test "skipNegotiation connects …"; here
//   SSE chosen on a hub without WebSockets (JSON) ...... transports_test "fallback: … /hub-sse-lp → ServerSentEvents"
//   SSE skipped for MessagePack ........................ transports_test "the default option skips SSE: …"
//   WebSockets failing → SSE or Long Polling ........... transports_test "a refused WebSocket upgrade: …"
//   Long Polling: DELETE on stop, poll ends ............ transports_test "stop() aborts the poll and sends DELETE"
//   Content-Type of sends .............................. transports_test "every send's body has the protocol's …"
//   user agent header .................................. transports_test "the library's X-SignalR-User-Agent …"
//   user headers override the library's ................ transports_test "user headers override the library's …"
import "../_guard.ts";
import assert from "node:assert/strict";
import { Subject as RxSubject } from "npm:rxjs@7.8.2";
import {
  HttpTransportType,
  type HubConnection,
  HubConnectionBuilder,
  HubConnectionState,
  HubError,
  ServerCloseError,
  ServerTimeoutError,
  Subject,
} from "../../mod.ts";
import { RecordingLogger, signal, within } from "../_util.ts";
import { startInteropServer } from "./_server.ts";
import {
  builderOn,
  forEachVariant,
  hubProtocol,
  kindOf,
  loggedRequests,
  newCase,
  startOn,
  type Variant,
} from "./_transports.ts";

Deno.test("interop: functional suite scenarios", async (t) => {
  await using server = await startInteropServer();
  if (!server) return;
  await forEachVariant(t, (t, variant) => scenarios(t, variant, server.url));
});

async function scenarios(t: Deno.TestContext, variant: Variant, serverUrl: string) {
  const { transport, protocol } = variant;
  const json = protocol === "json";
  const hubUrl = `${serverUrl}/hub`;
  const logger = new RecordingLogger();
  const builder = (url = hubUrl) => builderOn(variant, url, {}, logger);
  const open = (url = hubUrl) => startOn(builder(url).build(), variant);

  await t.step("an object argument is bound and sent back to a handler", async () => {
    await using connection = await open();
    const received = signal<unknown>();
    connection.on("namevalue", (value: unknown) => received.fire(value));
    // PascalCase keys on both protocols: the JSON protocol binds them case-insensitively.
    await connection.send("SendNameValue", { Name: "crate", Value: 42 });
    assert.deepEqual(
      await within(received.promise, 5000, "NameValue"),
      json ? { name: "crate", value: 42 } : { Name: "crate", Value: 42 },
    );
  });

  await t.step("invoke() of a streaming method rejects with the server's text", async () => {
    await using connection = await open();
    for (const method of ["ChannelCounter", "Counter"]) {
      await assert.rejects(
        connection.invoke(method, 3, 0),
        (e: unknown) =>
          e instanceof HubError &&
          e.message ===
            `The client attempted to invoke the streaming '${method}' method with a non-streaming invocation.`,
      );
    }
    assert.equal(await connection.invoke("Add", 2, 2), 4);
  });

  await t.step("stream() of a non-streaming method errors the stream", async () => {
    await using connection = await open();
    await assert.rejects(
      Array.fromAsync(connection.stream("Add", 1, 2)),
      (e: unknown) =>
        e instanceof HubError &&
        e.message ===
          "The client attempted to invoke the non-streaming 'Add' method with a streaming invocation.",
    );
    assert.equal(await connection.invoke("Add", 2, 3), 5);
  });

  await t.step("a stream whose method throws before its first item errors at once", async () => {
    await using connection = await open();
    const items: unknown[] = [];
    await assert.rejects(
      (async () => {
        for await (const item of connection.stream("StreamFailsAtOnce", "no items today")) {
          items.push(item);
        }
      })(),
      (e: unknown) =>
        e instanceof HubError &&
        e.message ===
          "An unexpected error occurred invoking 'StreamFailsAtOnce' on the server. HubException: no items today",
    );
    assert.deepEqual(items, []);
  });

  await t.step("restart: handlers stay bound, calls work after each start", async () => {
    const connection = builder().build();
    const heard: unknown[] = [];
    connection.on("Said", (text: unknown) => heard.push(text));
    const closes: (Error | undefined)[] = [];
    connection.onclose((error) => closes.push(error));
    for (let round = 1; round <= 2; round++) {
      await startOn(connection, variant);
      const text = `第${round}回 ✓`;
      assert.equal(await connection.invoke("Echo", text), text);
      // The hub's message to the caller precedes its Completion.
      await connection.invoke("SendToCaller", "said", text);
      await connection.stop();
      assert.equal(connection.state, HubConnectionState.Disconnected);
    }
    assert.deepEqual(heard, ["第1回 ✓", "第2回 ✓"]);
    assert.deepEqual(closes, [undefined, undefined]);
  });

  await t.step("a hub that cannot be created closes the connection with an error", async () => {
    const connection = builder(`${serverUrl}/unresolvable`).build();
    const closed = signal<Error | undefined>();
    connection.onclose((error) => closed.fire(error));
    let error: unknown;
    try {
      await connection.start();
      // The handshake succeeded: the Close follows it.
      error = await within(closed.promise, 5000, "onclose");
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof ServerCloseError, String(error));
    assert.equal(error.serverMessage, "Connection closed with an error.");
    assert.equal(connection.state, HubConnectionState.Disconnected);
  });

  await t.step("mixed types round-trip: bytes, date, Guid, int array, string", async () => {
    await using connection = await open();
    const id = "00112233-4455-6677-8899-aabbccddeeff";
    const when = new Date(Date.UTC(2003, 4, 6, 7, 8, 9));
    const bytes = new Uint8Array([0x00, 0x7f, 0x80, 0xff, 0x10]);
    if (json) {
      const sent = {
        text: "ok ✓",
        numbers: [1, -2, 2147483647],
        bytes: "AH+A/xA=", // base64 of the bytes above
        when: "2003-05-06T07:08:09Z",
        id,
      };
      assert.deepEqual(await connection.invoke("EchoMixedTypes", sent), sent);
    } else {
      const sent = { Text: "ok ✓", Numbers: [1, -2, 2147483647], Bytes: bytes, When: when, Id: id };
      const back = await connection.invoke<Record<string, unknown>>("EchoMixedTypes", sent);
      assert.ok(back.Bytes instanceof Uint8Array);
      assert.ok(back.When instanceof Date);
      assert.deepEqual(back, sent);
    }
  });

  await t.step("mixed types from the server: bytes, date, Guid, int array, string", async () => {
    await using connection = await open();
    const value = await connection.invoke<Record<string, unknown>>("GetMixedTypes");
    const id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    if (json) {
      assert.deepEqual(value, {
        text: "mixed",
        numbers: [4, 5, 6],
        bytes: "CgsM",
        when: "2010-06-15T08:30:00Z",
        id,
      });
    } else {
      assert.deepEqual(value, {
        Text: "mixed",
        Numbers: [4, 5, 6],
        Bytes: new Uint8Array([0x0a, 0x0b, 0x0c]),
        When: new Date(Date.UTC(2010, 5, 15, 8, 30)),
        Id: id,
      });
    }
  });

  await t.step("upload concat: RxJS Subject and Subject", async () => {
    await using connection = await open();
    const rx = new RxSubject<string>();
    const fromRx = connection.invoke<string>("ConcatUpload", rx.asObservable());
    rx.next("Hallo ");
    rx.next("wêreld");
    rx.next("!");
    rx.complete();
    assert.equal(await fromRx, "Hallo wêreld!");
    assert.equal(rx.observed, false, "the upload still subscribed");

    const subject = new Subject<string>();
    const fromSubject = connection.invoke<string>("ConcatUpload", subject);
    await subject.next("a");
    await subject.next("😀");
    await subject.complete();
    assert.equal(await fromSubject, "a😀");
  });

  await t.step("upload concat ended with an error: the call fails with its text", async () => {
    await using connection = await open();
    const rx = new RxSubject<string>();
    const result = connection.invoke<string>("ConcatUpload", rx);
    rx.next("part");
    rx.error(new Error("source gave up"));
    await assert.rejects(
      result,
      (e: unknown) =>
        e instanceof HubError &&
        e.message ===
          "An unexpected error occurred invoking 'ConcatUpload' on the server. HubException: source gave up",
    );
    assert.equal(await connection.invoke("Add", 1, 2), 3);
  });

  if (transport !== "LongPolling") {
    await t.step(
      "serverTimeoutInMilliseconds set after start closes a silent connection",
      async () => {
        const connection = builder().build();
        const closed = signal<Error | undefined>();
        connection.onclose((error) => closed.fire(error));
        await startOn(connection, variant);
        assert.equal(connection.serverTimeoutInMilliseconds, 30_000);
        // The server pings every 15 s: with the default 30 s nothing would close here.
        connection.serverTimeoutInMilliseconds = 250;
        assert.equal(await connection.invoke("Echo", ""), "");
        const error = await within(closed.promise, 5000, "onclose");
        assert.ok(error instanceof ServerTimeoutError, String(error));
        assert.equal(error.timeout, 250);
      },
    );
  }

  if (transport === "ServerSentEvents") {
    // A ping is a POST on Server-Sent Events: the request log shows it. (On WebSockets a ping is
    // a frame the server does not log; Long Polling keeps itself alive and sends no pings, as in
    // @microsoft/signalr.)
    await t.step("keepAliveIntervalInMilliseconds set after start sends pings", async () => {
      const name = newCase("keepalive");
      await using connection = await open(`${hubUrl}?case=${name}`);
      const sends = async () =>
        (await loggedRequests(serverUrl, name)).filter((r) => kindOf(r) === "send").length;
      const before = await sends(); // the handshake
      assert.equal(connection.keepAliveIntervalInMilliseconds, 15_000);
      connection.keepAliveIntervalInMilliseconds = 50;
      const deadline = Date.now() + 5000;
      let now = before;
      while (now < before + 3 && Date.now() < deadline) now = await sends();
      assert.ok(now >= before + 3, `only ${now - before} sends after the change`);
    });
  }

  await t.step("negotiate's cookies reach the hub; an expired one does not", async () => {
    await using connection = await open(`${serverUrl}/hub-cookies`);
    assert.equal(await connection.invoke("GetCookie", "flavour"), "vanilla");
    assert.equal(await connection.invoke("GetCookie", "size"), "large");
    assert.equal(await connection.invoke("GetCookie", "stale"), null);
  });

  if (transport === "WebSockets") {
    await t.step("skipNegotiation: reconnects, connection id stays null", async () => {
      const connection: HubConnection = new HubConnectionBuilder()
        .withUrl(hubUrl, { skipNegotiation: true, transport: HttpTransportType.WebSockets })
        .withHubProtocol(hubProtocol(protocol))
        .withAutomaticReconnect([0])
        .configureLogging(logger)
        .build();
      await using _ = connection;
      const reconnected = signal<string | undefined>();
      connection.onreconnected((id) => reconnected.fire(id));
      await startOn(connection, variant);
      assert.equal(connection.connectionId, null);
      await connection.send("DropConnection");
      const id = await within(reconnected.promise, 5000, "onreconnected");
      assert.equal(id ?? null, null);
      assert.equal(connection.connectionId, null);
      assert.equal(await connection.invoke("Echo", "again"), "again");
    });
  }
}
