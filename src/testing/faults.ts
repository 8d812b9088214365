/**
 * Fault injection knobs of {@linkcode TestHub}: `hub.faults`, or `faults` in its options.
 *
 * @module
 */

/**
 * What negotiate answers instead of a connection:
 * - `{ redirect, accessToken? }`: a redirect, `{"url": ..., "accessToken": ...}` (like Azure
 *   SignalR Service);
 * - `{ error }`: `{"error": ...}` with status 200;
 * - `{ status?, body?, headers? }`: any status (default 200) and body (a string is sent as is,
 *   anything else as JSON);
 * - a `Response`, sent as is.
 *
 * @example Redirect once, then answer normally
 * ```ts ignore
 * let first = true;
 * hub.faults.negotiate = () => first ? (first = false, { redirect: hub.url }) : undefined;
 * ```
 */
export type NegotiateFault =
  | { readonly redirect: string; readonly accessToken?: string }
  | { readonly error: string }
  | {
    readonly status?: number;
    readonly body?: unknown;
    readonly headers?: Readonly<Record<string, string>>;
  }
  | Response;

/**
 * How the handshake misbehaves. Fields combine: `delay` first, then the first of `ignore`,
 * `raw`, `error`.
 *
 * @example
 * ```ts ignore
 * hub.faults.handshake = { error: "Go away" }; // {"error":"Go away"}, then the hub closes
 * ```
 */
export interface HandshakeFault {
  /** Answer only after this many ms. */
  readonly delay?: number;
  /** Never answer (the client's handshake timeout fires). */
  readonly ignore?: boolean;
  /**
   * Send this raw data instead of the answer, and nothing else: text (a text WebSocket frame),
   * or bytes (a binary frame), whatever the protocol.
   */
  readonly raw?: string | Uint8Array;
  /** Refuse with this error text, then close. */
  readonly error?: string;
}

/**
 * How a transport's GET requests are refused: an HTTP status (`true` = 503), `false` or
 * `undefined` to accept, or a function of the request returning one of those.
 *
 * @example Fail one poll with 500
 * ```ts ignore
 * let polls = 0;
 * hub.faults.refuseTransports = { LongPolling: () => ++polls === 3 ? 500 : undefined };
 * ```
 */
export type TransportRefusal =
  | number
  | boolean
  | ((request: Request) => number | boolean | undefined);

/**
 * The fault knobs; change them at any time (`hub.faults.pings = false`), they apply to what
 * happens next. Each of `negotiate`, `refuseTransports`' entries, `refuseWebSockets`,
 * `failPosts` and `handshake` may also be a function of the request, called each time;
 * `undefined` means "behave normally", so a function can misbehave only once.
 *
 * @example Refuse the WebSocket upgrade
 * ```ts ignore
 * hub.faults.refuseWebSockets = 503;
 * await assertRejects(() => connection.start());
 * hub.faults.refuseWebSockets = undefined;
 * ```
 */
export interface TestHubFaults {
  /** Answer negotiate with this instead of a connection. */
  negotiate?: NegotiateFault | ((request: Request) => NegotiateFault | undefined);
  /**
   * Answer a transport's GET requests with this HTTP status instead (`true` = 503), before
   * the connection token is used: the WebSocket upgrade, the event stream's request, or any
   * Long Polling poll (so a function can fail one poll of a live connection).
   */
  refuseTransports?: Partial<
    Record<"WebSockets" | "ServerSentEvents" | "LongPolling", TransportRefusal>
  >;
  /** `refuseTransports.WebSockets`, which wins when both are set. */
  refuseWebSockets?: TransportRefusal;
  /**
   * Answer the sends (POSTs) of Server-Sent Events and Long Polling connections with this HTTP
   * status, without taking their data: e.g. 409, what the spec says a concurrent send gets,
   * 404 (connection gone), 500.
   */
  failPosts?: number | ((request: Request) => number | undefined);
  /** Misbehave in the handshake. */
  handshake?: HandshakeFault | ((request: Request) => HandshakeFault | undefined);
  /** `false` stops every connection's keep-alive pings. Default `true`. */
  pings?: boolean;
}
