/**
 * Running the hub-level interop tests on each transport, with one server per test file:
 *
 * ```ts ignore
 * Deno.test("interop: calls", async (t) => {
 *   await using server = await startInteropServer();
 *   if (!server) return;
 *   await forEachTransport(t, async (t, transport) => {
 *     const connection = await open(transport, `${server.url}/hub`);
 *     ...
 *   });
 * });
 * ```
 *
 * Each transport is a step of the file's one test (steps share the server and keep the
 * sanitizers; `--filter` sees only test names). `INTEROP_TRANSPORTS=LongPolling` (a comma-separated
 * list) runs only those transports.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type HttpConnectionOptions,
  HttpTransportType,
  type HubConnection,
  HubConnectionBuilder,
  type Logger,
  type TransportName,
} from "../../mod.ts";

/** The transports, in the order ASP.NET Core offers them. */
export const TRANSPORTS: readonly TransportName[] = [
  "WebSockets",
  "ServerSentEvents",
  "LongPolling",
];

/** {@link TRANSPORTS}, or the ones `INTEROP_TRANSPORTS` names. */
export function selectedTransports(): TransportName[] {
  const wanted = Deno.env.get("INTEROP_TRANSPORTS");
  if (!wanted) return [...TRANSPORTS];
  const names = wanted.split(",").map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!TRANSPORTS.includes(name as TransportName)) {
      throw new Error(`INTEROP_TRANSPORTS: unknown transport ${name} (use ${TRANSPORTS})`);
    }
  }
  return TRANSPORTS.filter((name) => names.includes(name));
}

/** Runs `fn` as one step per selected transport, named after it. */
export async function forEachTransport(
  t: Deno.TestContext,
  fn: (t: Deno.TestContext, transport: TransportName) => Promise<void>,
): Promise<void> {
  for (const transport of selectedTransports()) {
    await t.step(transport, (t) => fn(t, transport));
  }
}

/** A builder for `url` that allows only `transport`. */
export function builderOn(
  transport: TransportName,
  url: string,
  options: Omit<HttpConnectionOptions, "transport"> = {},
  logger?: Logger,
): HubConnectionBuilder {
  const builder = new HubConnectionBuilder()
    .withUrl(url, { ...options, transport: HttpTransportType[transport] });
  return logger ? builder.configureLogging(logger) : builder;
}

/** Starts `connection` and checks that it runs on `transport`. */
export async function startOn<T extends HubConnection<object, object>>(
  connection: T,
  transport: TransportName,
): Promise<T> {
  await connection.start();
  assert.equal(connection.transport, transport);
  return connection;
}

/** A started connection to `url` on `transport`. */
export function open(
  transport: TransportName,
  url: string,
  options: Omit<HttpConnectionOptions, "transport"> = {},
  logger?: Logger,
): Promise<HubConnection> {
  return startOn(builderOn(transport, url, options, logger).build(), transport);
}

/** One HTTP request as the interop server logged it (`GET /requests?case=`). */
export interface LoggedRequest {
  method: string;
  path: string;
  /** The query without `case`. */
  query: string;
  /** Every request header, names as sent. */
  headers: Record<string, string>;
  /** The response status once sent (101 for a WebSocket, 200 once an SSE stream started), or
   * null while unanswered or when it never was. */
  status: number | null;
  /** The request was aborted (by the client, or by a cut) before it was answered in full. */
  aborted: boolean;
}

/** What a logged request was for. */
export type RequestKind = "negotiate" | "upgrade" | "sse" | "poll" | "send" | "delete" | "other";

/** Classifies a logged request. */
export function kindOf(request: LoggedRequest): RequestKind {
  const header = (name: string) => headerOf(request, name) ?? "";
  if (request.path.endsWith("/negotiate")) return "negotiate";
  if (request.method === "DELETE") return "delete";
  if (request.method === "POST") return "send";
  if (request.method === "GET" && /websocket/i.test(header("upgrade"))) return "upgrade";
  if (request.method === "GET" && header("accept").includes("text/event-stream")) return "sse";
  if (request.method === "GET" && /(^|&)id=/.test(request.query)) return "poll";
  return "other";
}

/** A request header, whatever the case of its name. */
export function headerOf(request: LoggedRequest, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(request.headers)) {
    if (key.toLowerCase() === lower) return value;
  }
  return undefined;
}

/** A fresh test case name: put `case=<name>` in the hub URL's query to log its requests. */
export function newCase(label: string): string {
  return `${label}-${crypto.randomUUID()}`;
}

/** The requests the server logged for a case, in arrival order. */
export async function loggedRequests(baseUrl: string, name: string): Promise<LoggedRequest[]> {
  const response = await fetch(`${baseUrl}/requests?case=${encodeURIComponent(name)}`);
  assert.equal(response.status, 200);
  return await response.json();
}
