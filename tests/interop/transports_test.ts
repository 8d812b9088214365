// The transports against ASP.NET Core, as the server sees them: fallback in the server's order,
// MessagePack skipping Server-Sent Events (and refused on them alone before any request), Long
// Polling's DELETE on stop, user headers, negotiate's cookie and the body's content type on every
// request, a 401 on a poll or a send refreshing the token, and a transport cut without a Close
// message; on each transport with each hub protocol. Requests are observed server-side through
// the server's request log (`case=` in the hub URL's query; see server/Transports.cs).
import "../_guard.ts";
import assert from "node:assert/strict";
import {
  ConnectionClosedError,
  HttpError,
  HttpTransportType,
  HubConnectionBuilder,
  HubConnectionState,
  ServerCloseError,
  type TransportName,
} from "../../mod.ts";
import { MessagePackHubProtocol } from "../../msgpack.ts";
import { RecordingLogger, signal, within } from "../_util.ts";
import { AUTH_USER, type InteropServer, startInteropServer } from "./_server.ts";
import {
  builderOn,
  forEachVariant,
  headerOf,
  kindOf,
  type LoggedRequest,
  loggedRequests,
  newCase,
  open,
  type RequestKind,
  selectedProtocols,
  selectedTransports,
  startOn,
  type Variant,
} from "./_transports.ts";

/** The kinds of the logged requests, in order. */
const kinds = (requests: LoggedRequest[]): RequestKind[] => requests.map(kindOf);

/** `id=` of a logged request (the connection token), or undefined. */
const idOf = (request: LoggedRequest) => /(?:^|&)id=([^&]*)/.exec(request.query)?.[1];

/** The request kinds that carry a connection on each transport (besides negotiate). */
const TRANSPORT_KINDS: Record<TransportName, RequestKind[]> = {
  WebSockets: ["upgrade"],
  ServerSentEvents: ["sse", "send"],
  LongPolling: ["poll", "send"],
};

Deno.test("interop: transports", async (t) => {
  await using server = await startInteropServer();
  if (!server) return;
  const logger = new RecordingLogger();

  await t.step("fallback: the default option takes the server's first transport", async (t) => {
    const cases: [string, TransportName][] = [
      ["/hub", "WebSockets"],
      ["/hub-sse-lp", "ServerSentEvents"],
      ["/hub-lp", "LongPolling"],
    ];
    for (const [path, expected] of cases) {
      if (!selectedTransports().includes(expected)) continue;
      await t.step(`${path} → ${expected}`, async () => {
        const name = newCase("fallback");
        await using connection = new HubConnectionBuilder()
          .withUrl(`${server.url}${path}?case=${name}`).configureLogging(logger).build();
        await startOn(connection, expected);
        assert.equal(await connection.invoke("Add", 1, 2), 3);
        const requests = await loggedRequests(server.url, name);
        // One negotiate, then only the chosen transport's requests.
        assert.equal(kindOf(requests[0]), "negotiate");
        assert.deepEqual(
          kinds(requests.slice(1)).filter((k) => !TRANSPORT_KINDS[expected].includes(k)),
          [],
        );
      });
    }

    if (selectedTransports().includes("LongPolling")) {
      await t.step(
        "a client without SSE skips it: WebSockets | LongPolling → LongPolling",
        async () => {
          await using connection = new HubConnectionBuilder()
            .withUrl(`${server.url}/hub-sse-lp`, {
              transport: HttpTransportType.WebSockets | HttpTransportType.LongPolling,
            }).configureLogging(logger).build();
          await startOn(connection, "LongPolling");
          assert.equal(await connection.invoke("Add", 2, 2), 4);
        },
      );
    }

    await t.step("no transport in common: start fails and says what each side has", async () => {
      const connection = new HubConnectionBuilder()
        .withUrl(`${server.url}/hub-sse-lp`, { transport: HttpTransportType.WebSockets })
        .configureLogging(logger).build();
      await assert.rejects(
        connection.start(),
        (e: unknown) =>
          e instanceof Error && /ServerSentEvents/.test(e.message) &&
          /LongPolling/.test(e.message) && /WebSockets/.test(e.message),
      );
      assert.equal(connection.state, HubConnectionState.Disconnected);
      assert.equal(connection.transport, null);
    });

    if (selectedTransports().includes("ServerSentEvents")) {
      await t.step("a refused WebSocket upgrade: negotiate again, then SSE", async () => {
        const name = newCase("ws-blocked");
        await using connection = new HubConnectionBuilder()
          .withUrl(`${server.url}/hub-ws-blocked?case=${name}`).configureLogging(logger).build();
        await startOn(connection, "ServerSentEvents");
        assert.equal(await connection.invoke("Add", 3, 4), 7);
        const requests = await loggedRequests(server.url, name);
        assert.deepEqual(kinds(requests).slice(0, 4), ["negotiate", "upgrade", "negotiate", "sse"]);
        assert.equal(requests[1].status, 403);
        // Each attempt has a connection of its own.
        assert.notEqual(idOf(requests[1]), idOf(requests[3]));
      });
    }
  });

  if (selectedProtocols().includes("messagepack")) {
    await t.step("MessagePack: Server-Sent Events carry text only", async (t) => {
      await t.step("SSE alone is refused when built, before any request", async () => {
        const name = newCase("msgpack-sse");
        const builder = new HubConnectionBuilder()
          .withUrl(`${server.url}/hub?case=${name}`, {
            transport: HttpTransportType.ServerSentEvents,
          })
          .withHubProtocol(new MessagePackHubProtocol()).configureLogging(logger);
        assert.throws(
          () => builder.build(),
          (e: unknown) =>
            e instanceof TypeError && /Server-Sent Events/.test(e.message) &&
            /messagepack/.test(e.message) && /WebSockets or Long Polling/.test(e.message),
        );
        assert.deepEqual(await loggedRequests(server.url, name), []);
      });

      if (selectedTransports().includes("LongPolling")) {
        await t.step("the default option skips SSE: /hub-sse-lp → LongPolling", async () => {
          const name = newCase("msgpack-skip-sse");
          await using connection = new HubConnectionBuilder()
            .withUrl(`${server.url}/hub-sse-lp?case=${name}`)
            .withHubProtocol(new MessagePackHubProtocol()).configureLogging(logger).build();
          await startOn(connection, "LongPolling");
          assert.equal(await connection.invoke("GetProtocol"), "messagepack");
          const requests = await loggedRequests(server.url, name);
          // One negotiate, no SSE attempt: straight to Long Polling.
          assert.equal(kindOf(requests[0]), "negotiate");
          assert.deepEqual(
            kinds(requests.slice(1)).filter((k) => !TRANSPORT_KINDS.LongPolling.includes(k)),
            [],
          );
        });
      }

      await t.step(
        "SSE or WebSockets, the hub has SSE and Long Polling: no transport after negotiate",
        async () => {
          const name = newCase("msgpack-no-common");
          const connection = new HubConnectionBuilder()
            .withUrl(`${server.url}/hub-sse-lp?case=${name}`, {
              transport: HttpTransportType.ServerSentEvents | HttpTransportType.WebSockets,
            })
            .withHubProtocol(new MessagePackHubProtocol()).configureLogging(logger).build();
          await assert.rejects(
            connection.start(),
            (e: unknown) =>
              e instanceof Error && /No transport both sides support/.test(e.message) &&
              /LongPolling/.test(e.message) && /allows WebSockets\.$/.test(e.message),
          );
          assert.equal(connection.state, HubConnectionState.Disconnected);
          assert.deepEqual(kinds(await loggedRequests(server.url, name)), ["negotiate"]);
        },
      );
    });
  }

  await forEachVariant(t, (t, variant) => requestsOf(t, variant, server));
});

async function requestsOf(t: Deno.TestContext, variant: Variant, server: InteropServer) {
  const { transport, protocol } = variant;
  const logger = new RecordingLogger();
  const hubUrl = `${server.url}/hub`;

  await t.step("user headers override the library's and reach every request", async () => {
    const name = newCase("headers");
    const connection = await open(variant, `${hubUrl}?case=${name}`, {
      headers: { "X-SignalR-User-Agent": "mine", "X-Custom": "1" },
    }, logger);
    // The hub's HttpContext: the WebSocket upgrade, the SSE GET, or a copy of the first poll.
    assert.equal(await connection.invoke("GetHeader", "X-SignalR-User-Agent"), "mine");
    assert.equal(await connection.invoke("GetHeader", "X-Custom"), "1");
    await connection.stop();
    const requests = await loggedRequests(server.url, name);
    assert.ok(requests.length >= 2);
    for (const request of requests) {
      const what = `${kindOf(request)} ${request.method}`;
      assert.equal(headerOf(request, "X-SignalR-User-Agent"), "mine", what);
      assert.equal(headerOf(request, "X-Custom"), "1", what);
    }
  });

  await t.step("the library's X-SignalR-User-Agent otherwise", async () => {
    const name = newCase("agent");
    const connection = await open(variant, `${hubUrl}?case=${name}`, {}, logger);
    assert.match(
      await connection.invoke<string>("GetHeader", "X-SignalR-User-Agent"),
      /signalrcore/,
    );
    await connection.stop();
    for (const request of await loggedRequests(server.url, name)) {
      assert.match(headerOf(request, "X-SignalR-User-Agent") ?? "", /signalrcore/, kindOf(request));
    }
  });

  await t.step("the cookie negotiate sets goes back on every later request", async () => {
    const name = newCase("cookie");
    const connection = await open(variant, `${hubUrl}?case=${name}`, {}, logger);
    const cookie = `affinity=${name}`;
    assert.ok((await connection.invoke<string>("GetHeader", "Cookie")).includes(cookie));
    // A few more sends and polls.
    for (let i = 0; i < 3; i++) assert.equal(await connection.invoke("Add", i, 1), i + 1);
    await connection.stop();
    const requests = await loggedRequests(server.url, name);
    assert.equal(kindOf(requests[0]), "negotiate");
    assert.equal(headerOf(requests[0], "Cookie"), undefined);
    const later = requests.slice(1);
    for (const kind of TRANSPORT_KINDS[transport]) {
      assert.ok(later.some((r) => kindOf(r) === kind), `no ${kind} request`);
    }
    for (const request of later) {
      assert.ok(
        (headerOf(request, "Cookie") ?? "").split(/;\s*/).includes(cookie),
        `${kindOf(request)} ${request.method} without the cookie: ${headerOf(request, "Cookie")}`,
      );
    }
  });

  if (transport !== "WebSockets") {
    await t.step("every send's body has the protocol's content type", async () => {
      const name = newCase("content-type");
      const connection = await open(variant, `${hubUrl}?case=${name}`, {}, logger);
      for (let i = 0; i < 3; i++) assert.equal(await connection.invoke("Add", i, 1), i + 1);
      await connection.stop();
      const sends = (await loggedRequests(server.url, name)).filter((r) => kindOf(r) === "send");
      assert.ok(sends.length >= 4, `${sends.length} sends`); // handshake, 3 invocations, Close
      const type = protocol === "json" ? "text/plain;charset=UTF-8" : "application/octet-stream";
      for (const send of sends) assert.equal(headerOf(send, "Content-Type"), type);
    });
  }

  await t.step(
    transport === "LongPolling"
      ? "stop() aborts the poll and sends DELETE"
      : "stop() sends no DELETE",
    async () => {
      const name = newCase("stop");
      // The order in which the client issued its requests: on the server, a poll aborted by
      // stop() may still arrive after the DELETE, which travels on another TCP connection.
      const issued: string[] = [];
      const fetchInOrder: typeof fetch = (input, init) => {
        const method = init?.method ?? (input instanceof Request ? input.method : "GET");
        const url = new URL(input instanceof Request ? input.url : input);
        issued.push(method === "GET" && url.searchParams.has("id") ? "poll" : method);
        return fetch(input, init);
      };
      const connection = await open(
        variant,
        `${hubUrl}?case=${name}`,
        { fetch: fetchInOrder },
        logger,
      );
      assert.equal(await connection.invoke("Add", 1, 1), 2);
      await connection.stop();
      const requests = await loggedRequests(server.url, name);
      const deletes = requests.filter((r) => kindOf(r) === "delete");
      if (transport !== "LongPolling") {
        assert.deepEqual(deletes, []);
        return;
      }
      assert.equal(deletes.length, 1);
      // The client's Close message (a POST before the DELETE) already ends the connection on
      // the server: the DELETE finds it still there (202 Accepted) or disposed (404), a race.
      assert.ok(
        deletes[0].status === 202 || deletes[0].status === 404,
        JSON.stringify(requests.map((r) => [kindOf(r), r.status, r.aborted])),
      );
      const polls = requests.filter((r) => kindOf(r) === "poll");
      assert.ok(polls.length >= 2);
      assert.ok(polls.every((p) => idOf(p) === idOf(deletes[0])));
      // The client sends DELETE last, after its last poll started.
      assert.equal(issued.at(-1), "DELETE", issued.join(" "));
      assert.equal(issued.filter((m) => m === "DELETE").length, 1);
    },
  );

  await t.step("a transport cut without a Close message → reconnect", async () => {
    const name = newCase("cut");
    const connection = builderOn(variant, `${hubUrl}?case=${name}`, {}, logger)
      .withAutomaticReconnect([0]).build();
    const reconnecting = signal<Error | undefined>();
    const reconnected = signal<string | undefined>();
    connection.onreconnecting((error) => reconnecting.fire(error));
    connection.onreconnected((id) => reconnected.fire(id));
    await startOn(connection, variant);
    const firstId = connection.connectionId;
    void connection.invoke("DropConnection").catch(() => {});
    const reason = await within(reconnecting.promise, 5000, "onreconnecting");
    assert.ok(reason instanceof Error && !(reason instanceof ServerCloseError), String(reason));
    const newId = await within(reconnected.promise, 5000, "onreconnected");
    assert.notEqual(newId, firstId);
    assert.equal(connection.transport, transport);
    assert.equal(await connection.invoke("Add", 2, 3), 5);
    await connection.stop();
    const requests = await loggedRequests(server.url, name);
    const negotiates = requests.flatMap((r, i) => kindOf(r) === "negotiate" ? [i] : []);
    assert.equal(negotiates.length, 2);
    // The first connection's transport request was cut: the WebSocket or the SSE stream after
    // it started, the poll before it answered.
    const cut = requests.slice(0, negotiates[1]).filter((r) => r.aborted);
    assert.ok(
      cut.some((r) => TRANSPORT_KINDS[transport][0] === kindOf(r)),
      JSON.stringify(requests.map((r) => [kindOf(r), r.status, r.aborted])),
    );
    if (transport === "LongPolling") {
      assert.ok(
        cut.every((r) => r.status === null),
        JSON.stringify(requests.map((r) => [kindOf(r), r.status, r.aborted])),
      );
    }
  });

  if (transport !== "WebSockets") {
    for (const kind of transport === "LongPolling" ? ["poll", "send"] : ["send"]) {
      await t.step(
        `a 401 on a ${kind}: the factory is asked again, the connection goes on`,
        async () => {
          const name = newCase(`expire-${kind}`);
          const given: string[] = [];
          const connection = builderOn(variant, `${server.url}/expiringhub?case=${name}`, {
            accessTokenFactory: () => {
              given.push(`tok-${given.length}-${name}`);
              return given.at(-1)!;
            },
          }, logger).build();
          let reconnects = 0;
          connection.onreconnecting(() => reconnects++);
          await startOn(connection, variant);
          const id = connection.connectionId;
          assert.equal(await connection.invoke("WhoAmI"), AUTH_USER);
          await connection.invoke("ExpireTokenOnNext", kind);
          // The next request of that kind gets a 401; its retry carries a new token.
          assert.equal(await connection.invoke("Add", 20, 22), 42);
          assert.equal(await connection.invoke("WhoAmI"), AUTH_USER);
          assert.equal(connection.connectionId, id);
          assert.equal(connection.state, HubConnectionState.Connected);
          await connection.stop();
          assert.equal(reconnects, 0);

          const requests = await loggedRequests(server.url, name);
          const refused = requests.findIndex((r) => r.status === 401);
          assert.ok(refused > 0, "no request got a 401");
          assert.equal(requests.filter((r) => r.status === 401).length, 1);
          assert.equal(kindOf(requests[refused]), kind);
          const token = (r: LoggedRequest) => headerOf(r, "Authorization")?.replace("Bearer ", "");
          // The same request again, with the factory's next token.
          const retry = requests.slice(refused + 1).find((r) =>
            kindOf(r) === kind && r.query === requests[refused].query
          );
          assert.ok(retry, "the refused request was not sent again");
          assert.notEqual(token(retry), token(requests[refused]));
          // Asked again after the 401 (other requests may have asked in between).
          assert.ok(given.indexOf(token(retry)!) > given.indexOf(token(requests[refused])!));
        },
      );
    }

    await t.step("a token still refused after the refresh ends the connection", async () => {
      const name = newCase("expire-for-good");
      const kind = transport === "LongPolling" ? "poll" : "send";
      const connection = builderOn(variant, `${server.url}/expiringhub?case=${name}`, {
        accessTokenFactory: () => `tok-same-${name}`,
      }, logger).build();
      const closed = signal<Error | undefined>();
      connection.onclose((error) => closed.fire(error));
      await startOn(connection, variant);
      // On Long Polling the trigger's own result can be lost with the connection: when the server
      // writes it between two polls, the poll that would have brought it is the refused one.
      const trigger = connection.invoke("ExpireTokenOnNext", kind).then(() => undefined, (e) => e);
      if (kind === "send") {
        assert.equal(await trigger, undefined);
        void connection.invoke("Add", 1, 1).catch(() => {});
      }
      const error = await within(closed.promise, 5000, "onclose");
      const lost = await trigger;
      if (lost !== undefined) {
        assert.ok(lost instanceof ConnectionClosedError && lost.cause === error, String(lost));
      }
      assert.ok(error instanceof Error);
      const http = error instanceof HttpError ? error : error.cause;
      assert.ok(http instanceof HttpError && http.status === 401, String(error));
      const requests = await loggedRequests(server.url, name);
      // The request and its one retry, nothing more.
      const refused = requests.filter((r) => r.status === 401);
      assert.deepEqual(kinds(refused), [kind, kind]);
    });
  }
}
