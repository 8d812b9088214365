// Azure SignalR Service's negotiate redirect, played by two interop server processes (see
// server/Azure.cs): the app answers negotiate with `{ url, accessToken }` (the service's client
// URL with `hub`, `asrs.op` and a new `asrs_request_id`, and a token for that request id); the
// client negotiates at the service with that token, keeps the redirect's query, and connects
// there. Both processes log the case's requests (the redirect URL keeps `case=`), so each test
// reads what each side received: the app's token only at the app, the service's only at the
// service, `negotiateVersion` once, and a new app negotiate (new request id, new token) on every
// reconnect and every start. On each transport with each hub protocol.
import "../_guard.ts";
import assert from "node:assert/strict";
import { HttpError, HubConnectionBuilder, HubConnectionState } from "../../mod.ts";
import { RecordingLogger, signal, within } from "../_util.ts";
import { type InteropServer, startInteropServer } from "./_server.ts";
import {
  builderOn,
  forEachVariant,
  headerOf,
  kindOf,
  type LoggedRequest,
  loggedRequests,
  newCase,
  startOn,
  type Variant,
} from "./_transports.ts";

/** The token the app's negotiate requires (Azure.AppToken). */
const APP_TOKEN = "app-token";

/** A redirect the app answered (`GET /azure-app/issued?name=`). */
interface Issued {
  requestId: string;
  accessToken: string;
  url: string;
}

/** Bounds the waits for a reconnect on a loaded machine; not a synchronisation. */
const RECONNECT_MS = 15_000;

Deno.test("interop: Azure SignalR Service redirect", async (t) => {
  // The key both roles sign and check service tokens with, as Azure's access key.
  const key = crypto.randomUUID();
  await using service = await startInteropServer({
    env: { INTEROP_AZURE_ROLE: "service", INTEROP_AZURE_KEY: key },
  });
  if (!service) return;
  await using app = await startInteropServer({
    env: { INTEROP_AZURE_SERVICE: service.url, INTEROP_AZURE_KEY: key },
  });
  assert.ok(app);
  const logger = new RecordingLogger();

  await t.step("the service takes its token for its request id and hub only", async () => {
    const name = newCase("azure-refusals");
    const redirect = async (): Promise<{ url: string; accessToken: string }> => {
      const response = await fetch(`${app.url}/azure-app/negotiate?case=${name}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${APP_TOKEN}` },
      });
      assert.equal(response.status, 200);
      return await response.json();
    };
    const first = await redirect();
    const second = await redirect();
    assert.deepEqual((await issued(app, name)).map((r) => r.accessToken), [
      first.accessToken,
      second.accessToken,
    ]);
    const negotiateUrl = first.url.replace("/client/?", "/client/negotiate?");
    const status = async (url: string, token: string) => {
      const response = await fetch(url, {
        method: "POST",
        headers: token ? { Authorization: `Bearer ${token}` } : {},
      });
      await response.body?.cancel();
      return response.status;
    };
    // So a 2xx in the service's log means the client brought the right token with the
    // redirect's query.
    assert.equal(await status(negotiateUrl, APP_TOKEN), 401);
    assert.equal(await status(negotiateUrl, second.accessToken), 401);
    assert.equal(await status(negotiateUrl, ""), 401);
    assert.equal(await status(negotiateUrl.replace("hub=chat&", ""), first.accessToken), 401);
    assert.equal(await status(negotiateUrl, first.accessToken), 200);
  });

  await t.step(
    "without the app's token the app refuses negotiate; the service sees nothing",
    async () => {
      const name = newCase("azure-no-token");
      const connection = new HubConnectionBuilder()
        .withUrl(`${app.url}/azure-app?case=${name}`).configureLogging(logger).build();
      await assert.rejects(
        connection.start(),
        (e: unknown) => e instanceof HttpError && e.status === 401,
      );
      assert.equal(connection.state, HubConnectionState.Disconnected);
      assert.deepEqual(await issued(app, name), []);
      assert.deepEqual(await loggedRequests(service.url, name), []);
    },
  );

  await forEachVariant(t, async (t, variant) => {
    for (const path of ["/azure-app", "/azure-app-v"]) {
      await t.step(
        path === "/azure-app"
          ? "redirect URL without negotiateVersion"
          : "redirect URL with negotiateVersion=1",
        () => redirectFlow(variant, path, app, service, logger, false),
      );
    }
    if (variant.transport === "WebSockets") {
      await t.step(
        "a browser's WebSocket: the service's token in access_token",
        () => redirectFlow(variant, "/azure-app-v", app, service, logger, true),
      );
    }
  });
});

/**
 * Start through the app, invoke, drop the transport (automatic reconnect), invoke, stop and
 * start again, invoke; then both request logs, request by request.
 */
async function redirectFlow(
  variant: Variant,
  path: string,
  app: InteropServer,
  service: InteropServer,
  logger: RecordingLogger,
  browser: boolean,
) {
  const name = newCase("azure");
  const url = `${app.url}${path}?case=${name}`;
  await using connection = builderOn(variant, url, {
    accessTokenFactory: () => APP_TOKEN,
    ...(browser ? { WebSocket: BrowserWebSocket } : {}),
  }, logger).withAutomaticReconnect([0]).build();
  const reconnecting = signal<Error | undefined>();
  const reconnected = signal<string | undefined>();
  connection.onreconnecting((error) => reconnecting.fire(error));
  connection.onreconnected((id) => reconnected.fire(id));

  /** The connection runs on the service with the n-th redirect's request id and token. */
  const onRedirect = async (n: number) => {
    const redirects = await issued(app, name);
    assert.equal(redirects.length, n + 1);
    assert.equal(await connection.invoke("Add", n, 2), n + 2);
    assert.equal(await connection.invoke("GetRequestId"), redirects[n].requestId);
    assert.equal(await connection.invoke("GetServiceToken"), redirects[n].accessToken);
    // The client kept the original URL.
    assert.equal(connection.baseUrl, url);
  };

  await startOn(connection, variant);
  await onRedirect(0);

  void connection.invoke("DropConnection").catch(() => {});
  await within(reconnecting.promise, RECONNECT_MS, "onreconnecting");
  await within(reconnected.promise, RECONNECT_MS, "onreconnected");
  assert.equal(connection.transport, variant.transport);
  await onRedirect(1);

  await connection.stop();
  await startOn(connection, variant);
  await onRedirect(2);
  await connection.stop();

  const redirects = await issued(app, name);
  assert.equal(redirects.length, 3);
  assert.equal(new Set(redirects.map((r) => r.requestId)).size, 3);
  assert.equal(new Set(redirects.map((r) => r.accessToken)).size, 3);
  for (const redirect of redirects) {
    assert.equal(
      countOf(new URL(redirect.url).search, "negotiateVersion"),
      path === "/azure-app" ? 0 : 1,
    );
  }
  const serviceTokens = redirects.map((r) => r.accessToken);

  // The app: one negotiate per connect, each with the app's token alone.
  const appRequests = await loggedRequests(app.url, name);
  assert.deepEqual(
    appRequests.map((r) => [r.method, r.path, r.status]),
    redirects.map(() => ["POST", `${path}/negotiate`, 200]),
    describe(appRequests),
  );
  for (const request of appRequests) {
    assert.equal(headerOf(request, "Authorization"), `Bearer ${APP_TOKEN}`);
    assert.equal(countOf(request.query, "negotiateVersion"), 1, request.query);
    assert.equal(countOf(request.query, "access_token"), 0, request.query);
    for (const token of serviceTokens) assert.ok(!carries(request, token), describe([request]));
  }

  // The service: a negotiate per redirect, in order, at /client/negotiate with the redirect's
  // query and token; every request with the token of its own request id, the app's never.
  const serviceRequests = await loggedRequests(service.url, name);
  const negotiates = serviceRequests.filter((r) => kindOf(r) === "negotiate");
  assert.deepEqual(
    negotiates.map((r) => [r.path, param(r.query, "asrs_request_id"), r.status]),
    redirects.map((r) => ["/client/negotiate", r.requestId, 200]),
    describe(serviceRequests),
  );
  for (const request of serviceRequests) {
    const what = `${kindOf(request)} ${request.method} ${request.path}?${request.query}`;
    assert.ok(!carries(request, APP_TOKEN), what);
    assert.equal(param(request.query, "hub"), "chat", what);
    assert.equal(param(request.query, "asrs.op"), "/chat", what);
    const requestId = param(request.query, "asrs_request_id");
    const redirect = redirects.find((r) => r.requestId === requestId);
    assert.ok(redirect, what);
    assert.equal(tokenOf(request), redirect.accessToken, what);
    // Where the token travels: a browser's WebSocket cannot send headers.
    assert.equal(
      param(request.query, "access_token") !== undefined,
      browser && kindOf(request) === "upgrade",
      what,
    );
    // Once, whether the redirect URL had one (then the client keeps it) or not.
    if (kindOf(request) === "negotiate" || path === "/azure-app-v") {
      assert.equal(countOf(request.query, "negotiateVersion"), 1, what);
      assert.equal(param(request.query, "negotiateVersion"), "1", what);
    } else {
      assert.equal(countOf(request.query, "negotiateVersion"), 0, what);
    }
    if (kindOf(request) !== "negotiate") {
      assert.equal(request.path, "/client/", what);
      assert.ok(param(request.query, "id"), what);
    }
    // The service took every token (a wrong one is a 401). Nothing more is asked of the
    // status: a request cut by DropConnection has none, and a Long Polling poll or DELETE that
    // comes after the client's Close message ended the connection gets a 404 (a race, as in
    // transports_test.ts).
    assert.ok(
      request.status !== 401 && request.status !== 403,
      `${what}: ${request.status} in ${describe(serviceRequests)}`,
    );
  }
  // Each connect used the transport it was asked for.
  const kinds = new Set(serviceRequests.map(kindOf));
  const expected = { WebSockets: "upgrade", ServerSentEvents: "sse", LongPolling: "poll" } as const;
  assert.ok(kinds.has(expected[variant.transport]), [...kinds].join(" "));
}

/**
 * A WebSocket constructor that, as a browser's, takes no headers (it reads `{ headers }` as a
 * sub-protocol name and throws a SyntaxError): the client puts the token in `access_token`.
 */
class BrowserWebSocket extends WebSocket {
  constructor(url: string, options?: string | string[] | { headers?: Record<string, string> }) {
    if (typeof options === "object" && !Array.isArray(options)) {
      throw new DOMException("An invalid or illegal string was specified.", "SyntaxError");
    }
    super(url, options);
  }
}

/** The redirects the app answered for a case, in order. */
async function issued(app: InteropServer, name: string): Promise<Issued[]> {
  const response = await fetch(`${app.url}/azure-app/issued?name=${encodeURIComponent(name)}`);
  assert.equal(response.status, 200);
  return await response.json();
}

/** The query's pairs, as the request log writes them (decoded; repeated values joined by ","). */
function pairs(query: string): [string, string][] {
  return query.replace(/^\?/, "").split("&").filter(Boolean).map((part) => {
    const equals = part.indexOf("=");
    return equals === -1 ? [part, ""] : [part.slice(0, equals), part.slice(equals + 1)];
  });
}

/**
 * How often a parameter is in a query: a name the log shows once with values joined by ","
 * (ASP.NET Core's query collection merges repeats) counts each.
 */
function countOf(query: string, name: string): number {
  return pairs(query.startsWith("?") ? decodeURIComponent(query) : query)
    .filter(([key]) => key === name)
    .reduce((n, [, value]) => n + value.split(",").length, 0);
}

/** A query parameter's (only) value, or undefined. */
function param(query: string, name: string): string | undefined {
  return pairs(query).find(([key]) => key === name)?.[1];
}

/**
 * The bearer token a request carried: its Authorization header (fetch, and Deno's WebSocket),
 * or its `access_token` query parameter (a browser's WebSocket). Both at once is a fault.
 */
function tokenOf(request: LoggedRequest): string | undefined {
  const header = headerOf(request, "Authorization")?.replace(/^Bearer /, "");
  const query = param(request.query, "access_token");
  assert.ok(header === undefined || query === undefined, "a token in the header and the query");
  return header ?? query;
}

/** Whether a token is anywhere in a request: a header or the query. */
function carries(request: LoggedRequest, token: string): boolean {
  return request.query.includes(token) ||
    Object.values(request.headers).some((value) => value.includes(token));
}

function describe(requests: LoggedRequest[]): string {
  return JSON.stringify(
    requests.map((r) => [kindOf(r), r.method, r.path, r.query, r.status, r.aborted]),
  );
}
