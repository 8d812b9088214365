// Negotiate (with redirects), pick a transport in the server's order, connect it.
import { type Logger, LogLevel } from "../logger.ts";
import type { TransferFormat } from "../protocol/hub_protocol.ts";
import { HttpError } from "../errors.ts";
import {
  HttpTransportType,
  type Transport,
  type TransportReceiver,
} from "../transport/transport.ts";
import { redact, WebSocketTransport } from "../transport/_websocket.ts";
import type { HttpConnectionOptions, WebSocketConstructor } from "./http_connection_options.ts";
import { parseNegotiateResponse, requestNegotiate } from "./_negotiate.ts";
import { appendPath, withQuery } from "./_url.ts";

const MAX_REDIRECTS = 100;
const VERSION = "0.1.0";

/** Options with every default applied. */
export interface ResolvedConnectionOptions {
  readonly transport: number;
  readonly skipNegotiation: boolean;
  readonly accessTokenFactory: (() => string | Promise<string>) | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeout: number;
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
    logMessageContent: options.logMessageContent ?? false,
    maxReceiveMessageSize: options.maxReceiveMessageSize ?? 16 * 1024 * 1024,
    WebSocket: options.WebSocket ?? globalThis.WebSocket,
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
  };
}

/** A connected transport and what negotiate said about it. */
export interface OpenConnection {
  readonly transport: Transport;
  /** The server's public id; `null` when negotiation was skipped. */
  readonly connectionId: string | null;
}

/** What {@linkcode openConnection} needs besides the options. */
export interface OpenRequest {
  readonly baseUrl: string;
  readonly transferFormat: TransferFormat;
  readonly receiver: TransportReceiver;
  readonly signal: AbortSignal | undefined;
  readonly logger: Logger;
}

/**
 * Negotiates and connects the first transport that works. With one candidate its error is
 * thrown as is; with several, an `AggregateError` of every failure.
 */
export async function openConnection(
  options: ResolvedConnectionOptions,
  request: OpenRequest,
): Promise<OpenConnection> {
  const { logger, signal } = request;
  let token = options.accessTokenFactory ? await options.accessTokenFactory() : undefined;
  signal?.throwIfAborted();

  if (options.skipNegotiation) {
    const transport = await connectTransport(
      "WebSockets",
      request.baseUrl,
      options,
      request,
      token,
    );
    return { transport, connectionId: null };
  }

  let url = request.baseUrl;
  // A second factory call on 401 is for the app's own token; a redirect's token is not ours
  // to refresh, so after such a redirect a 401 fails at once.
  let mayRefresh = options.accessTokenFactory !== undefined;
  const failures: Error[] = [];
  for (let hops = 0;;) {
    let body: unknown;
    try {
      body = await requestNegotiate({
        url: withQuery(appendPath(url, "negotiate"), "negotiateVersion", "1"),
        headers: requestHeaders(options, token),
        fetch: options.fetch,
        timeout: options.timeout,
        signal,
      });
    } catch (error) {
      if (
        error instanceof HttpError && error.status === 401 && mayRefresh
      ) {
        // A token may expire between the factory call and the request: ask once more.
        mayRefresh = false;
        token = await options.accessTokenFactory!();
        continue;
      }
      throw error;
    }
    const answer = parseNegotiateResponse(body);
    if (answer.kind === "redirect") {
      if (++hops > MAX_REDIRECTS) {
        throw new Error(`Negotiate failed: more than ${MAX_REDIRECTS} redirects.`);
      }
      logger.log(LogLevel.Debug, `Negotiate redirected to ${redact(answer.url)}.`);
      url = answer.url;
      if (answer.accessToken !== undefined) {
        token = answer.accessToken;
        mayRefresh = false;
      }
      continue;
    }

    const candidates = answer.availableTransports.filter((t) =>
      isWanted(t.transport, options.transport) &&
      t.transferFormats.includes(request.transferFormat)
    );
    const tried = failures.length;
    for (const candidate of candidates) {
      if (candidate.transport !== "WebSockets") {
        logger.log(
          LogLevel.Debug,
          `Skipping the ${candidate.transport} transport: not implemented by this client yet.`,
        );
        continue;
      }
      try {
        const transport = await connectTransport(
          candidate.transport,
          withQuery(url, "id", answer.connectionToken),
          options,
          request,
          token,
        );
        return { transport, connectionId: answer.connectionId };
      } catch (error) {
        signal?.throwIfAborted();
        failures.push(error instanceof Error ? error : new Error(String(error)));
        logger.log(LogLevel.Warning, `The ${candidate.transport} transport failed to start.`);
      }
    }
    if (failures.length === tried) {
      const offered = answer.availableTransports.map((t) => t.transport).join(", ") || "none";
      failures.push(
        new Error(
          `No transport both sides support: the server offers ${offered} for ${request.transferFormat} frames; the client allows ${
            describeTransports(options.transport)
          }.`,
        ),
      );
    }
    break;
  }
  if (failures.length === 1) throw failures[0];
  throw new AggregateError(failures, "Unable to connect with any transport.");
}

async function connectTransport(
  name: string,
  url: string,
  options: ResolvedConnectionOptions,
  request: OpenRequest,
  token: string | undefined,
): Promise<Transport> {
  if (name !== "WebSockets") throw new Error(`The ${name} transport is not implemented yet.`);
  const transport = new WebSocketTransport(options.WebSocket);
  await transport.connect(url, {
    transferFormat: request.transferFormat,
    headers: requestHeaders(options, token),
    accessToken: token,
    receiver: request.receiver,
    signal: request.signal,
    logger: request.logger,
  });
  return transport;
}

function requestHeaders(
  options: ResolvedConnectionOptions,
  token: string | undefined,
): Record<string, string> {
  const headers: Record<string, string> = {
    "X-Requested-With": "XMLHttpRequest",
    "X-SignalR-User-Agent": userAgent(),
    ...options.headers,
  };
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

function isWanted(name: string, mask: number): boolean {
  const flag = HttpTransportType[name as keyof typeof HttpTransportType];
  return flag !== undefined && (mask & flag) !== 0;
}

// Only what is implemented: listing a transport the client cannot run would mislead.
const IMPLEMENTED = ["WebSockets"] as const;

function describeTransports(mask: number): string {
  const names = IMPLEMENTED.filter((n) => (mask & HttpTransportType[n]) !== 0);
  return names.join(", ") || "none";
}

let agent: string | undefined;
function userAgent(): string {
  if (agent) return agent;
  const g = globalThis as {
    Deno?: { version: { deno: string }; build: { os: string } };
    process?: { versions?: { node?: string } };
  };
  const runtime = g.Deno
    ? `Deno; ${g.Deno.version.deno}; ${g.Deno.build.os}`
    : g.process?.versions?.node
    ? `NodeJS; ${g.process.versions.node}`
    : "Browser";
  return agent = `@signalrcore/client/${VERSION} (${runtime})`;
}
