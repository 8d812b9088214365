/**
 * Options of `HubConnectionBuilder.withUrl`.
 *
 * @module
 */
import type { Logger, LogLevel } from "../logger.ts";
import type { HttpTransportType } from "../transport/transport.ts";

/**
 * The `WebSocket` constructor the client uses; inject one to wrap or replace the runtime's.
 *
 * @example
 * ```ts
 * import type { WebSocketConstructor } from "@signalrcore/client";
 * const ws: WebSocketConstructor = WebSocket;
 * ```
 */
export type WebSocketConstructor = new (
  url: string,
  options?: string | string[] | { headers?: Record<string, string> },
) => WebSocket;

/**
 * How to reach the hub: transports, negotiation, authentication, headers, limits.
 *
 * @example
 * ```ts
 * import { HttpTransportType, HubConnectionBuilder } from "@signalrcore/client";
 * new HubConnectionBuilder().withUrl("https://example.com/chat", {
 *   transport: HttpTransportType.WebSockets,
 *   accessTokenFactory: () => "my-token",
 *   headers: { "X-Tenant": "a" },
 * });
 * ```
 */
export interface HttpConnectionOptions {
  /** Allowed transports, a bit-or of {@linkcode HttpTransportType}; default: all, server's order. */
  transport?: HttpTransportType | number;
  /** Connect the WebSocket directly, without negotiate (WebSockets only). Default `false`. */
  skipNegotiation?: boolean;
  /**
   * Returns the bearer token; called for every connect and reconnect, and once more on a 401.
   * The token is sent as `Authorization: Bearer`, or as `access_token=` where headers cannot be
   * set (browser WebSockets). It is never logged. `""`, `null` or `undefined` means no token
   * (an anonymous connection).
   */
  accessTokenFactory?: () => string | null | undefined | Promise<string | null | undefined>;
  /** Extra headers for every HTTP request and the WebSocket upgrade (where the runtime can). */
  headers?: Record<string, string>;
  /**
   * Timeout of each HTTP request, in ms, and of the WebSocket upgrade and the Server-Sent Events
   * response (until it starts). Default 100 000.
   */
  timeout?: number;
  /**
   * The longest wait for one Long Polling poll, in ms. The server answers an idle poll after
   * about 90 s; a poll that takes longer fails the connection. Default 100 000.
   */
  pollTimeout?: number;
  /**
   * Send cookies and credentials with cross-origin requests in browsers (fetch's
   * `credentials: "include"`; `false` is `"same-origin"`). Default `true`, like the official
   * client. Outside browsers the client keeps its own cookie jar for each connection, so that
   * cookies set by negotiate (load-balancer affinity) go back on every later request.
   */
  withCredentials?: boolean;
  /** Include message content in trace logs. Default `false`. */
  logMessageContent?: boolean;
  /**
   * The logger, or the lowest level for the console, as `@microsoft/signalr` takes it here.
   * `configureLogging` on the builder wins over it.
   */
  logger?: Logger | LogLevel;
  /**
   * The largest message accepted from the server: bytes for binary protocols, characters for
   * JSON. A larger message, or a partial one growing past it, closes the connection with a
   * `ProtocolError`. Default 16 Mi.
   */
  maxReceiveMessageSize?: number;
  /**
   * The `WebSocket` constructor to use. Default: `globalThis.WebSocket`. When its sockets have
   * `terminate()` (the `ws` package's, Bun's own), one whose server never confirms the close is
   * cut at the close bound instead of keeping its TCP connection open.
   */
  WebSocket?: WebSocketConstructor;
  /** The `fetch` to use. Default: `globalThis.fetch`. */
  fetch?: typeof fetch;
}
