// Connection life cycle against the real ASP.NET Core hub: server Close vs dropped transport,
// automatic reconnect, stop during reconnect, server timeout, authentication, negotiate
// redirects, handshake refusal, aborting start() (on each transport with each hub protocol);
// negotiate errors (once) and skipNegotiation (once per protocol).
import "../_guard.ts";
import assert from "node:assert/strict";
import {
  ConnectionClosedError,
  HandshakeError,
  HttpError,
  HttpTransportType,
  type HubConnection,
  HubConnectionBuilder,
  HubConnectionState,
  type HubProtocol,
  type RetryContext,
  ServerCloseError,
  ServerTimeoutError,
} from "../../mod.ts";
import { RecordingLogger, signal, within } from "../_util.ts";
import { AUTH_TOKEN, AUTH_USER, startInteropServer } from "./_server.ts";
import {
  builderOn,
  forEachVariant,
  hubProtocol,
  selectedProtocols,
  startOn,
  type Variant,
} from "./_transports.ts";

Deno.test("interop: life cycle", async (t) => {
  await using server = await startInteropServer();
  if (!server) return;
  const hubUrl = `${server.url}/hub`;
  const logger = new RecordingLogger();
  await forEachVariant(t, (t, variant) => lifeCycle(t, variant, server.url));

  await t.step("negotiate {error} fails start with the server's text", async () => {
    const connection = new HubConnectionBuilder().withUrl(`${server.url}/negotiate-error`)
      .configureLogging(logger).build();
    await assert.rejects(connection.start(), /Negotiate failed: negotiate refused by test server/);
    assert.equal(connection.state, HubConnectionState.Disconnected);
  });

  for (const protocol of selectedProtocols()) {
    await t.step(`skipNegotiation connects the WebSocket directly (${protocol})`, async () => {
      await using connection = new HubConnectionBuilder()
        .withUrl(hubUrl, { skipNegotiation: true, transport: HttpTransportType.WebSockets })
        .withHubProtocol(hubProtocol(protocol))
        .configureLogging(logger).build();
      await startOn(connection, "WebSockets");
      assert.equal(connection.connectionId, null);
      assert.equal(await connection.invoke("Add", 20, 22), 42);
      assert.equal(await connection.invoke("GetProtocol"), protocol);
    });
  }
});

/** The steps that are about the hub and the connection, not one transport or protocol. */
async function lifeCycle(t: Deno.TestContext, variant: Variant, serverUrl: string) {
  const { transport } = variant;
  const hubUrl = `${serverUrl}/hub`;
  const logger = new RecordingLogger();
  const builder = (url = hubUrl) => builderOn(variant, url, {}, logger);

  await t.step("Context.Abort(): Close without allowReconnect → closed, no reconnect", async () => {
    const connection = builder().withAutomaticReconnect([0]).build();
    let reconnecting = 0;
    connection.onreconnecting(() => reconnecting++);
    const closed = signal<Error | undefined>();
    connection.onclose((error) => closed.fire(error));
    await startOn(connection, variant);
    const call = connection.invoke("Abort");
    assert.equal(await within(closed.promise, 5000, "onclose"), undefined);
    await assert.rejects(call, ConnectionClosedError);
    assert.equal(connection.state, HubConnectionState.Disconnected);
    assert.equal(reconnecting, 0);
  });

  // DropConnection cuts the transport without a Close message: the WebSocket's or the SSE
  // stream's TCP connection, or the poll in flight (server/Transports.cs, CutTransport).
  await t.step("dropped TCP connection → reconnect, callbacks, new connection id", async () => {
    const connection = builder().withAutomaticReconnect([0]).build();
    const reconnecting = signal<Error | undefined>();
    const reconnected = signal<string | undefined>();
    connection.onreconnecting((error) => reconnecting.fire(error));
    connection.onreconnected((id) => reconnected.fire(id));
    await startOn(connection, variant);
    const firstId = connection.connectionId;
    const call = connection.invoke("DropConnection");
    const reason = await within(reconnecting.promise, 5000, "onreconnecting");
    assert.ok(reason instanceof Error);
    assert.equal(connection.state, HubConnectionState.Reconnecting);
    await assert.rejects(
      call,
      (e: unknown) => e instanceof ConnectionClosedError && e.cause === reason,
    );
    const newId = await within(reconnected.promise, 5000, "onreconnected");
    assert.equal(connection.state, HubConnectionState.Connected);
    assert.equal(newId, connection.connectionId);
    assert.notEqual(newId, firstId);
    assert.equal(await connection.invoke("Add", 2, 2), 4);
    await connection.stop();
  });

  await t.step(
    "without automatic reconnect a dropped connection closes with an error",
    async () => {
      const connection = builder().build();
      const closed = signal<Error | undefined>();
      connection.onclose((error) => closed.fire(error));
      await startOn(connection, variant);
      void connection.invoke("DropConnection").catch(() => {});
      const error = await within(closed.promise, 5000, "onclose");
      assert.ok(error instanceof Error);
      if (transport === "WebSockets") assert.match(error.message, /WebSocket closed/);
      assert.equal(connection.state, HubConnectionState.Disconnected);
    },
  );

  await t.step("RetryPolicy sees each failure; baseUrl can change while reconnecting", async () => {
    const contexts: RetryContext[] = [];
    const connection = builder().withAutomaticReconnect({
      nextRetryDelayInMilliseconds(context) {
        contexts.push(context);
        // The first attempt goes to a closed port; after it failed, back to the real hub.
        connection.baseUrl = context.previousRetryCount === 0 ? "http://127.0.0.1:9/hub" : hubUrl;
        return context.previousRetryCount < 3 ? 0 : null;
      },
    }).build();
    const reconnected = signal<void>();
    connection.onreconnected(() => reconnected.fire());
    await startOn(connection, variant);
    void connection.invoke("DropConnection").catch(() => {});
    await within(reconnected.promise, 10000, "onreconnected");
    assert.equal(contexts.length, 2);
    assert.equal(contexts[0].previousRetryCount, 0);
    assert.ok(contexts[0].retryReason instanceof Error);
    assert.equal(contexts[1].previousRetryCount, 1);
    assert.notEqual(contexts[1].retryReason, contexts[0].retryReason);
    assert.ok(contexts[1].elapsedMilliseconds >= contexts[0].elapsedMilliseconds);
    assert.equal(connection.baseUrl, hubUrl);
    assert.equal(await connection.invoke("Add", 1, 2), 3);
    await connection.stop();
  });

  await t.step(
    "a policy that declines the first attempt: no Reconnecting, onclose gets the reason",
    async () => {
      const reasons: Error[] = [];
      const connection = builder().withAutomaticReconnect({
        nextRetryDelayInMilliseconds: ({ retryReason }) => (reasons.push(retryReason), null),
      })
        .build();
      let reconnecting = 0;
      connection.onreconnecting(() => reconnecting++);
      const closed = signal<Error | undefined>();
      connection.onclose((error) => closed.fire(error));
      await startOn(connection, variant);
      void connection.invoke("DropConnection").catch(() => {});
      const error = await within(closed.promise, 5000, "onclose");
      assert.equal(reasons.length, 1);
      assert.equal(error, reasons[0]);
      assert.equal(reconnecting, 0);
      assert.equal(connection.state, HubConnectionState.Disconnected);
    },
  );

  await t.step("stop() during reconnect ends it at once", async () => {
    const connection = builder().withAutomaticReconnect([60_000]).build();
    const reconnecting = signal<void>();
    const closed = signal<Error | undefined>();
    connection.onreconnecting(() => reconnecting.fire());
    connection.onclose((error) => closed.fire(error));
    await startOn(connection, variant);
    void connection.invoke("DropConnection").catch(() => {});
    await within(reconnecting.promise, 5000, "onreconnecting");
    await within(connection.stop(), 2000, "stop during reconnect");
    assert.equal(connection.state, HubConnectionState.Disconnected);
    assert.equal(await closed.promise, undefined);
  });

  await t.step("OnConnectedAsync throws: the message before it arrives, then onclose", async () => {
    // ASP.NET Core writes the handshake response, the hub's message and a Close with an error,
    // often in one frame, and closes the socket: the connection must not stay Connected.
    const connection = builder(`${serverUrl}/failinghub`).withAutomaticReconnect([0]).build();
    const welcomed: string[] = [];
    connection.on(
      "Welcome",
      (text: string) => welcomed.push(`${text} ${connection.state} ${connection.transport}`),
    );
    let reconnecting = 0;
    connection.onreconnecting(() => reconnecting++);
    const closed = signal<Error | undefined>();
    connection.onclose((error) => closed.fire(error));
    // On Long Polling the Close comes in the poll that brings the handshake response: the
    // connection may be closed again by the time start() resolves.
    await connection.start();
    const error = await within(closed.promise, 5000, "onclose");
    assert.ok(error instanceof ServerCloseError, String(error));
    assert.equal(error.serverMessage, "Connection closed with an error.");
    assert.equal(error.allowReconnect, false);
    assert.deepEqual(welcomed, [`hello Connected ${transport}`]);
    assert.equal(connection.transport, null);
    assert.equal(connection.state, HubConnectionState.Disconnected);
    assert.equal(reconnecting, 0);
  });

  if (transport === "LongPolling") {
    // Long Polling keeps itself alive (each poll is answered within 90 s): ASP.NET Core sends
    // no pings on it, and the client must not time the server out.
    await t.step("no server timeout on Long Polling (the server sends no pings)", async () => {
      await using connection = builder().withServerTimeout(100).withKeepAliveInterval(50)
        .build();
      let closed = 0;
      connection.onclose(() => closed++);
      await startOn(connection, variant);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(connection.state, HubConnectionState.Connected);
      assert.equal(await connection.invoke("Add", 1, 2), 3);
      assert.equal(closed, 0);
    });
  } else {
    await t.step(
      "server timeout closes the connection (server pings only every 15 s)",
      async () => {
        const connection = builder().withServerTimeout(300).withKeepAliveInterval(100).build();
        const closed = signal<Error | undefined>();
        connection.onclose((error) => closed.fire(error));
        await startOn(connection, variant);
        const error = await within(closed.promise, 5000, "onclose");
        assert.ok(error instanceof ServerTimeoutError);
        assert.equal(error.timeout, 300);
        assert.match(
          error.message,
          /Server timeout elapsed without receiving a message from the server \(nothing for 300 ms\)/,
        );
      },
    );

    await t.step("a Ping right after the handshake arms the server's client timeout", async () => {
      // /hub-client-timeout drops a client after 1 s without a message, counted from the first
      // Ping it receives. Nothing follows start() here (keep-alive 60 s): only the Ping sent with
      // the handshake lets the server time this client out, as it must a client that vanished.
      const connection = builder(`${serverUrl}/hub-client-timeout`)
        .withKeepAliveInterval(60_000).withServerTimeout(120_000).build();
      const closed = signal<Error | undefined>();
      connection.onclose((error) => closed.fire(error));
      await startOn(connection, variant);
      const error = await within(closed.promise, 10_000, "onclose");
      assert.ok(error instanceof ServerCloseError, String(error));
      assert.equal(error.serverMessage, "Connection closed with an error.");
    });
  }

  await t.step("authentication: 401 without a token, bearer token from the factory", async () => {
    const anonymous = builder(`${serverUrl}/authhub`).build();
    await assert.rejects(
      anonymous.start(),
      (e: unknown) => e instanceof HttpError && e.status === 401,
    );
    assert.equal(anonymous.state, HubConnectionState.Disconnected);

    let calls = 0;
    const connection = builderOn(variant, `${serverUrl}/authhub`, {
      accessTokenFactory: () => (calls++, AUTH_TOKEN),
    }, logger).build();
    await startOn(connection, variant);
    assert.equal(await connection.invoke("WhoAmI"), AUTH_USER);
    // Asked for each request: negotiate, then the WebSocket upgrade (SSE: the GET and each
    // POST; Long Polling: each poll and each POST).
    if (transport === "WebSockets") assert.equal(calls, 2);
    else assert.ok(calls >= 4, `${calls} tokens asked for`);
    await connection.stop();
    assert.ok(!logger.entries.some((e) => e.message.includes(AUTH_TOKEN)), "token in a log");

    // An expired token: the 401 makes the client ask the factory once more.
    const given: string[] = [];
    const refreshed = builderOn(variant, `${serverUrl}/authhub`, {
      accessTokenFactory: () => {
        given.push(given.length === 0 ? "expired" : AUTH_TOKEN);
        return Promise.resolve(given.at(-1)!);
      },
    }, logger).build();
    await startOn(refreshed, variant);
    assert.equal(await refreshed.invoke("WhoAmI"), AUTH_USER);
    if (transport === "WebSockets") assert.deepEqual(given, ["expired", AUTH_TOKEN, AUTH_TOKEN]);
    else assert.deepEqual(given.slice(0, 3), ["expired", AUTH_TOKEN, AUTH_TOKEN]);
    assert.ok(given.slice(1).every((token) => token === AUTH_TOKEN));
    await refreshed.stop();
  });

  await t.step("negotiate redirect (Azure SignalR style) with its access token", async () => {
    await using connection = builder(`${serverUrl}/redirect`).build();
    await startOn(connection, variant);
    assert.equal(await connection.invoke("WhoAmI"), AUTH_USER);
  });

  await t.step("the server refuses an unknown protocol: HandshakeError with its text", async () => {
    // The variant's protocol under another name (its framing and transfer format).
    const inner = hubProtocol(variant.protocol);
    const xml: HubProtocol = {
      name: "xml",
      version: 1,
      transferFormat: inner.transferFormat,
      createDecoder: (options) => inner.createDecoder(options),
      encode: (message) => inner.encode(message),
    };
    const connection = builder().withHubProtocol(xml).build();
    await assert.rejects(
      connection.start(),
      (e: unknown) => e instanceof HandshakeError && /xml/.test(e.message),
    );
    assert.equal(connection.state, HubConnectionState.Disconnected);
  });

  await t.step(
    "start({ signal }) aborts with the reason; the connection can start later",
    async () => {
      const connection = builder().build();
      const controller = new AbortController();
      const starting = connection.start({ signal: controller.signal });
      const reason = new Error("changed my mind");
      controller.abort(reason);
      await assert.rejects(starting, (e) => e === reason);
      assert.equal(connection.state, HubConnectionState.Disconnected);
      await startOn(connection, variant);
      assert.equal(await connection.invoke("Add", 1, 1), 2);
      await connection.stop();
    },
  );

  await t.step("stop() during start() rejects start; await using stops", async () => {
    const connection = builder().build();
    const starting = connection.start();
    await connection.stop();
    await assert.rejects(starting, ConnectionClosedError);
    assert.equal(connection.state, HubConnectionState.Disconnected);
    let escaped: HubConnection | undefined;
    {
      await using scoped = builder().build();
      await startOn(scoped, variant);
      assert.equal(scoped.state, HubConnectionState.Connected);
      escaped = scoped;
    }
    assert.equal(escaped.state, HubConnectionState.Disconnected);
  });
}
