/**
 * The server's handles on one connection and on a group.
 *
 * @module
 */
import type { HubMessage } from "../protocol/messages.ts";

/**
 * A transport, as negotiate names it.
 *
 * @example
 * ```ts ignore
 * const client = await hub.nextConnection();
 * const transport: TestHubTransport = client.transport; // "LongPolling", say
 * ```
 */
export type TestHubTransport = "WebSockets" | "ServerSentEvents" | "LongPolling";

/**
 * One HTTP request that the hub took as part of a connection: {@linkcode TestHubClient.requests}.
 *
 * @example Every request after negotiate carried the cookie
 * ```ts ignore
 * for (const { headers } of client.requests.slice(1)) {
 *   assert.equal(headers.get("cookie"), "affinity=1");
 * }
 * ```
 */
export interface TestHubRequest {
  /** `POST` (negotiate, sends), `GET` (WebSocket upgrade, event stream, polls) or `DELETE`. */
  readonly method: string;
  /** The full URL, query included. */
  readonly url: string;
  /** The request headers. */
  readonly headers: Headers;
}

/**
 * Why a connection ended, as the server saw it.
 *
 * - `"client-close"`: the client sent a Close message (e.g. `stop()`).
 * - `"transport-closed"`: the client's transport ended without a Close message.
 * - `"server-close"`: the hub closed it (`close()`, `TestHub.close()`, a handshake failure, a
 *   message it could not encode for the connection's protocol, as ASP.NET Core aborts then).
 * - `"dropped"`: `drop()` cut the TCP connection.
 * - `"client-timeout"`: nothing arrived from the client within the client timeout; on Long
 *   Polling, no poll came within the hub's `disconnectTimeout`; with stateful reconnect, the
 *   client did not reattach within it after its WebSocket dropped.
 * - `"protocol-error"`: the client sent data the hub could not parse, or (stateful reconnect) a
 *   Sequence ahead of what the hub received.
 *
 * @example
 * ```ts ignore
 * const { reason } = await client.closed;
 * ```
 */
export interface TestHubDisconnect {
  /** The kind of end. */
  readonly reason:
    | "client-close"
    | "transport-closed"
    | "server-close"
    | "dropped"
    | "client-timeout"
    | "protocol-error";
  /**
   * The error text, when there was one (a client's Close error, a protocol error, the error of
   * a message the hub could not encode).
   */
  readonly error?: string;
}

/**
 * Options of {@linkcode TestHubClient.close}: the fields of the Close message.
 *
 * @example
 * ```ts ignore
 * await client.close({ error: "Server restarting", allowReconnect: true });
 * ```
 */
export interface CloseOptions {
  /** The Close message's `error`. */
  readonly error?: string;
  /** The Close message's `allowReconnect` (sent only when `true`, like ASP.NET Core). */
  readonly allowReconnect?: boolean;
}

/**
 * Options of {@linkcode TestHubClient.refuseReattach}.
 *
 * @example The next two reattach attempts get 503, the third goes through
 * ```ts ignore
 * client.refuseReattach({ times: 2, status: 503 });
 * ```
 */
export interface RefuseReattachOptions {
  /** How many reattach requests to refuse. Default 1; 0 stops refusing. */
  readonly times?: number;
  /**
   * The HTTP status to answer with. Default 404, which means the connection is gone: the
   * connection ends with that answer (reason `"server-close"`), as when a real server has
   * already disposed of it. Any other error status refuses the request only; the connection
   * keeps waiting for a reattach until the hub's `disconnectTimeout`.
   */
  readonly status?: number;
}

/**
 * The server side of one connection: `hub.client(id)`, `await hub.nextConnection()`, or a
 * method's `context.client`.
 *
 * @example Push to one client, then drop it
 * ```ts ignore
 * const client = await hub.nextConnection();
 * await client.send("Notify", "hello");
 * await client.drop(); // no Close message: the client's automatic reconnect starts
 * ```
 */
export interface TestHubClient {
  /** The public connection id. */
  readonly id: string;
  /** The transport the client connected with. */
  readonly transport: TestHubTransport;
  /**
   * The hub protocol the client chose in its handshake, as the hub names it: `"json"`, or
   * `"messagepack"` when the hub has it (`TestHubOptions.protocols`). Everything the hub sends
   * this connection is encoded with it.
   */
  readonly protocol: string;
  /** The protocol version the client asked for in its handshake (`1`, or `2` for stateful). */
  readonly protocolVersion: number;
  /**
   * The headers of the transport's connect request: the WebSocket upgrade, the event stream's
   * GET, or the first poll. {@linkcode requests} has those of every request.
   */
  readonly headers: Headers;
  /** The query of the transport's connect request, without `id` (and Long Polling's `_`). */
  readonly query: URLSearchParams;
  /**
   * The HTTP requests of this connection, oldest first (the last 100): negotiate, the
   * transport's connect request, and on Server-Sent Events and Long Polling every poll, POST
   * and DELETE, so a test can check that a header or cookie went on each of them.
   */
  readonly requests: readonly TestHubRequest[];
  /** The bearer token the client connected with, if any. */
  readonly accessToken: string | undefined;
  /** The groups this connection is in. */
  readonly groups: readonly string[];
  /**
   * The hub messages received from this client after the handshake, oldest first (the last
   * 10 000). Pings are included, so a test can see the client's keep-alive.
   */
  readonly received: readonly HubMessage[];
  /** Resolves when the connection has ended, with why. */
  readonly closed: Promise<TestHubDisconnect>;
  /**
   * Whether this connection gets keep-alive pings (default `true`). Set it to `false` to make
   * the client's server timeout fire. Long Polling never gets pings, as on ASP.NET Core.
   */
  pings: boolean;
  /**
   * Whether stateful reconnect is on for this connection: the hub allows it
   * (`TestHubOptions.statefulReconnect`), negotiate agreed to it, the transport is WebSockets,
   * and the handshake asked for version 2 or more.
   */
  readonly statefulReconnect: boolean;
  /**
   * Whether a transport is attached: `false` from a dropped WebSocket of a stateful reconnect
   * connection until the client's new one is open, and once the connection has ended.
   */
  readonly attached: boolean;
  /** How many times the client reattached this connection with a new WebSocket. */
  readonly reattaches: number;
  /**
   * Stateful reconnect: `true` stops the hub's Acks to this client (default `false`), so that
   * the client's buffer fills and its sends wait; set it back to `false` and the next tick acks
   * everything received.
   */
  dropAcks: boolean;
  /**
   * Calls a client method without waiting for an answer.
   *
   * @param method The client method.
   * @param args Its arguments.
   * @returns Resolves when the message was written.
   */
  send(method: string, ...args: unknown[]): Promise<void>;
  /**
   * Calls a client method and waits for its result (client results).
   *
   * @param method The client method.
   * @param args Its arguments.
   * @returns The client's result; rejects with a `TestHubError` carrying the client's error
   * text, or on timeout (the hub's `invokeClientTimeout`) or disconnect.
   */
  invoke<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
  /**
   * Sends any hub message, e.g. a Completion for an id the client never used. With stateful
   * reconnect a numbered message (Invocation, StreamItem, Completion, StreamInvocation,
   * CancelInvocation) is numbered and kept for replay, and may wait for acks first; others
   * (e.g. an `Ack` or a `Sequence` of the test's own) go out as they are.
   *
   * @param message The message, encoded with the connection's {@linkcode protocol}: a record
   * of text for JSON, a length-prefixed binary frame for MessagePack.
   * @returns Resolves when the message was written.
   */
  sendMessage(message: HubMessage): Promise<void>;
  /**
   * Writes raw data, unchecked (malformed JSON, half a record, several records at once), as one
   * WebSocket frame, one Server-Sent Event, or part of the next poll's body. Nothing is
   * encoded: on a MessagePack connection, write bytes (length-prefixed messages, or broken
   * ones), which go as a binary WebSocket frame as the connection's own messages do; text
   * would go as a text frame, which a MessagePack client does not expect.
   *
   * @param data Text, or bytes: a binary WebSocket frame; decoded as UTF-8 for Server-Sent
   * Events; as they are for Long Polling.
   * @returns Resolves when the frame was written.
   *
   * @example Half a MessagePack Ping, then the rest
   * ```ts ignore
   * const client = await hub.nextConnection(); // a MessagePack connection
   * await client.writeRaw(new Uint8Array([0x02, 0x91])); // length 2, then half of [6]
   * await client.writeRaw(new Uint8Array([0x06]));
   * ```
   */
  writeRaw(data: string | Uint8Array): Promise<void>;
  /**
   * Waits for a message from the client; messages already in {@linkcode received} count.
   *
   * @param match A message type number, or a predicate.
   * @returns The first matching message.
   */
  waitForMessage(match: number | ((message: HubMessage) => boolean)): Promise<HubMessage>;
  /**
   * Sends a Close message, then ends the transport: a WebSocket close frame, the end of the
   * event stream, or on Long Polling a 204 for the poll after the one that carries the Close.
   *
   * @param options The Close message's `error` and `allowReconnect`.
   * @returns Resolves when the connection has ended.
   */
  close(options?: CloseOptions): Promise<void>;
  /**
   * Ends the transport cleanly without a Close message first: a WebSocket close frame (1000),
   * the end of the event stream, or on Long Polling a 204 for the waiting (or next) poll,
   * which is how ASP.NET Core tells a Long Polling client that the connection is over. The
   * client sees its transport close without an error.
   *
   * @returns Resolves when the connection has ended.
   *
   * @example End the poll with 204
   * ```ts ignore
   * const client = await hub.nextConnection();
   * await client.endTransport(); // the client's waiting poll gets 204 No Content
   * ```
   */
  endTransport(): Promise<void>;
  /**
   * Cuts the TCP connection without any goodbye: no Close message, no WebSocket close frame
   * (the client sees close code 1006), the event stream's TCP connection cut, or the waiting
   * poll's (later requests for the connection get 404).
   *
   * @returns Resolves when the connection has ended.
   */
  drop(): Promise<void>;
  /**
   * Cuts the WebSocket's TCP connection like a network failure (no close frame, no Close
   * message). With stateful reconnect the connection survives: it waits for the client to
   * reattach (see {@linkcode waitForReattach}), buffering what the hub sends meanwhile, for the
   * hub's `disconnectTimeout`. Without it, this is {@linkcode drop}.
   *
   * @returns Resolves when the hub has seen the transport end.
   *
   * @example Two drops during an exchange
   * ```ts ignore
   * const client = await hub.nextConnection();
   * await client.dropTransport();
   * await client.waitForReattach();
   * await client.dropTransport();
   * await client.waitForReattach(2);
   * ```
   */
  dropTransport(): Promise<void>;
  /**
   * Waits for the client to reattach the connection (stateful reconnect): a new WebSocket is
   * open and the hub has sent its Sequence and replay. Without `count`, resolves once a
   * transport is attached (at once when one is, so call it after
   * {@linkcode dropTransport}); with it, once the client has reattached `count` times in all.
   *
   * @param count The total of reattaches to wait for.
   * @returns Resolves then; rejects when the connection ends first.
   */
  waitForReattach(count?: number): Promise<void>;
  /**
   * Refuses the client's next reattach request(s) (stateful reconnect), with 404 by default,
   * which also ends the connection, as if it were gone.
   *
   * @param options How many, and the HTTP status.
   */
  refuseReattach(options?: RefuseReattachOptions): void;
  /**
   * The connection goes silent: nothing more is delivered either way and the TCP connection
   * stays open, like a peer that hung. The client's messages and its close frame go unanswered,
   * and once the socket buffers fill, its WebSocket's `bufferedAmount` grows. On Server-Sent
   * Events and Long Polling, the event stream or waiting poll stops, and every later POST or
   * poll of the connection hangs unanswered (its TCP connection frozen too) and is not
   * processed. The hub does not time the client out meanwhile; `drop()` or closing the hub
   * ends it.
   *
   * @returns Resolves once nothing more is delivered.
   *
   * @example A server that hangs mid-call
   * ```ts ignore
   * const client = await hub.nextConnection();
   * await client.freeze();
   * const answer = connection.invoke("Echo", 1); // never answered
   * await client.drop(); // the client sees the connection end (code 1006)
   * await assert.rejects(answer);
   * ```
   */
  freeze(): Promise<void>;
}

/**
 * A group of connections: `hub.group(name)`.
 *
 * @example
 * ```ts ignore
 * hub.group("admins").add(client.id);
 * await hub.group("admins").send("Alert", "disk full");
 * ```
 */
export interface TestHubGroup {
  /** The group name. */
  readonly name: string;
  /** The ids of its connections. */
  readonly connections: readonly string[];
  /**
   * Calls a client method on every connection of the group.
   *
   * @param method The client method.
   * @param args Its arguments.
   * @returns Resolves when written to every member.
   */
  send(method: string, ...args: unknown[]): Promise<void>;
  /**
   * Adds a connection.
   *
   * @param connectionId The connection id.
   */
  add(connectionId: string): void;
  /**
   * Removes a connection.
   *
   * @param connectionId The connection id.
   */
  remove(connectionId: string): void;
}
