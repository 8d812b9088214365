/**
 * The transport contract: what the connection layer needs from WebSockets, Server-Sent Events
 * and Long Polling alike.
 *
 * @module
 */
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

/** Where a transport delivers what it receives. */
export interface TransportReceiver {
  /** One frame, as sent by the server: a string for text, bytes for binary. */
  onFrame(frame: string | Uint8Array): void;
  /**
   * The transport ended after it had connected; called once. `error` is set unless the end was
   * requested through {@linkcode Transport.close}.
   */
  onClose(error?: Error): void;
}

/** What a transport needs to connect. */
export interface TransportConnectOptions {
  /** Text or binary frames. */
  readonly transferFormat: TransferFormat;
  /** Headers for every request, including `Authorization` when there is a token. */
  readonly headers: Readonly<Record<string, string>>;
  /** The bearer token, for transports that must put it in the query string. */
  readonly accessToken: string | undefined;
  /** Where frames and the end of the transport go. */
  readonly receiver: TransportReceiver;
  /** Aborts connecting. */
  readonly signal: AbortSignal | undefined;
  /** The connection's logger. */
  readonly logger: Logger;
}

/** A connected byte pipe to the server. */
export interface Transport {
  /**
   * Connects; resolves when frames can flow both ways.
   *
   * @param url The transport URL, with `id=` already in its query when there is one.
   * @param options Format, headers, receiver and abort signal.
   */
  connect(url: string, options: TransportConnectOptions): Promise<void>;
  /**
   * Sends one frame. Returns `undefined` when the frame was taken at once, or a promise that
   * resolves when the transport can take more (backpressure).
   */
  send(frame: string | Uint8Array): Promise<void> | undefined;
  /** Closes after everything sent so far is written; resolves when closed. */
  close(): Promise<void>;
}
