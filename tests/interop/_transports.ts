/**
 * Running the hub-level interop tests on each transport × hub protocol, with one server per test
 * file:
 *
 * ```ts ignore
 * Deno.test("interop: calls", async (t) => {
 *   await using server = await startInteropServer();
 *   if (!server) return;
 *   await forEachVariant(t, async (t, variant) => {
 *     const connection = await open(variant, `${server.url}/hub`);
 *     ...
 *   });
 * });
 * ```
 *
 * The variants: JSON on WebSockets, Server-Sent Events and Long Polling; MessagePack on
 * WebSockets and Long Polling (Server-Sent Events carry text only). Each is a step of the file's
 * one test, named `WebSockets` for JSON and `WebSockets · messagepack` for MessagePack (steps
 * share the server and keep the sanitizers; `--filter` sees only test names).
 * `INTEROP_TRANSPORTS=LongPolling` and `INTEROP_PROTOCOLS=messagepack` (comma-separated lists)
 * run only those.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type HttpConnectionOptions,
  HttpTransportType,
  type HubConnection,
  HubConnectionBuilder,
  type HubProtocol,
  JsonHubProtocol,
  type Logger,
  type TransportName,
} from "../../mod.ts";
import { MessagePackHubProtocol, type MessagePackOptions } from "../../msgpack.ts";

/** The transports, in the order ASP.NET Core offers them. */
export const TRANSPORTS: readonly TransportName[] = [
  "WebSockets",
  "ServerSentEvents",
  "LongPolling",
];

/** The hub protocols, by their handshake names. */
export type ProtocolName = "json" | "messagepack";

/** The hub protocols the interop server speaks (`AddMessagePackProtocol()` beside JSON). */
export const PROTOCOLS: readonly ProtocolName[] = ["json", "messagepack"];

/** One transport with one hub protocol. */
export interface Variant {
  readonly transport: TransportName;
  readonly protocol: ProtocolName;
}

/** Whether `protocol` can run on `transport`: a binary protocol cannot on Server-Sent Events. */
export function carries(transport: TransportName, protocol: ProtocolName): boolean {
  return !(transport === "ServerSentEvents" && protocol === "messagepack");
}

/** Every variant, protocol by protocol, transports in the server's order. */
export const VARIANTS: readonly Variant[] = PROTOCOLS.flatMap((protocol) =>
  TRANSPORTS.filter((transport) => carries(transport, protocol)).map((transport) => ({
    transport,
    protocol,
  }))
);

/** A comma-separated environment list, checked against `known`; all of `known` when unset. */
function selected<T extends string>(variable: string, known: readonly T[]): T[] {
  const wanted = Deno.env.get(variable);
  if (!wanted) return [...known];
  const names = wanted.split(",").map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!known.includes(name as T)) {
      throw new Error(`${variable}: unknown name ${name} (use ${known})`);
    }
  }
  return known.filter((name) => names.includes(name));
}

/** {@link TRANSPORTS}, or the ones `INTEROP_TRANSPORTS` names. */
export function selectedTransports(): TransportName[] {
  return selected("INTEROP_TRANSPORTS", TRANSPORTS);
}

/** {@link PROTOCOLS}, or the ones `INTEROP_PROTOCOLS` names. */
export function selectedProtocols(): ProtocolName[] {
  return selected("INTEROP_PROTOCOLS", PROTOCOLS);
}

/** The {@link VARIANTS} whose transport and protocol are both selected. */
export function selectedVariants(): Variant[] {
  const transports = selectedTransports();
  const protocols = selectedProtocols();
  return VARIANTS.filter((v) => transports.includes(v.transport) && protocols.includes(v.protocol));
}

/** A variant's step name: the transport, then ` · messagepack` for MessagePack. */
export function variantName({ transport, protocol }: Variant): string {
  return protocol === "json" ? transport : `${transport} · ${protocol}`;
}

/**
 * Runs `fn` as one step per selected variant, named by {@link variantName}; `only.protocols`
 * narrows them further (for tests that cannot choose a protocol, such as the examples).
 */
export async function forEachVariant(
  t: Deno.TestContext,
  fn: (t: Deno.TestContext, variant: Variant) => Promise<void>,
  only: { readonly protocols?: readonly ProtocolName[] } = {},
): Promise<void> {
  for (const variant of selectedVariants()) {
    if (only.protocols && !only.protocols.includes(variant.protocol)) continue;
    await t.step(variantName(variant), (t) => fn(t, variant));
  }
}

/** A new instance of the named protocol (`options` for MessagePack only). */
export function hubProtocol(name: ProtocolName, options?: MessagePackOptions): HubProtocol {
  return name === "json" ? new JsonHubProtocol() : new MessagePackHubProtocol(options);
}

/** Options of {@link builderOn} and {@link open}: the connection's, and MessagePack's. */
export type VariantOptions = Omit<HttpConnectionOptions, "transport"> & {
  /** Options of the MessagePack protocol (ignored for JSON). */
  readonly messagePack?: MessagePackOptions;
};

/**
 * A builder for `url` that allows only the variant's transport and uses its protocol (JSON as
 * users get it: the default, no `withHubProtocol`).
 */
export function builderOn(
  variant: Variant,
  url: string,
  options: VariantOptions = {},
  logger?: Logger,
): HubConnectionBuilder {
  const { messagePack, ...connection } = options;
  const builder = new HubConnectionBuilder()
    .withUrl(url, { ...connection, transport: HttpTransportType[variant.transport] });
  if (variant.protocol !== "json") {
    builder.withHubProtocol(hubProtocol(variant.protocol, messagePack));
  }
  return logger ? builder.configureLogging(logger) : builder;
}

/** Starts `connection` and checks that it runs on the variant's transport. */
export async function startOn<T extends HubConnection<object, object>>(
  connection: T,
  variant: Variant | TransportName,
): Promise<T> {
  await connection.start();
  assert.equal(
    connection.transport,
    typeof variant === "string" ? variant : variant.transport,
  );
  return connection;
}

/** A started connection to `url` on the variant. */
export function open(
  variant: Variant,
  url: string,
  options: VariantOptions = {},
  logger?: Logger,
): Promise<HubConnection> {
  return startOn(builderOn(variant, url, options, logger).build(), variant);
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
