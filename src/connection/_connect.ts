// Negotiate (with redirects), pick a transport in the server's order, connect it.
import { positive } from "../_positive.ts";
import { type Logger, LogLevel } from "../logger.ts";
import { NegotiateError, toError } from "../errors.ts";
import { AccessTokenProvider } from "../http/_access_token.ts";
import { HttpClient, isBrowser } from "../http/_http_client.ts";
import { redact } from "../http/_redact.ts";
import {
  HttpTransportType,
  type Transport,
  type TransportFactory,
  type TransportName,
  type TransportReceiver,
} from "../transport/transport.ts";
import { webSocketTransport } from "../transport/_websocket.ts";
import { longPollingTransport } from "../transport/_long_polling.ts";
import { serverSentEventsTransport } from "../transport/_server_sent_events.ts";
import { Connection, type ConnectionSettings } from "./_connection.ts";
import type { HttpConnectionOptions, WebSocketConstructor } from "./http_connection_options.ts";
import { negotiate } from "./_negotiate.ts";
import { withQuery } from "./_url.ts";
import { load } from "../_lazy.ts";
import { VERSION } from "../version.ts";

const MAX_REDIRECTS = 100;

/** Options with every default applied. */
export interface ResolvedConnectionOptions {
  readonly transport: number;
  readonly skipNegotiation: boolean;
  readonly accessTokenFactory: HttpConnectionOptions["accessTokenFactory"];
  readonly headers: Readonly<Record<string, string>>;
  readonly timeout: number;
  readonly withCredentials: boolean;
  readonly pollTimeout: number;
  readonly logMessageContent: boolean;
  readonly maxReceiveMessageSize: number;
  readonly WebSocket: WebSocketConstructor;
  readonly fetch: typeof fetch;
}

/** Applies the defaults of {@linkcode HttpConnectionOptions}. */
export function resolveConnectionOptions(
  options: HttpConnectionOptions = {},
): ResolvedConnectionOptions {
  const transport = options.transport ??
    (HttpTransportType.WebSockets | HttpTransportType.ServerSentEvents |
      HttpTransportType.LongPolling);
  if (options.skipNegotiation && transport !== HttpTransportType.WebSockets) {
    throw new TypeError(
      "skipNegotiation requires the WebSockets transport alone: set transport: HttpTransportType.WebSockets.",
    );
  }
  return {
    transport,
    skipNegotiation: options.skipNegotiation ?? false,
    accessTokenFactory: options.accessTokenFactory,
    headers: { ...options.headers },
    timeout: options.timeout ?? 100_000,
    withCredentials: options.withCredentials ?? true,
    pollTimeout: positive(options.pollTimeout ?? 100_000, "pollTimeout"),
    logMessageContent: options.logMessageContent ?? false,
    maxReceiveMessageSize: options.maxReceiveMessageSize ?? 16 * 1024 * 1024,
    WebSocket: options.WebSocket ?? globalThis.WebSocket,
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
  };
}

/** The HTTP client of one `HubConnection`: its cookies outlive each transport. */
export function createHttpClient(options: ResolvedConnectionOptions, logger: Logger): HttpClient {
  return new HttpClient({
    fetch: options.fetch,
    headers: {
      "X-Requested-With": "XMLHttpRequest",
      "X-SignalR-User-Agent": userAgent(),
      ...options.headers,
    },
    timeout: options.timeout,
    credentials: options.withCredentials ? "include" : "same-origin",
    tokens: new AccessTokenProvider(options.accessTokenFactory),
    cookies: isBrowser()
      ? undefined
      : () => import("../http/_cookie_jar.ts").then(({ CookieJar }) => new CookieJar()),
    logger,
  });
}

/** What {@linkcode openConnection} needs besides the options. */
export interface OpenRequest {
  readonly baseUrl: string;
  readonly http: HttpClient;
  readonly settings: ConnectionSettings;
  readonly handshakeTimeout: number;
  readonly signal: AbortSignal;
  /** Ask for stateful reconnect, with this replay buffer size (bytes). */
  readonly statefulReconnect?: { readonly bufferSize: number };
}

/**
 * Negotiates, connects the first transport that works and runs the handshake. Transports are
 * tried in the server's order, filtered by the `transport` option and the protocol's transfer
 * format; after a transport fails to start, negotiate runs again (connection tokens are
 * single-use) before the next. With one failure it is thrown as is; with several, an
 * `AggregateError` of all of them. On any failure or abort, nothing is left open.
 */
export async function openConnection(
  options: ResolvedConnectionOptions,
  request: OpenRequest,
): Promise<Connection> {
  const { signal, http } = request;
  const { logger } = request.settings;
  const transferFormat = request.settings.protocol.transferFormat;
  // Every connect starts from the original URL and the app's own token, which goes to the
  // hub's origin only.
  http.tokens.scope(request.baseUrl);

  if (options.skipNegotiation) {
    if (request.statefulReconnect) {
      logger.log(
        LogLevel.Information,
        "Stateful reconnect needs negotiation (a connection token to reattach with); it is off with skipNegotiation.",
      );
    }
    const connection = new Connection(request.settings);
    const transport = await connectTransport(
      factoryOf("WebSockets"),
      request.baseUrl,
      connection,
      signal,
    );
    await connection.handshake(transport, request.handshakeTimeout, signal);
    return connection;
  }

  const failures: Error[] = [];
  const tried = new Set<string>();
  let offered = `none for ${transferFormat} frames`;
  for (;;) {
    const { answer, url } = await negotiateFollowingRedirects(request.baseUrl);
    if (answer.useStatefulReconnect && !request.statefulReconnect) {
      throw new NegotiateError(
        "Negotiate failed: the server turned stateful reconnect on, which this client did not ask for (withStatefulReconnect).",
      );
    }
    const fit = answer.availableTransports.filter((t) =>
      t.transferFormats.includes(transferFormat)
    );
    const rest = answer.availableTransports.filter((t) => !fit.includes(t));
    offered = `${fit.map((t) => t.transport).join(", ") || "none"} for ${transferFormat} frames` +
      rest.map((t) => `, ${t.transport} only for ${t.transferFormats.join(", ") || "none"}`)
        .join("");
    const candidate = answer.availableTransports.find((t) => usable(t) && !tried.has(t.transport));
    if (!candidate) break;
    const name = candidate.transport as TransportName;
    tried.add(name);
    // Loaded before the transport connects: nothing is left open if it cannot be.
    const stateful = request.statefulReconnect && answer.useStatefulReconnect
      ? await load(import("./_stateful_link.ts"), "stateful reconnect", {
        signal,
        timeout: options.timeout,
      })
      : undefined;
    const connection = new Connection(request.settings);
    let transport: Transport;
    const transportUrl = withQuery(url, "id", answer.connectionToken);
    try {
      transport = await connectTransport(factoryOf(name), transportUrl, connection, signal);
    } catch (error) {
      signal.throwIfAborted();
      failures.push(toError(error));
      logger.log(
        LogLevel.Warning,
        `The ${name} transport failed to start: ${toError(error).message}`,
      );
      continue;
    }
    let version = request.settings.protocol.version;
    if (request.statefulReconnect) {
      if (stateful && transport.features.statefulReconnect) {
        stateful.enableStateful(connection, {
          bufferSize: request.statefulReconnect.bufferSize,
          reattach: (receiver, signal) =>
            connectTransport(factoryOf(name), transportUrl, receiver, signal),
          gone: (signal) => isGone(transportUrl, signal),
        });
        // Servers turn stateful reconnect off below version 2.
        version = Math.max(version, 2);
      } else {
        logger.log(
          LogLevel.Information,
          answer.useStatefulReconnect
            ? `Stateful reconnect needs WebSockets; over ${name} a dropped connection reconnects the usual way.`
            : "The server did not agree to stateful reconnect (AllowStatefulReconnects); a dropped connection reconnects the usual way.",
        );
      }
    }
    // A refused handshake is the server's answer, not the transport's fault: no fallback.
    await connection.handshake(transport, request.handshakeTimeout, signal, version);
    connection.connectionId = answer.connectionId;
    logger.log(LogLevel.Information, `Connected over ${name}.`);
    return connection;
  }
  if (failures.length === 0) {
    throw new Error(
      `No transport both sides support: the server offers ${offered}; the client allows ${
        describeTransports(options.transport, transferFormat)
      }.`,
    );
  }
  if (failures.length === 1) throw failures[0];
  throw new AggregateError(
    failures,
    `Unable to connect with any transport: ${failures.map((e) => e.message).join(" | ")}`,
  );

  /** Whether the client can and may use a transport the server offers; logs why not. */
  function usable(offer: { transport: string; transferFormats: readonly string[] }): boolean {
    const name = offer.transport;
    let why: string | undefined;
    if (!IMPLEMENTED.includes(name as TransportName)) {
      why = "this client does not know it";
    } else if (!isWanted(name, options.transport)) why = "the transport option leaves it out";
    else if (!offer.transferFormats.includes(transferFormat)) {
      why = `the server does not offer it for ${transferFormat} frames`;
    }
    if (why !== undefined && !tried.has(name)) {
      tried.add(name);
      logger.log(LogLevel.Debug, `Skipping the ${name} transport: ${why}.`);
    }
    return why === undefined;
  }

  async function negotiateFollowingRedirects(baseUrl: string) {
    let url = baseUrl;
    for (let hops = 0;;) {
      const answer = await negotiate(http, url, signal, {
        useStatefulReconnect: request.statefulReconnect !== undefined,
      });
      if (answer.kind !== "redirect") return { answer, url };
      if (++hops > MAX_REDIRECTS) {
        throw new NegotiateError(`Negotiate failed: more than ${MAX_REDIRECTS} redirects.`);
      }
      logger.log(LogLevel.Debug, `Negotiate redirected to ${redact(answer.url)}.`);
      url = answer.url;
      // The redirect's token replaces the app's for that target, and is not refreshed. Without
      // one, a target of another origin gets no token: the app's is the hub's alone.
      if (answer.accessToken !== undefined) http.tokens.override(answer.accessToken, answer.url);
    }
  }

  function factoryOf(name: TransportName): TransportFactory {
    switch (name) {
      case "WebSockets":
        return webSocketTransport(options.WebSocket, { connectTimeout: options.timeout });
      case "ServerSentEvents":
        return serverSentEventsTransport({
          connectTimeout: options.timeout,
          maxEventSize: request.settings.maxMessageSize,
        });
      case "LongPolling":
        return longPollingTransport({ pollTimeout: options.pollTimeout });
    }
  }

  /**
   * Whether the server forgot a connection: ASP.NET Core answers a POST to a WebSocket
   * connection with 405 while it knows it, 404 once it is gone.
   */
  async function isGone(url: string, signal: AbortSignal): Promise<boolean> {
    const response = await http.request({
      method: "POST",
      url,
      body: "",
      signal,
      timeout: 5_000,
      what: "Reattach check",
    });
    await response.body?.cancel();
    return response.status === 404;
  }

  async function connectTransport(
    factory: TransportFactory,
    url: string,
    receiver: TransportReceiver,
    signal: AbortSignal,
  ): Promise<Transport> {
    // The HTTP transports ask the HTTP client for each request; only a WebSocket needs the
    // headers (and the token, for a browser's query) up front.
    const { headers, accessToken } = factory.name === "WebSockets"
      ? await http.upgrade(url, signal)
      : { headers: {}, accessToken: undefined };
    return await factory.connect({
      url,
      transferFormat,
      headers,
      accessToken,
      receiver,
      http,
      signal,
      logger,
    });
  }
}

function isWanted(name: string, mask: number): boolean {
  const flag = HttpTransportType[name as keyof typeof HttpTransportType];
  return flag !== undefined && (mask & flag) !== 0;
}

const IMPLEMENTED: readonly TransportName[] = ["WebSockets", "ServerSentEvents", "LongPolling"];

function describeTransports(mask: number, format: string): string {
  const names = IMPLEMENTED.filter((n) =>
    (mask & HttpTransportType[n]) !== 0 && !(n === "ServerSentEvents" && format === "Binary")
  );
  return names.join(", ") || "none";
}

let agent: string | undefined;
function userAgent(): string {
  return agent ??= userAgentOf(globalThis);
}

/** The `X-SignalR-User-Agent` value for a runtime, told apart by its globals. */
export function userAgentOf(globals: object): string {
  const g = globals as {
    Deno?: { version: { deno: string }; build: { os: string } };
    Bun?: { version: string };
    process?: { versions?: { node?: string } };
  };
  const runtime = g.Deno
    ? `Deno; ${g.Deno.version.deno}; ${g.Deno.build.os}`
    : g.Bun
    ? `Bun; ${g.Bun.version}`
    : g.process?.versions?.node
    ? `NodeJS; ${g.process.versions.node}`
    : "Browser";
  return `@signalrcore/client/${VERSION} (${runtime})`;
}
