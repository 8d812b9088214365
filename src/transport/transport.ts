/**
 * The transport contract: what the connection layer needs from WebSockets, Server-Sent Events
 * and Long Polling alike.
 *
 * @module
 */
import type { HttpClient } from "../http/_http_client.ts";
import type { Logger } from "../logger.ts";
import type { TransferFormat } from "../protocol/hub_protocol.ts";

/**
 * Transport kinds, as bit flags: combine them with `|` to allow several.
 *
 * @example WebSockets only, without negotiation
 * ```ts
 * import { HttpTransportType, HubConnectionBuilder } from "@signalrcore/client";
 * new HubConnectionBuilder().withUrl("http://localhost:5000/hub", {
 *   transport: HttpTransportType.WebSockets,
 *   skipNegotiation: true,
 * });
 * ```
 */
export const HttpTransportType = {
  /** No transport. */
  None: 0,
  /** WebSockets. */
  WebSockets: 1,
  /** Server-Sent Events (text only). */
  ServerSentEvents: 2,
  /** Long Polling. */
  LongPolling: 4,
} as const;

/**
 * A transport kind or a bit-or of several.
 *
 * @example
 * ```ts
 * import { HttpTransportType } from "@signalrcore/client";
 * const allowed: HttpTransportType = HttpTransportType.WebSockets;
 * ```
 */
export type HttpTransportType = typeof HttpTransportType[keyof typeof HttpTransportType];

/**
 * A transport's name, as negotiate spells it; `connection.transport` says which one is in use.
 *
 * @example
 * ```ts ignore
 * await connection.start();
 * const name: TransportName | null = connection.transport; // "WebSockets", say
 * ```
 */
export type TransportName = "WebSockets" | "ServerSentEvents" | "LongPolling";

/** Where a live transport delivers what it receives. */
export interface TransportReceiver {
  /** One frame, as sent by the server: a string for text, bytes for binary. */
  onFrame(frame: string | Uint8Array): void;
  /**
   * The transport ended; called once, only after `connect` resolved. `error` is set unless the
   * end was asked for with {@linkcode Transport.close}.
   */
  onClose(error?: Error): void;
}

/** What a transport needs to connect. */
export interface TransportConnectOptions {
  /** The transport URL (http or https), with `id=` in its query when negotiate gave one. */
  readonly url: string;
  /** Text or binary frames. */
  readonly transferFormat: TransferFormat;
  /** Headers for every request, including `Authorization` when there is a token. */
  readonly headers: Readonly<Record<string, string>>;
  /** The bearer token, for transports that must put it in the query string. */
  readonly accessToken: string | undefined;
  /** Where frames and the end of the transport go. */
  readonly receiver: TransportReceiver;
  /** The connection's HTTP client (token per request, cookies), for the HTTP transports. */
  readonly http: HttpClient;
  /** Aborts connecting: `connect` rejects with its reason and leaves nothing open. */
  readonly signal: AbortSignal | undefined;
  /** The connection's logger. */
  readonly logger: Logger;
}

/** What the layers above must know about a live transport. */
export interface TransportFeatures {
  /**
   * The transport keeps the connection alive itself (Long Polling): the client sends no pings
   * and runs no server timeout on it.
   */
  readonly inherentKeepAlive: boolean;
  /** The transport can reattach to the same server connection (stateful reconnect). */
  readonly statefulReconnect: boolean;
}

/** Connects one kind of transport. */
export interface TransportFactory {
  /** The transport's name, as negotiate spells it. */
  readonly name: TransportName;
  /** Connects; resolves with the live transport when frames can flow both ways. */
  connect(options: TransportConnectOptions): Promise<Transport>;
}

/** A live transport: a pipe of frames to the server, until it closes. */
export interface Transport {
  /** The transport's name, as negotiate spells it. */
  readonly name: TransportName;
  /** What the transport does on its own. */
  readonly features: TransportFeatures;
  /**
   * Sends a batch of encoded messages, in order; the transport decides how to frame them (one
   * POST, or WebSocket frames of a size that suits the runtime). Returns `undefined` when the
   * batch was taken at once, or a promise that resolves when the transport can take more
   * (backpressure). A promise that rejects means the transport failed: it closes itself with
   * that error and reports it through {@linkcode TransportReceiver.onClose}.
   *
   * @param frames Whole encoded messages.
   * @param size Their total length (characters or bytes).
   */
  send(frames: readonly (string | Uint8Array)[], size: number): Promise<void> | undefined;
  /**
   * Closes after what was sent so far; resolves when closed, or when `timeout` ms passed,
   * whichever is first. It never rejects, and `onClose` has been called when it resolves.
   *
   * @param timeout The longest wait for the peer, in ms.
   */
  close(timeout: number): Promise<void>;
}
