/**
 * `HubConnection`: calls, handlers, streams, client results, keep-alive, timeouts and
 * automatic reconnect on top of one transport at a time.
 *
 * The façade over the layers below: the call table (`_call_table.ts`), automatic reconnect
 * (`_reconnect.ts`), and one transport life at a time (`connection/`). It drives the one state
 * machine: every state change goes through `#transition`, and the lifecycle callbacks
 * (`_lifecycle.ts`) fire there.
 *
 * @module
 */
import { positive } from "./_positive.ts";
import {
  createHttpClient,
  openConnection,
  resolveConnectionOptions,
  type ResolvedConnectionOptions,
} from "./connection/_connect.ts";
import type {
  Connection,
  ConnectionEnd,
  ConnectionEvents,
  ConnectionSettings,
} from "./connection/_connection.ts";
import type { HttpConnectionOptions } from "./connection/http_connection_options.ts";
import type { HttpClient } from "./http/_http_client.ts";
import { HttpTransportType, type TransportName } from "./transport/transport.ts";
import { checkUrl } from "./connection/_url.ts";
import { ConnectionClosedError, describe, NotConnectedError, toError } from "./errors.ts";
import { HubConnectionState } from "./hub_connection_state.ts";
import { feedOf, HubStream } from "./hub_stream.ts";
import { type Logger, LogLevel, type LogLevelName, toLogger } from "./logger.ts";
import type { HubProtocol } from "./protocol/hub_protocol.ts";
import { JsonHubProtocol } from "./protocol/json.ts";
import {
  type CompletionMessage,
  type HubMessage,
  type InvocationMessage,
  MessageType,
} from "./protocol/messages.ts";
import type { RetryPolicy } from "./retry_policy.ts";
import type {
  CallArguments,
  ClientHandler,
  ClientMethod,
  ClientMethodName,
  InvokeResult,
  ServerMethodName,
  ServerStreamName,
  StreamItemType,
  TypedCallOptions,
  UntypedHub,
} from "./typed_hub.ts";
import { checkUpload, isUpload, pumpUpload, type UploadWriter } from "./_uploads.ts";
import { ClientMethods } from "./_client_methods.ts";
import { CallTable } from "./_call_table.ts";
import { checkMethod, invocation, type Prepared, toCall, watch } from "./_calls.ts";
import { nextDelay, reconnect } from "./_reconnect.ts";
import { followSignal } from "./_abort.ts";
import { Lifecycle } from "./_lifecycle.ts";

/**
 * Everything a {@linkcode HubConnection} is made of; {@linkcode HubConnectionBuilder} fills it.
 *
 * @example
 * ```ts
 * import { HubConnection, LogLevel } from "@signalrcore/client";
 * const connection = new HubConnection({
 *   url: "http://localhost:5000/hub",
 *   logger: LogLevel.Warning,
 *   serverTimeout: 60_000,
 * });
 * ```
 */
export interface HubConnectionOptions {
  /** The hub URL (http or https). */
  url: string;
  /** Transport, negotiation, authentication and header options. */
  connection?: HttpConnectionOptions;
  /** The hub protocol. Default: {@linkcode JsonHubProtocol}. */
  protocol?: HubProtocol;
  /** Enables automatic reconnect with this policy. */
  reconnectPolicy?: RetryPolicy;
  /** Close the connection when nothing arrived for this long, in ms. Default 30 000. */
  serverTimeout?: number;
  /** Send a ping when nothing was sent for this long, in ms. Default 15 000. */
  keepAliveInterval?: number;
  /** Fail `start()` when the handshake response takes longer, in ms. Default 15 000. */
  handshakeTimeout?: number;
  /**
   * The longest `stop()` (and the close after a lost connection) waits for the Close message to
   * be written and the transport to confirm its close, in ms. Default 5 000.
   */
  closeTimeout?: number;
  /** A minimum log level for the console, or a logger. Default: warnings to the console. */
  logger?: Logger | LogLevel | LogLevelName | (string & Record<never, never>);
  /**
   * Stateful reconnect (ASP.NET Core 8+ with `AllowStatefulReconnects`, WebSockets): a dropped
   * transport reattaches to the same server connection and nothing in flight is lost.
   */
  statefulReconnect?: StatefulReconnectOptions;
}

/**
 * Options of stateful reconnect (`withStatefulReconnect`).
 *
 * @example
 * ```ts
 * import { HubConnectionBuilder } from "@signalrcore/client";
 * new HubConnectionBuilder()
 *   .withUrl("http://localhost:5000/hub")
 *   .withStatefulReconnect({ bufferSize: 1_000_000 })
 *   .build();
 * ```
 */
export interface StatefulReconnectOptions {
  /**
   * How much may be sent and not yet acknowledged by the server, in bytes (characters for
   * JSON), before sends wait: `invoke`, `send`, `Subject.next()` and uploads then resolve
   * later. Default 100 000, as ASP.NET Core's.
   */
  bufferSize?: number;
}

/**
 * The options form of `send`, `invoke` and `stream`.
 *
 * @example Cancel an invocation
 * ```ts ignore
 * const controller = new AbortController();
 * const result = connection.invoke({ method: "SlowEcho", args: ["x", 5000], signal: controller.signal });
 * controller.abort(); // sends CancelInvocation; `result` rejects with controller.signal.reason
 * ```
 */
export interface CallOptions {
  /** The hub method. */
  method: string;
  /** The arguments; `Subject`s, `ReadableStream`s and async iterables are uploaded as streams. */
  args?: readonly unknown[];
  /** Aborting sends a CancelInvocation (when the call has an id) and rejects with the reason. */
  signal?: AbortSignal;
  /** Aborts the call after this many ms, with a `TimeoutError` `DOMException`. */
  timeout?: number;
}

/**
 * Options of {@linkcode HubConnection.start}.
 *
 * @example
 * ```ts ignore
 * await connection.start({ signal: AbortSignal.timeout(5_000) });
 * ```
 */
export interface StartOptions {
  /** Aborts negotiating, connecting and the handshake; `start()` rejects with the reason. */
  signal?: AbortSignal;
}

/**
 * A state change of a {@linkcode HubConnection}, as given to
 * {@linkcode HubConnection.onstatechange} callbacks.
 *
 * @example
 * ```ts ignore
 * connection.onstatechange(({ previous, state, error }) =>
 *   console.log(`${previous} → ${state}`, error?.message ?? "")
 * );
 * ```
 */
export interface HubConnectionStateChange {
  /** The state before the change. */
  readonly previous: HubConnectionState;
  /** The new state. */
  readonly state: HubConnectionState;
  /** Why, when the change was caused by an error (a lost connection, a reconnect given up). */
  readonly error?: Error;
}

/**
 * Options of {@linkcode HubConnection.waitForState}.
 *
 * @example
 * ```ts ignore
 * await connection.waitForState("Connected", { timeout: 30_000 });
 * ```
 */
export interface WaitForStateOptions {
  /** Stops waiting: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Stops waiting after this many ms, with a `TimeoutError` `DOMException`. */
  timeout?: number;
}

// The JSON protocol keeps no state outside its decoders: one instance serves every connection.
const DEFAULT_PROTOCOL = new JsonHubProtocol();
// Set by HubConnection's static block, where its private methods can be reached.
// deno-lint-ignore no-explicit-any
let Link: new (hub: HubConnection<any, any>) => ConnectionEvents;

/**
 * A connection to a SignalR hub. Build one with {@linkcode HubConnectionBuilder}.
 *
 * The type parameters are optional interfaces of the hub's methods (`Server`) and of the
 * methods the hub calls on the client (`Client`): with them, method names, arguments, results,
 * stream items and handler parameters are checked; without them everything is `unknown`.
 *
 * @example Chat
 * ```ts ignore
 * import { HubConnectionBuilder } from "@signalrcore/client";
 * await using connection = new HubConnectionBuilder()
 *   .withUrl("http://localhost:5000/chat")
 *   .withAutomaticReconnect()
 *   .build();
 * connection.on("ReceiveMessage", (user, text) => console.log(`${user}: ${text}`));
 * await connection.start();
 * await connection.invoke("SendMessage", "me", "hello");
 * ```
 */
export class HubConnection<Server extends object = UntypedHub, Client extends object = UntypedHub> {
  readonly #options: ResolvedConnectionOptions;
  readonly #http: HttpClient;
  #settings: ConnectionSettings;
  readonly #logger: Logger;
  readonly #retryPolicy: RetryPolicy | undefined;
  readonly #handshakeTimeout: number;

  #baseUrl: string;
  readonly #life: Lifecycle;
  #connectionId: string | null = null;
  /** The live connection; set exactly while Connected. */
  #connection: Connection | undefined;
  /** Ends the start() or the reconnect in progress. */
  #abort: AbortController | undefined;
  /** The retry policy is asked whether to reconnect a lost connection (baseUrl may change). */
  #askingPolicy = false;

  readonly #clientMethods: ClientMethods;
  readonly #calls: CallTable;
  readonly #events: ConnectionEvents;

  static {
    // What the live connection tells this layer, as methods of a one-field object: two
    // closures per connection cost several times more heap.
    Link = class implements ConnectionEvents {
      readonly #hub: HubConnection<UntypedHub, UntypedHub>;
      readonly #table: CallTable;
      constructor(hub: HubConnection<UntypedHub, UntypedHub>) {
        this.#hub = hub;
        this.#table = hub.#calls;
      }
      onMessage(message: HubMessage): void {
        // Stream items are most of the traffic: one hop less.
        if (message.type === MessageType.StreamItem) this.#table.item(message);
        else this.#hub.#dispatch(message);
      }
      onClose(end: ConnectionEnd): void {
        this.#hub.#connectionEnded(end);
      }
      onSuspended(error: Error): void {
        this.#hub.#life.suspended(error);
      }
      onResumed(): void {
        this.#hub.#life.resumed();
      }
    };
  }

  readonly #stateful: { readonly bufferSize: number } | undefined;

  /**
   * Creates a disconnected connection. {@linkcode HubConnectionBuilder} is the usual way.
   *
   * @param options URL, transport options, protocol, timers, reconnect policy and logging.
   */
  constructor(options: HubConnectionOptions) {
    this.#baseUrl = checkUrl(options.url);
    this.#options = resolveConnectionOptions(options.connection);
    this.#logger = toLogger(options.logger);
    this.#life = new Lifecycle(this.#logger);
    this.#http = createHttpClient(this.#options, this.#logger);
    this.#clientMethods = new ClientMethods(this, this.#logger);
    this.#calls = new CallTable(this.#logger);
    this.#events = new Link(this);
    this.#retryPolicy = options.reconnectPolicy;
    const serverTimeout = positive(options.serverTimeout ?? 30_000, "serverTimeout");
    const keepAliveInterval = positive(options.keepAliveInterval ?? 15_000, "keepAliveInterval");
    this.#handshakeTimeout = positive(options.handshakeTimeout ?? 15_000, "handshakeTimeout");
    const protocol = options.protocol ?? DEFAULT_PROTOCOL;
    if (options.statefulReconnect !== undefined) {
      this.#stateful = {
        bufferSize: positive(options.statefulReconnect.bufferSize ?? 100_000, "bufferSize"),
      };
    }
    if (
      protocol.transferFormat === "Binary" &&
      this.#options.transport === HttpTransportType.ServerSentEvents
    ) {
      throw new TypeError(
        `Server-Sent Events carry text only: the ${protocol.name} protocol needs WebSockets or Long Polling.`,
      );
    }
    this.#settings = {
      protocol,
      logger: this.#logger,
      logMessageContent: this.#options.logMessageContent,
      maxMessageSize: this.#options.maxReceiveMessageSize,
      serverTimeout,
      keepAliveInterval,
      closeTimeout: positive(options.closeTimeout ?? 5_000, "closeTimeout"),
    };
    if (serverTimeout < 2 * keepAliveInterval) {
      this.#logger.log(
        LogLevel.Warning,
        `serverTimeout (${serverTimeout} ms) is below twice keepAliveInterval (${keepAliveInterval} ms); the server may seem silent between its pings.`,
      );
    }
  }

  /** The connection's state. */
  get state(): HubConnectionState {
    return this.#life.state;
  }

  /** The server's public id of this connection; `null` when not connected or negotiation was skipped. */
  get connectionId(): string | null {
    return this.#connectionId;
  }

  /**
   * The transport in use while Connected: `"WebSockets"`, `"ServerSentEvents"` or
   * `"LongPolling"`; `null` otherwise.
   */
  get transport(): TransportName | null {
    return this.#connection?.transport ?? null;
  }

  /**
   * The server timeout in ms (`withServerTimeout`): the connection ends when nothing arrives for
   * this long. Settable at any time, as in `@microsoft/signalr`; a running connection switches
   * to the new value at once.
   *
   * @example
   * ```ts
   * import { HubConnectionBuilder } from "@signalrcore/client";
   * const connection = new HubConnectionBuilder().withUrl("http://localhost:5000/hub").build();
   * connection.serverTimeoutInMilliseconds = 60_000;
   * ```
   */
  get serverTimeoutInMilliseconds(): number {
    return this.#settings.serverTimeout;
  }

  set serverTimeoutInMilliseconds(milliseconds: number) {
    this.#retime({ serverTimeout: positive(milliseconds, "serverTimeoutInMilliseconds") });
  }

  /**
   * The keep-alive interval in ms (`withKeepAliveInterval`): a Ping goes out when nothing else
   * was sent for this long. Settable at any time, as in `@microsoft/signalr`; a running
   * connection switches to the new value at once.
   *
   * @example
   * ```ts
   * import { HubConnectionBuilder } from "@signalrcore/client";
   * const connection = new HubConnectionBuilder().withUrl("http://localhost:5000/hub").build();
   * connection.keepAliveIntervalInMilliseconds = 5_000;
   * ```
   */
  get keepAliveIntervalInMilliseconds(): number {
    return this.#settings.keepAliveInterval;
  }

  set keepAliveIntervalInMilliseconds(milliseconds: number) {
    this.#retime({
      keepAliveInterval: positive(milliseconds, "keepAliveIntervalInMilliseconds"),
    });
  }

  #retime(timers: Partial<ConnectionSettings>): void {
    this.#settings = { ...this.#settings, ...timers };
    this.#connection?.retime(this.#settings);
  }

  /**
   * The hub URL. It can be changed while Disconnected or Reconnecting, and by the retry policy
   * when it is asked whether to reconnect a lost connection.
   */
  get baseUrl(): string {
    return this.#baseUrl;
  }

  set baseUrl(url: string) {
    if (
      this.#life.state !== HubConnectionState.Disconnected &&
      this.#life.state !== HubConnectionState.Reconnecting && !this.#askingPolicy
    ) {
      throw invalidState(
        `baseUrl can only change while Disconnected or Reconnecting; the connection is ${this.#life.state}.`,
      );
    }
    this.#baseUrl = checkUrl(url);
  }

  /**
   * Connects: negotiate, transport, handshake.
   *
   * @param options An optional abort signal.
   * @returns Resolves once the server accepted the handshake.
   * @throws {DOMException} `InvalidStateError` when the connection is not Disconnected.
   * @throws {HandshakeError} When the server refused the handshake or did not answer in time.
   * @throws {HttpError} When negotiate failed with an HTTP status.
   * @throws {NegotiateError} When negotiate's answer cannot be used.
   * @throws {AggregateError} When several transports were tried and all failed.
   */
  start(options?: StartOptions): Promise<void> {
    if (this.#life.state !== HubConnectionState.Disconnected) {
      return Promise.reject(
        invalidState(
          `Cannot start a connection that is ${this.#life.state}; only a Disconnected connection can start.`,
        ),
      );
    }
    const abort = this.#abort = new AbortController();
    const unfollow = followSignal(abort, options?.signal);
    this.#transition(HubConnectionState.Connecting);
    return this.#start(abort, unfollow);
  }

  async #start(abort: AbortController, unfollow: () => void): Promise<void> {
    let connection: Connection;
    try {
      connection = await this.#open(abort.signal);
      if (abort.signal.aborted) {
        await connection.stop();
        throw abort.signal.reason;
      }
    } catch (error) {
      const reason = abort.signal.aborted ? abort.signal.reason : toError(error);
      this.#logger.log(LogLevel.Error, `Failed to start the connection: ${describe(error)}`);
      this.#transition(HubConnectionState.Disconnected, toError(reason));
      throw reason;
    } finally {
      unfollow();
      if (this.#abort === abort) this.#abort = undefined;
    }
    this.#logger.log(LogLevel.Information, "HubConnection connected.");
    this.#adopt(connection);
  }

  #open(signal: AbortSignal): Promise<Connection> {
    return openConnection(this.#options, {
      baseUrl: this.#baseUrl,
      http: this.#http,
      settings: this.#settings,
      handshakeTimeout: this.#handshakeTimeout,
      signal,
      statefulReconnect: this.#stateful,
    });
  }

  /** Makes `connection` the live one: Connected first, then its messages flow. */
  #adopt(connection: Connection): void {
    this.#connection = connection;
    this.#connectionId = connection.connectionId;
    this.#transition(HubConnectionState.Connected);
    // A callback of that change may have stopped the connection already.
    if (this.#connection === connection) connection.attach(this.#events);
  }

  /**
   * Stops the connection: sends a Close message, waits until it is written, closes the
   * transport, all within the close timeout. Pending calls reject with
   * {@linkcode ConnectionClosedError}; open streams error. Ends a reconnect in progress (also
   * from inside an `onreconnecting` callback), and aborts a `start()` in progress.
   *
   * @returns Resolves when the connection is Disconnected.
   */
  stop(): Promise<void> {
    switch (this.#life.state) {
      case HubConnectionState.Disconnected:
        return Promise.resolve();
      case HubConnectionState.Connecting:
      case HubConnectionState.Reconnecting:
        this.#abort?.abort(
          new ConnectionClosedError(
            this.#life.state === HubConnectionState.Connecting
              ? "The connection was stopped during start()."
              : "The connection was stopped.",
          ),
        );
        break;
      case HubConnectionState.Connected: {
        const connection = this.#release();
        this.#transition(HubConnectionState.Disconnecting);
        connection.stop().then(() => this.#disconnected(undefined));
        break;
      }
    }
    return this.waitForState(HubConnectionState.Disconnected);
  }

  /** `stop()`, so that `await using connection = builder.build()` cleans up. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** Lets go of the live connection: nothing more of it reaches this layer. */
  #release(): Connection {
    const connection = this.#connection!;
    this.#connection = undefined;
    connection.detach();
    return connection;
  }

  /** The live connection ended on its own: reconnect, or close for good. */
  #connectionEnded(end: ConnectionEnd): void {
    const error = end.error;
    if (this.#retryPolicy !== undefined && end.allowReconnect) {
      const reason = error ??
        new Error("The server closed the connection and allowed the client to reconnect.");
      // Asked before Reconnecting, so that a policy refusing this reason closes the connection
      // with it as if there were no policy (no onreconnecting), as the official client does.
      // It may set baseUrl for the attempts (the connection is lost already).
      this.#askingPolicy = true;
      let first: number | null;
      try {
        first = nextDelay(this.#retryPolicy, {
          previousRetryCount: 0,
          elapsedMilliseconds: 0,
          retryReason: reason,
        }, this.#logger);
      } finally {
        this.#askingPolicy = false;
      }
      // The policy may have called stop(), which took the connection.
      if (this.#connection === undefined) return;
      if (first !== null) {
        const connection = this.#release();
        this.#calls.failAll(reason, `The connection was lost: ${reason.message}`);
        this.#logger.log(
          LogLevel.Information,
          `Connection lost (${reason.message}); reconnecting.`,
        );
        this.#reconnect(reason, first, connection);
        return;
      }
      this.#logger.log(
        LogLevel.Information,
        `Connection lost (${reason.message}); the retry policy declined to reconnect.`,
      );
    }
    const connection = this.#release();
    if (error) this.#logger.log(LogLevel.Error, `Connection closed: ${error.message}`);
    this.#transition(HubConnectionState.Disconnecting, error);
    connection.closed.then(() => this.#disconnected(error));
  }

  /**
   * The end: what is in flight fails (right before onclose, so that a caller awaiting either
   * sees both), then Disconnected.
   */
  #disconnected(error: Error | undefined): void {
    this.#calls.failAll(
      error,
      error ? `The connection closed: ${error.message}` : "The connection was stopped.",
    );
    this.#transition(HubConnectionState.Disconnected, error);
  }

  async #reconnect(reason: Error, first: number, lost: Connection): Promise<void> {
    const abort = this.#abort = new AbortController();
    // The abort switch exists before the callbacks run: stop() inside onreconnecting ends it.
    this.#transition(HubConnectionState.Reconnecting, reason);
    let connection: Connection;
    try {
      connection = await reconnect(
        this.#retryPolicy!,
        reason,
        first,
        (signal) => this.#open(signal),
        (late) => late.stop(),
        abort.signal,
        this.#logger,
      );
    } catch (error) {
      // Given up (ReconnectError), or stop() (then it is a clean end).
      await lost.closed;
      this.#disconnected(abort.signal.aborted ? undefined : toError(error));
      return;
    } finally {
      if (this.#abort === abort) this.#abort = undefined;
    }
    this.#logger.log(LogLevel.Information, "HubConnection reconnected.");
    this.#adopt(connection);
  }

  // ---- the state machine ------------------------------------------------------------------

  /** The one place the state changes; the lifecycle callbacks fire from there, in order. */
  #transition(state: HubConnectionState, error?: Error): void {
    if (this.#life.state === state) return;
    if (state !== HubConnectionState.Connected) this.#connectionId = null;
    this.#life.transition(state, error, this.#connectionId ?? undefined);
  }

  /**
   * Calls `callback` on every state change, with the previous and the new state (and the error,
   * when one caused it). Changes made inside a callback are delivered after the current one.
   *
   * @param callback Receives the change.
   * @returns A function that removes the callback.
   *
   * @example
   * ```ts ignore
   * const off = connection.onstatechange(({ state }) => console.log("now", state));
   * off();
   * ```
   */
  onstatechange(callback: (change: HubConnectionStateChange) => void): () => void {
    return this.#life.onstatechange(callback);
  }

  /**
   * Resolves when the connection is in `state`: at once if it is already.
   *
   * @param state The state to wait for.
   * @param options A signal and a timeout that end the wait (the promise then rejects).
   * @returns Resolves when the state is reached.
   *
   * @example Wait for automatic reconnect to finish
   * ```ts ignore
   * await connection.waitForState("Connected", { timeout: 30_000 });
   * ```
   */
  waitForState(state: HubConnectionState, options?: WaitForStateOptions): Promise<void> {
    return this.#life.waitForState(state, options);
  }

  /**
   * Registers a handler for a method the server calls. Names match case-insensitively; a
   * method may have several handlers.
   *
   * @param method The method name.
   * @param handler Called with the server's arguments.
   * @returns A function that removes this handler.
   */
  on<M extends ClientMethodName<Client>>(method: M, handler: ClientHandler<Client, M>): () => void;
  on(method: string, handler: ClientMethod): () => void {
    checkMethod(method);
    if (typeof handler !== "function") throw new TypeError("The handler must be a function.");
    return this.#clientMethods.add(method, handler);
  }

  /**
   * Removes one handler, or every handler of a method.
   *
   * @param method The method name (case-insensitive).
   * @param handler The handler to remove; all of the method's handlers when omitted.
   */
  off<M extends ClientMethodName<Client>>(method: M, handler?: ClientHandler<Client, M>): void;
  off(method: string, handler?: ClientMethod): void {
    checkMethod(method);
    this.#clientMethods.remove(method, handler);
  }

  /**
   * Called when the connection closes for good (not on a reconnect, not when `start()` fails),
   * with the error if any: a `ServerCloseError`, `TransportClosedError`, `ServerTimeoutError`,
   * `ProtocolError` or `ReconnectError`.
   *
   * @param callback Receives the error, or nothing after `stop()` or a clean server close.
   * @returns A function that removes the callback.
   */
  onclose(callback: (error?: Error) => void): () => void {
    return this.#life.onclose(callback);
  }

  /**
   * Called when the connection was lost and automatic reconnect begins.
   *
   * @param callback Receives the reason.
   * @returns A function that removes the callback.
   */
  onreconnecting(callback: (error?: Error) => void): () => void {
    return this.#life.onreconnecting(callback);
  }

  /**
   * Called when automatic reconnect succeeded.
   *
   * @param callback Receives the new connection id.
   * @returns A function that removes the callback.
   */
  onreconnected(callback: (connectionId?: string) => void): () => void {
    return this.#life.onreconnected(callback);
  }

  /**
   * Stateful reconnect: called when the transport dropped and the client is reattaching to the
   * same server connection. The state stays `Connected`: calls stay pending and sends wait.
   * Either `onresumed` follows, or (when the server forgot the connection) the usual
   * `onreconnecting` or `onclose`.
   *
   * @example
   * ```ts
   * import { HubConnectionBuilder } from "@signalrcore/client";
   * const connection = new HubConnectionBuilder()
   *   .withUrl("http://localhost:5000/hub")
   *   .withStatefulReconnect()
   *   .build();
   * connection.onsuspended((error) => console.log("reattaching after", error.message));
   * connection.onresumed(() => console.log("reattached, nothing lost"));
   * ```
   *
   * @param callback Receives what ended the transport.
   * @returns A function that removes the callback.
   */
  onsuspended(callback: (error: Error) => void): () => void {
    return this.#life.onsuspended(callback);
  }

  /**
   * Stateful reconnect: called when the transport reattached to the same server connection and
   * what the server had not acknowledged was sent again.
   *
   * @example
   * ```ts
   * import { HubConnectionBuilder } from "@signalrcore/client";
   * const connection = new HubConnectionBuilder().withUrl("http://localhost:5000/hub").build();
   * connection.onresumed(() => console.log("reattached"));
   * ```
   *
   * @param callback Called without arguments.
   * @returns A function that removes the callback.
   */
  onresumed(callback: () => void): () => void {
    return this.#life.onresumed(callback);
  }

  /**
   * Calls a hub method without waiting for it to run (no invocation id).
   *
   * @param method The method name.
   * @param args The arguments; stream arguments are uploaded.
   * @returns Resolves when the invocation was written to the transport.
   */
  send<M extends ServerMethodName<Server>>(
    method: M,
    ...args: CallArguments<Server, M>
  ): Promise<void>;
  /**
   * Calls a hub method without waiting for it to run, in the options form.
   *
   * @param options Method, arguments, and an abort signal that ends its uploads.
   * @returns Resolves when the invocation was written to the transport.
   */
  send<M extends ServerMethodName<Server>>(options: TypedCallOptions<Server, M>): Promise<void>;
  send(method: string | CallOptions, ...args: unknown[]): Promise<void> {
    const call = toCall(method, args);
    let prepared: Prepared;
    try {
      prepared = this.#begin(call, "send");
    } catch (error) {
      return Promise.reject(error);
    }
    const written = this.#write(invocation(call.method, undefined, prepared));
    if (prepared.uploads.length > 0) {
      const stop = new AbortController();
      const done = this.#startUploads(prepared.uploads, stop);
      const unwatch = watch(call, (reason) => {
        // No invocation id to cancel: end the uploads with an error the server can see.
        stop.abort(reason);
        for (const upload of prepared.uploads) {
          this.#sendQuietly({
            type: MessageType.Completion,
            invocationId: upload.id,
            error: `Upload canceled by the client: ${describe(reason)}`,
          });
        }
      });
      if (unwatch) done.then(unwatch);
    }
    return written;
  }

  /**
   * Calls a hub method and waits for its result.
   *
   * @param method The method name.
   * @param args The arguments; stream arguments are uploaded.
   * @returns The method's result.
   * @throws {HubError} With the server's error text, unchanged.
   * @throws {ConnectionClosedError} When the connection went away first.
   */
  invoke<T = never, M extends ServerMethodName<Server> = ServerMethodName<Server>>(
    method: M,
    ...args: CallArguments<Server, M>
  ): Promise<InvokeResult<Server, M, T>>;
  /**
   * Calls a hub method and waits for its result, in the options form: aborting the signal or
   * reaching the timeout sends a CancelInvocation and rejects with the reason.
   *
   * @param options Method, arguments, signal and timeout.
   * @returns The method's result.
   */
  invoke<T = never, M extends ServerMethodName<Server> = ServerMethodName<Server>>(
    options: TypedCallOptions<Server, M>,
  ): Promise<InvokeResult<Server, M, T>>;
  invoke(method: string | CallOptions, ...args: unknown[]): Promise<unknown> {
    const call = toCall(method, args);
    let prepared: Prepared;
    try {
      prepared = this.#begin(call, "invoke");
    } catch (error) {
      return Promise.reject(error);
    }
    const id = this.#calls.nextId();
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const stop = prepared.uploads.length > 0 ? new AbortController() : undefined;
    const finish = () => {
      unwatch?.();
      stop?.abort(new Error("The server completed the invocation."));
    };
    this.#calls.addCall(id, {
      resolve: (value) => {
        finish();
        resolve(value);
      },
      reject: (error) => {
        finish();
        reject(error);
      },
    });
    const unwatch = watch(call, (reason) => {
      if (!this.#calls.takeCall(id)) return;
      finish();
      this.#cancelOnServer(id);
      reject(reason);
    });
    this.#write(invocation(call.method, id, prepared)).catch((error) =>
      this.#calls.takeCall(id)?.reject(error)
    );
    if (stop) this.#startUploads(prepared.uploads, stop);
    return promise;
  }

  /**
   * Calls a hub method that streams its result.
   *
   * @param method The method name.
   * @param args The arguments; stream arguments are uploaded.
   * @returns The stream, at once. Problems (not connected, server errors) error the stream.
   */
  stream<T = never, M extends ServerStreamName<Server> = ServerStreamName<Server>>(
    method: M,
    ...args: CallArguments<Server, M>
  ): HubStream<StreamItemType<Server, M, T>>;
  /**
   * Calls a hub method that streams its result, in the options form: aborting the signal or
   * reaching the timeout cancels the stream on the server and errors it with the reason.
   *
   * @param options Method, arguments, signal and timeout.
   * @returns The stream, at once.
   */
  stream<T = never, M extends ServerStreamName<Server> = ServerStreamName<Server>>(
    options: TypedCallOptions<Server, M>,
  ): HubStream<StreamItemType<Server, M, T>>;
  stream(method: string | CallOptions, ...args: unknown[]): HubStream<unknown> {
    const call = toCall(method, args);
    const id = this.#calls.nextId();
    let stop: AbortController | undefined;
    let unwatch: (() => void) | undefined = undefined;
    const end = () => {
      unwatch?.();
      stop?.abort(new Error("The server stream ended."));
    };
    const stream = new HubStream<unknown>(() => {
      if (!this.#calls.removeStream(id)) return;
      end();
      this.#cancelOnServer(id);
    });
    const feed = feedOf(stream);
    feed.onUnobservedError = (error) =>
      this.#logger.log(
        LogLevel.Error,
        `Stream '${call.method}' failed and its subscriber has no error callback: ${
          describe(error)
        }`,
      );
    let prepared: Prepared;
    try {
      prepared = this.#begin(call, "stream");
    } catch (error) {
      feed.fail(error);
      return stream;
    }
    if (prepared.uploads.length > 0) stop = new AbortController();
    this.#calls.addStream(id, { feed, end });
    unwatch = watch(call, (reason) => {
      if (!this.#calls.removeStream(id)) return;
      end();
      this.#cancelOnServer(id);
      feed.fail(reason);
    });
    this.#write({
      type: MessageType.StreamInvocation,
      invocationId: id,
      target: call.method,
      arguments: prepared.args,
      ...(prepared.streamIds.length > 0 ? { streamIds: prepared.streamIds } : {}),
    }).catch((error) => {
      if (this.#calls.removeStream(id)) {
        end();
        feed.fail(error);
      }
    });
    if (stop) this.#startUploads(prepared.uploads, stop);
    return stream;
  }

  // ---- receive path -----------------------------------------------------------------------

  #dispatch(message: HubMessage): void {
    switch (message.type) {
      case MessageType.StreamItem:
        return this.#calls.item(message);
      case MessageType.Completion:
        return this.#calls.completion(message);
      case MessageType.Invocation:
        return this.#invokeClient(message);
      default:
        this.#logger.log(
          LogLevel.Debug,
          `Ignoring a message of type ${message.type}, which the server should not send here.`,
        );
    }
  }

  #invokeClient(message: InvocationMessage): void {
    const answer = this.#clientMethods.call(message);
    // The answer belongs to the connection the call came on: after a reconnect the server has
    // forgotten the call.
    const connection = this.#connection;
    answer?.then((completion) => this.#answer(connection!, message.target, completion));
  }

  #answer(connection: Connection, target: string, completion: CompletionMessage): void {
    try {
      connection.send(completion);
      return;
    } catch (error) {
      if (!(error instanceof TypeError) || completion.error !== undefined) {
        this.#logger.log(
          LogLevel.Warning,
          `Could not send the result of client method '${target}': ${describe(error)}`,
        );
        return;
      }
      // The server waits for a Completion: an unencodable result must still end its call.
      this.#logger.log(
        LogLevel.Warning,
        `The result of client method '${target}' cannot be sent: ${describe(error)}`,
      );
    }
    this.#sendQuietly({
      type: MessageType.Completion,
      invocationId: completion.invocationId,
      error: `The client's result of '${target}' could not be serialized.`,
    }, connection);
  }

  // ---- send path --------------------------------------------------------------------------

  /** Checks that the call may start; throws what it should reject with. */
  #begin(call: CallOptions, what: string): Prepared {
    if (call.signal?.aborted) throw call.signal.reason;
    if (this.#life.state !== HubConnectionState.Connected) {
      throw new NotConnectedError(
        `Cannot ${what}: the connection is ${this.#life.state}, not Connected. Call start() and await it first.`,
        this.#life.state,
      );
    }
    return this.#prepare(call.args ?? []);
  }

  #prepare(args: readonly unknown[]): Prepared {
    let plain: unknown[] | undefined;
    const streamIds: string[] = [];
    const uploads: { id: string; value: unknown }[] = [];
    for (let i = 0; i < args.length; i++) {
      const value = args[i];
      if (isUpload(value)) {
        checkUpload(value);
        plain ??= args.slice(0, i);
        const id = this.#calls.nextId();
        streamIds.push(id);
        uploads.push({ id, value });
      } else plain?.push(value);
    }
    return { args: plain ?? args, streamIds, uploads };
  }

  #startUploads(uploads: readonly { id: string; value: unknown }[], stop: AbortController) {
    this.#calls.addUpload(stop);
    const writer = this.#uploadWriter ??= this.#createUploadWriter();
    return Promise.all(
      uploads.map(({ id, value }) =>
        pumpUpload(value, id, writer, stop.signal).catch((error) =>
          this.#logger.log(LogLevel.Debug, `Upload stream ${id} stopped: ${describe(error)}`)
        )
      ),
    ).then(() => this.#calls.removeUpload(stop));
  }

  // Made on the first upload: most connections never upload, and an idle connection would
  // otherwise keep its two closures.
  #uploadWriter: UploadWriter | undefined;

  #createUploadWriter(): UploadWriter {
    return {
      item: (streamId, item) => {
        const connection = this.#live();
        connection.send({ type: MessageType.StreamItem, invocationId: streamId, item });
        return connection.backpressure;
      },
      end: (streamId, error) =>
        this.#write(
          error === undefined
            ? { type: MessageType.Completion, invocationId: streamId }
            : { type: MessageType.Completion, invocationId: streamId, error },
        ),
    };
  }

  #live(): Connection {
    if (this.#connection) return this.#connection;
    throw new ConnectionClosedError(`The connection is ${this.#life.state}.`);
  }

  #write(message: HubMessage): Promise<void> {
    try {
      return this.#live().write(message);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #sendQuietly(message: HubMessage, connection = this.#connection): void {
    try {
      if (!connection) throw new ConnectionClosedError(`The connection is ${this.#life.state}.`);
      connection.send(message);
    } catch (error) {
      this.#logger.log(LogLevel.Debug, `Not sent (type ${message.type}): ${describe(error)}`);
    }
  }

  /** Sends a CancelInvocation; what the server still sends for `id` is then dropped quietly. */
  #cancelOnServer(id: string): void {
    this.#calls.cancelled(id);
    this.#sendQuietly({ type: MessageType.CancelInvocation, invocationId: id });
  }
}

function invalidState(message: string): DOMException {
  return new DOMException(message, "InvalidStateError");
}
