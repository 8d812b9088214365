/**
 * `HubConnection`: calls, handlers, streams, client results, keep-alive, timeouts and
 * automatic reconnect on top of one transport at a time.
 *
 * @module
 */
import {
  type OpenConnection,
  openConnection,
  resolveConnectionOptions,
  type ResolvedConnectionOptions,
} from "./connection/_connect.ts";
import type { HttpConnectionOptions } from "./connection/http_connection_options.ts";
import { checkUrl } from "./connection/_url.ts";
import { Outbox } from "./connection/_outbox.ts";
import { ConnectionClosedError, HandshakeError, HubError, toError } from "./errors.ts";
import { HubConnectionState } from "./hub_connection_state.ts";
import { feedOf, HubStream } from "./hub_stream.ts";
import { type Logger, LogLevel, toLogger } from "./logger.ts";
import type { HubMessageDecoder, HubProtocol } from "./protocol/hub_protocol.ts";
import { JsonHubProtocol } from "./protocol/json.ts";
import {
  type CloseMessage,
  type CompletionMessage,
  type HubMessage,
  type InvocationMessage,
  MessageType,
} from "./protocol/messages.ts";
import { HandshakeReader, handshakeRequest } from "./protocol/_handshake.ts";
import { MAX_DELAY, type RetryPolicy } from "./retry_policy.ts";
import type { StreamFeed } from "./_stream_feed.ts";
import type { Transport, TransportReceiver } from "./transport/transport.ts";
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
import { startTicking, stopTicking, type Ticking } from "./_ticker.ts";
import { followSignal } from "./_abort.ts";

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
  /** A minimum log level for the console, or a logger. Default: warnings to the console. */
  logger?: Logger | LogLevel;
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

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

interface OpenStream {
  readonly feed: StreamFeed<unknown>;
  end(): void;
}

interface CloseInfo {
  readonly error: Error | undefined;
  readonly allowReconnect: boolean;
}

const noop = () => {};
// The JSON protocol keeps no state outside its decoders: one instance serves every connection.
const DEFAULT_PROTOCOL = new JsonHubProtocol();
type Timer = ReturnType<typeof setTimeout>;
const PING = { type: MessageType.Ping } as const;
const CLOSE = { type: MessageType.Close } as const;
const MAX_REMEMBERED_CANCELS = 1024;
const STOP_TIMEOUT_MS = 10_000;

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
  readonly #protocol: HubProtocol;
  readonly #logger: Logger;
  readonly #retryPolicy: RetryPolicy | undefined;
  readonly #serverTimeout: number;
  readonly #keepAliveInterval: number;
  readonly #handshakeTimeout: number;

  #baseUrl: string;
  #state: HubConnectionState = HubConnectionState.Disconnected;
  #connectionId: string | null = null;
  #nextId = 0;

  #transport: Transport | undefined;
  #decoder: HubMessageDecoder | undefined;
  #handshake: HandshakeReader | undefined;
  #handshakeWait: PromiseWithResolvers<void> | undefined;
  #generation = 0;
  #closeInfo: CloseInfo | undefined;

  readonly #clientMethods: ClientMethods;
  readonly #pending = new Map<string, PendingCall>();
  readonly #streams = new Map<string, OpenStream>();
  // Created on first use: most connections never cancel or upload.
  #cancelled: Set<string> | undefined;
  #uploads: Set<AbortController> | undefined;

  readonly #onclose: ((error?: Error) => void)[] = [];
  readonly #onreconnecting: ((error?: Error) => void)[] = [];
  readonly #onreconnected: ((connectionId?: string) => void)[] = [];

  readonly #outbox = new Outbox();
  // Liveness without a clock read per frame: the hot paths bump counters, one timer reads them.
  #frames = 0;
  #seenFrames = 0;
  #seenFlushes = 0;
  #lastReceive = 0;
  #lastSend = 0;
  #timer: Ticking | undefined;

  #startAbort: AbortController | undefined;
  #lifecycle: Promise<void> | undefined;
  #reconnectAbort: AbortController | undefined;

  /**
   * Creates a disconnected connection. {@linkcode HubConnectionBuilder} is the usual way.
   *
   * @param options URL, transport options, protocol, timers, reconnect policy and logging.
   */
  constructor(options: HubConnectionOptions) {
    this.#baseUrl = checkUrl(options.url);
    this.#options = resolveConnectionOptions(options.connection);
    this.#protocol = options.protocol ?? DEFAULT_PROTOCOL;
    this.#logger = toLogger(options.logger);
    this.#clientMethods = new ClientMethods(this, this.#logger);
    this.#retryPolicy = options.reconnectPolicy;
    this.#serverTimeout = positive(options.serverTimeout ?? 30_000, "serverTimeout");
    this.#keepAliveInterval = positive(options.keepAliveInterval ?? 15_000, "keepAliveInterval");
    this.#handshakeTimeout = positive(options.handshakeTimeout ?? 15_000, "handshakeTimeout");
    if (this.#serverTimeout < 2 * this.#keepAliveInterval) {
      this.#logger.log(
        LogLevel.Warning,
        `serverTimeout (${this.#serverTimeout} ms) is below twice keepAliveInterval (${this.#keepAliveInterval} ms); the server may seem silent between its pings.`,
      );
    }
  }

  /** The connection's state. */
  get state(): HubConnectionState {
    return this.#state;
  }

  /** The server's public id of this connection; `null` when not connected or negotiation was skipped. */
  get connectionId(): string | null {
    return this.#connectionId;
  }

  /** The hub URL. It can be changed while Disconnected or Reconnecting. */
  get baseUrl(): string {
    return this.#baseUrl;
  }

  set baseUrl(url: string) {
    if (
      this.#state !== HubConnectionState.Disconnected &&
      this.#state !== HubConnectionState.Reconnecting
    ) {
      throw invalidState(
        `baseUrl can only change while Disconnected or Reconnecting; the connection is ${this.#state}.`,
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
   * @throws {AggregateError} When several transports were tried and all failed.
   */
  start(options?: StartOptions): Promise<void> {
    if (this.#state !== HubConnectionState.Disconnected) {
      return Promise.reject(
        invalidState(
          `Cannot start a connection that is ${this.#state}; only a Disconnected connection can start.`,
        ),
      );
    }
    this.#state = HubConnectionState.Connecting;
    const abort = this.#startAbort = new AbortController();
    const unfollow = followSignal(abort, options?.signal);
    const signal = abort.signal;
    const started = (async () => {
      try {
        await this.#connect(signal);
      } catch (error) {
        this.#state = HubConnectionState.Disconnected;
        this.#connectionId = null;
        this.#logger.log(LogLevel.Error, `Failed to start the connection: ${describe(error)}`);
        throw signal.aborted ? signal.reason : toError(error);
      } finally {
        this.#startAbort = undefined;
        unfollow();
      }
      this.#state = HubConnectionState.Connected;
      this.#startTimers();
      this.#logger.log(LogLevel.Information, "HubConnection connected.");
    })();
    this.#lifecycle = started.then(noop, noop);
    return started;
  }

  /**
   * Stops the connection: sends a Close message, waits until it is written, closes the
   * transport. Pending calls reject with {@linkcode ConnectionClosedError}; open streams error.
   * Ends a reconnect in progress, and aborts a `start()` in progress.
   *
   * @returns Resolves when the connection is Disconnected.
   */
  stop(): Promise<void> {
    switch (this.#state) {
      case HubConnectionState.Disconnected:
        return Promise.resolve();
      case HubConnectionState.Connecting:
        this.#startAbort?.abort(
          new ConnectionClosedError("The connection was stopped during start()."),
        );
        return this.#lifecycle ?? Promise.resolve();
      case HubConnectionState.Reconnecting:
        this.#reconnectAbort?.abort(new ConnectionClosedError("The connection was stopped."));
        return this.#lifecycle ?? Promise.resolve();
      case HubConnectionState.Disconnecting:
        return this.#lifecycle ?? Promise.resolve();
    }
    this.#state = HubConnectionState.Disconnecting;
    this.#lifecycle = this.#closeGracefully();
    return this.#lifecycle;
  }

  async #closeGracefully(): Promise<void> {
    const transport = this.#transport;
    if (!transport) return;
    try {
      await this.#write(CLOSE);
    } catch (error) {
      this.#logger.log(LogLevel.Debug, `Could not send the Close message: ${describe(error)}`);
    }
    await closeWithin(transport, STOP_TIMEOUT_MS);
    // When the transport did not confirm in time, finish anyway and ignore it from now on.
    if (this.#state === HubConnectionState.Disconnecting) {
      this.#generation++;
      this.#transportClosed(undefined);
    }
  }

  /** `stop()`, so that `await using connection = builder.build()` cleans up. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
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
   * Called when the connection closes for good (not on a reconnect), with the error if any.
   *
   * @param callback Receives the error, or nothing after `stop()`.
   */
  onclose(callback: (error?: Error) => void): void {
    this.#onclose.push(callback);
  }

  /**
   * Called when the connection was lost and automatic reconnect begins.
   *
   * @param callback Receives the reason.
   */
  onreconnecting(callback: (error?: Error) => void): void {
    this.#onreconnecting.push(callback);
  }

  /**
   * Called when automatic reconnect succeeded.
   *
   * @param callback Receives the new connection id.
   */
  onreconnected(callback: (connectionId?: string) => void): void {
    this.#onreconnected.push(callback);
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
          this.#enqueueQuietly({
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
    const id = String(this.#nextId++);
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const stop = prepared.uploads.length > 0 ? new AbortController() : undefined;
    const finish = () => {
      this.#pending.delete(id);
      unwatch?.();
      stop?.abort(new Error("The server completed the invocation."));
    };
    this.#pending.set(id, {
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
      if (!this.#pending.has(id)) return;
      finish();
      this.#cancelOnServer(id);
      reject(reason);
    });
    this.#write(invocation(call.method, id, prepared)).catch((error) =>
      this.#pending.get(id)?.reject(error)
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
    const id = String(this.#nextId++);
    let stop: AbortController | undefined;
    let unwatch: (() => void) | undefined = undefined;
    const end = () => {
      unwatch?.();
      stop?.abort(new Error("The server stream ended."));
    };
    const stream = new HubStream<unknown>(() => {
      if (!this.#streams.delete(id)) return;
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
    this.#streams.set(id, { feed, end });
    unwatch = watch(call, (reason) => {
      if (!this.#streams.delete(id)) return;
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
      if (this.#streams.delete(id)) {
        end();
        feed.fail(error);
      }
    });
    if (stop) this.#startUploads(prepared.uploads, stop);
    return stream;
  }

  // ---- connecting -------------------------------------------------------------------------

  async #connect(signal: AbortSignal): Promise<void> {
    const generation = ++this.#generation;
    this.#closeInfo = undefined;
    const open: OpenConnection = await openConnection(this.#options, {
      baseUrl: this.#baseUrl,
      transferFormat: this.#protocol.transferFormat,
      signal,
      logger: this.#logger,
      receiver: this.#receiverFor(generation),
    });
    this.#transport = open.transport;
    // Attached before the handshake: a client-result call may arrive in its very frame.
    this.#outbox.attach(open.transport);
    this.#decoder = this.#protocol.createDecoder({
      maxMessageSize: this.#options.maxReceiveMessageSize,
      logger: this.#logger,
    });
    this.#handshake = new HandshakeReader(this.#options.maxReceiveMessageSize);
    const wait = this.#handshakeWait = Promise.withResolvers<void>();
    const timer = setTimeout(
      () =>
        wait.reject(
          new HandshakeError(
            `The server did not answer the handshake within ${this.#handshakeTimeout} ms.`,
          ),
        ),
      this.#handshakeTimeout,
    );
    const onAbort = () => wait.reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await open.transport.send(handshakeRequest(this.#protocol));
      await wait.promise;
    } catch (error) {
      this.#handshake = undefined;
      this.#handshakeWait = undefined;
      if (this.#transport === open.transport) {
        this.#generation++;
        this.#transport = undefined;
        this.#decoder = undefined;
        this.#outbox.detach();
        await closeWithin(open.transport, STOP_TIMEOUT_MS);
      }
      throw error;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
    this.#connectionId = open.connectionId;
  }

  // ---- receive path -----------------------------------------------------------------------

  // Built apart from #connect so that the receiver, which lives as long as the transport,
  // keeps nothing of the connect call (its signal, handshake promise and timer) alive.
  #receiverFor(generation: number): TransportReceiver {
    return {
      onFrame: (frame) => {
        if (generation === this.#generation) this.#onFrame(frame);
      },
      onClose: (error) => {
        if (generation === this.#generation) this.#transportClosed(error);
      },
    };
  }

  #onFrame(frame: string | Uint8Array): void {
    this.#frames++;
    if (this.#closeInfo !== undefined) return;
    if (this.#options.logMessageContent) {
      this.#logger.log(
        LogLevel.Trace,
        `Received: ${typeof frame === "string" ? frame : `${frame.length} bytes`}`,
      );
    }
    if (this.#handshake !== undefined) {
      let rest: string | Uint8Array | undefined;
      try {
        const result = this.#handshake.feed(frame);
        if (result === undefined) return;
        rest = result.rest;
      } catch (error) {
        this.#handshakeWait?.reject(error);
        return;
      }
      this.#handshake = undefined;
      this.#handshakeWait?.resolve();
      this.#handshakeWait = undefined;
      if (rest === undefined) return;
      frame = rest;
    }
    let messages: HubMessage[];
    try {
      messages = this.#decoder!.decode(frame);
    } catch (error) {
      this.#logger.log(LogLevel.Error, `Closing the connection: ${describe(error)}`);
      this.#fail(toError(error), false);
      return;
    }
    for (let i = 0; i < messages.length; i++) this.#dispatch(messages[i]);
  }

  #dispatch(message: HubMessage): void {
    switch (message.type) {
      case MessageType.StreamItem: {
        const open = this.#streams.get(message.invocationId);
        if (open) open.feed.push(message.item);
        else this.#unknownId("StreamItem", message.invocationId);
        return;
      }
      case MessageType.Completion:
        return this.#completion(message);
      case MessageType.Invocation:
        return this.#invokeClient(message);
      case MessageType.Ping:
        return;
      case MessageType.Close:
        return this.#closeMessage(message);
      default:
        this.#logger.log(
          LogLevel.Debug,
          `Ignoring a message of type ${message.type}, which the server should not send here.`,
        );
    }
  }

  #completion(message: CompletionMessage): void {
    const id = message.invocationId;
    const pending = this.#pending.get(id);
    if (pending) {
      if (message.error !== undefined) pending.reject(new HubError(message.error));
      else pending.resolve(message.result);
      return;
    }
    const open = this.#streams.get(id);
    if (open) {
      this.#streams.delete(id);
      open.end();
      if (message.error !== undefined) open.feed.fail(new HubError(message.error));
      else open.feed.complete();
      return;
    }
    this.#unknownId("Completion", id);
  }

  #unknownId(kind: string, id: string): void {
    if (this.#cancelled?.has(id)) {
      if (kind === "Completion") this.#cancelled.delete(id);
      return;
    }
    this.#logger.log(
      LogLevel.Warning,
      `Ignoring a ${kind} for unknown invocation id '${id}'; the connection stays open.`,
    );
  }

  /** Sends a CancelInvocation; what the server still sends for `id` is then dropped quietly. */
  #cancelOnServer(id: string): void {
    const cancelled = this.#cancelled ??= new Set();
    cancelled.add(id);
    if (cancelled.size > MAX_REMEMBERED_CANCELS) {
      cancelled.delete(cancelled.values().next().value!);
    }
    this.#enqueueQuietly({ type: MessageType.CancelInvocation, invocationId: id });
  }

  #invokeClient(message: InvocationMessage): void {
    const answer = this.#clientMethods.call(message);
    answer?.then((completion) => this.#write(completion)).catch((error) =>
      this.#logger.log(
        LogLevel.Warning,
        `Could not send the result of client method '${message.target}': ${describe(error)}`,
      )
    );
  }

  #closeMessage(message: CloseMessage): void {
    const error = message.error
      ? new Error(`Server closed the connection with an error: ${message.error}`)
      : undefined;
    this.#logger.log(
      LogLevel.Information,
      `Close message received from the server${error ? `: ${message.error}` : ""}.`,
    );
    this.#fail(error, message.allowReconnect === true);
  }

  // ---- closing ----------------------------------------------------------------------------

  /** Ends the current transport for a reason found by the client or sent by the server. */
  #fail(error: Error | undefined, allowReconnect: boolean): void {
    if (this.#closeInfo !== undefined || !this.#transport) return;
    this.#closeInfo = { error, allowReconnect };
    this.#clearTimers();
    this.#transport.close().catch(noop);
  }

  #transportClosed(transportError: Error | undefined): void {
    const info = this.#closeInfo;
    this.#closeInfo = undefined;
    this.#transport = undefined;
    this.#decoder = undefined;
    this.#handshake = undefined;
    this.#clearTimers();
    this.#outbox.detach();
    const reason = info ? info.error : transportError;

    const handshake = this.#handshakeWait;
    if (handshake) {
      this.#handshakeWait = undefined;
      handshake.reject(
        reason ?? new HandshakeError("The server closed the connection during the handshake."),
      );
      return;
    }
    if (this.#state === HubConnectionState.Disconnecting) {
      this.#finishClose(undefined);
      return;
    }
    if (this.#state !== HubConnectionState.Connected) return;
    const mayReconnect = this.#retryPolicy !== undefined &&
      (info ? info.allowReconnect : transportError !== undefined);
    if (mayReconnect) {
      this.#lifecycle = this.#reconnect(reason ?? new Error("The connection was lost."));
    } else {
      if (reason) this.#logger.log(LogLevel.Error, `Connection closed: ${reason.message}`);
      this.#finishClose(reason);
    }
  }

  #failCalls(cause: Error | undefined, message: string): void {
    const uploads = this.#uploads;
    // Most stops have nothing in flight: no error object (and no stack trace) is made then.
    if (this.#pending.size === 0 && this.#streams.size === 0 && uploads === undefined) return;
    const error = new ConnectionClosedError(message, { cause });
    const pending = [...this.#pending.values()];
    const streams = [...this.#streams.values()];
    this.#pending.clear();
    this.#streams.clear();
    for (const call of pending) call.reject(error);
    for (const open of streams) {
      open.end();
      open.feed.fail(error);
    }
    for (const upload of uploads ?? []) upload.abort(error);
    this.#uploads = undefined;
  }

  #finishClose(error: Error | undefined): void {
    this.#state = HubConnectionState.Disconnected;
    this.#connectionId = null;
    this.#failCalls(
      error,
      error ? `The connection closed: ${error.message}` : "The connection was stopped.",
    );
    this.#logger.log(LogLevel.Information, "HubConnection stopped.");
    for (const callback of this.#onclose.slice()) this.#callback("onclose", () => callback(error));
  }

  async #reconnect(reason: Error): Promise<void> {
    this.#state = HubConnectionState.Reconnecting;
    this.#connectionId = null;
    this.#failCalls(reason, `The connection was lost: ${reason.message}`);
    this.#logger.log(LogLevel.Information, `Connection lost (${reason.message}); reconnecting.`);
    for (const callback of this.#onreconnecting.slice()) {
      this.#callback("onreconnecting", () => callback(reason));
    }
    const abort = this.#reconnectAbort = new AbortController();
    const began = performance.now();
    let attempts = 0;
    let last = reason;
    try {
      for (;;) {
        if (abort.signal.aborted || this.#state !== HubConnectionState.Reconnecting) {
          throw abort.signal.reason;
        }
        let delay: number | null;
        try {
          delay = this.#retryPolicy!.nextRetryDelayInMilliseconds({
            previousRetryCount: attempts,
            elapsedMilliseconds: performance.now() - began,
            retryReason: last,
          });
        } catch (error) {
          this.#logger.log(LogLevel.Error, `The retry policy threw: ${describe(error)}`);
          delay = null;
        }
        if (delay === null) {
          this.#logger.log(LogLevel.Information, `Reconnect gave up after ${attempts} attempt(s).`);
          this.#finishClose(
            new Error(
              `Reconnect gave up after ${attempts} failed attempt(s); last error: ${last.message}`,
              { cause: last },
            ),
          );
          return;
        }
        await sleep(delay, abort.signal);
        try {
          await this.#connect(abort.signal);
        } catch (error) {
          if (abort.signal.aborted) throw abort.signal.reason;
          attempts++;
          last = toError(error);
          this.#logger.log(
            LogLevel.Information,
            `Reconnect attempt ${attempts} failed: ${last.message}`,
          );
          continue;
        }
        this.#state = HubConnectionState.Connected;
        this.#startTimers();
        this.#logger.log(LogLevel.Information, "HubConnection reconnected.");
        const id = this.#connectionId ?? undefined;
        for (const callback of this.#onreconnected.slice()) {
          this.#callback("onreconnected", () => callback(id));
        }
        return;
      }
    } catch {
      // stop() ended the reconnect.
      if (this.#state === HubConnectionState.Reconnecting) this.#finishClose(undefined);
    } finally {
      this.#reconnectAbort = undefined;
    }
  }

  #callback(name: string, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.#logger.log(LogLevel.Error, `An ${name} callback threw: ${describe(error)}`);
    }
  }

  // ---- timers -----------------------------------------------------------------------------

  #startTimers(): void {
    this.#lastReceive = this.#lastSend = performance.now();
    this.#seenFrames = this.#frames;
    this.#seenFlushes = this.#outbox.flushes;
    this.#timer = startTicking(this.#tickStep(), this.#tick);
  }

  #clearTimers(): void {
    stopTicking(this.#timer);
    this.#timer = undefined;
  }

  #tickStep(): number {
    return Math.max(1, Math.min(this.#keepAliveInterval, this.#serverTimeout) / 4);
  }

  // Activity is noticed at the tick after it happened, so both limits hold within a quarter of
  // the shorter one.
  #tick = (): void => {
    if (this.#state !== HubConnectionState.Connected) return;
    const now = performance.now();
    if (this.#frames !== this.#seenFrames) {
      this.#seenFrames = this.#frames;
      this.#lastReceive = now;
    } else if (now - this.#lastReceive >= this.#serverTimeout) {
      const error = new Error(
        `Server timeout: nothing received from the server for ${this.#serverTimeout} ms.`,
      );
      this.#logger.log(LogLevel.Warning, error.message);
      this.#fail(error, true);
      return;
    }
    if (this.#outbox.flushes !== this.#seenFlushes) {
      this.#seenFlushes = this.#outbox.flushes;
      this.#lastSend = now;
    } else if (now - this.#lastSend >= this.#keepAliveInterval) {
      this.#enqueueQuietly(PING);
      this.#lastSend = now;
    }
  };

  // ---- send path --------------------------------------------------------------------------

  #notConnected(what: string): Error | undefined {
    if (this.#state === HubConnectionState.Connected) return undefined;
    return invalidState(
      `Cannot ${what}: the connection is ${this.#state}, not Connected. Call start() and await it first.`,
    );
  }

  /** Checks that the call may start; throws what it should reject with. */
  #begin(call: CallOptions, what: string): Prepared {
    if (call.signal?.aborted) throw call.signal.reason;
    const problem = this.#notConnected(what);
    if (problem) throw problem;
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
        const id = String(this.#nextId++);
        streamIds.push(id);
        uploads.push({ id, value });
      } else plain?.push(value);
    }
    return { args: plain ?? args, streamIds, uploads };
  }

  #startUploads(uploads: readonly { id: string; value: unknown }[], stop: AbortController) {
    const active = this.#uploads ??= new Set();
    active.add(stop);
    const done = Promise.all(
      uploads.map(({ id, value }) =>
        pumpUpload(value, id, this.#uploadWriter ??= this.#createUploadWriter(), stop.signal).catch(
          (error) =>
            this.#logger.log(LogLevel.Debug, `Upload stream ${id} stopped: ${describe(error)}`),
        )
      ),
    ).then(() => {
      active.delete(stop);
    });
    return done;
  }

  // Made on the first upload: most connections never upload, and an idle connection would
  // otherwise keep its two closures.
  #uploadWriter: UploadWriter | undefined;

  #createUploadWriter(): UploadWriter {
    return {
      item: (streamId, item) => {
        this.#enqueue({ type: MessageType.StreamItem, invocationId: streamId, item });
        return this.#outbox.backpressure;
      },
      end: (streamId, error) =>
        this.#write(
          error === undefined
            ? { type: MessageType.Completion, invocationId: streamId }
            : { type: MessageType.Completion, invocationId: streamId, error },
        ),
    };
  }

  /** Queues a message; all messages queued in one turn go out as one transport frame. */
  #enqueue(message: HubMessage): void {
    if (!this.#transport || this.#closeInfo !== undefined) {
      throw new ConnectionClosedError("The connection is not active.");
    }
    let frame: string | Uint8Array;
    try {
      frame = this.#protocol.encode(message);
    } catch (cause) {
      throw new TypeError(`Cannot encode the message: ${describe(cause)}`, { cause });
    }
    if (this.#options.logMessageContent) {
      this.#logger.log(
        LogLevel.Trace,
        `Sending: ${typeof frame === "string" ? frame : `${frame.length} bytes`}`,
      );
    }
    this.#outbox.push(frame);
  }

  #write(message: HubMessage): Promise<void> {
    try {
      this.#enqueue(message);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#outbox.written;
  }

  #enqueueQuietly(message: HubMessage): void {
    try {
      this.#enqueue(message);
    } catch (error) {
      this.#logger.log(LogLevel.Debug, `Not sent (type ${message.type}): ${describe(error)}`);
    }
  }
}

interface Prepared {
  readonly args: readonly unknown[];
  readonly streamIds: readonly string[];
  readonly uploads: readonly { id: string; value: unknown }[];
}

function invocation(target: string, id: string | undefined, prepared: Prepared): InvocationMessage {
  const message: {
    type: typeof MessageType.Invocation;
    target: string;
    arguments: readonly unknown[];
    invocationId?: string;
    streamIds?: readonly string[];
  } = { type: MessageType.Invocation, target, arguments: prepared.args };
  if (id !== undefined) message.invocationId = id;
  if (prepared.streamIds.length > 0) message.streamIds = prepared.streamIds;
  return message;
}

function toCall(
  method: string | CallOptions,
  args: unknown[],
): Required<Pick<CallOptions, "method" | "args">> & CallOptions {
  if (typeof method === "string") {
    checkMethod(method);
    return { method, args };
  }
  if (typeof method !== "object" || method === null) {
    throw new TypeError("The first argument must be a method name or a { method, args } object.");
  }
  checkMethod(method.method);
  if (args.length > 0) {
    throw new TypeError("With the options form, pass the arguments in `args`, not after it.");
  }
  if (method.timeout !== undefined && !(method.timeout > 0)) {
    throw new TypeError(`timeout must be a positive number of ms; got ${method.timeout}.`);
  }
  return { ...method, args: method.args ?? [] };
}

function checkMethod(method: unknown): asserts method is string {
  if (typeof method !== "string" || method.length === 0) {
    throw new TypeError("The method name must be a non-empty string.");
  }
}

/** Runs `onAbort` once when the call's signal aborts or its timeout passes; returns a cleanup. */
function watch(call: CallOptions, onAbort: (reason: unknown) => void): (() => void) | undefined {
  const { signal, timeout } = call;
  if (!signal && timeout === undefined) return undefined;
  let timer: Timer | undefined;
  const cleanup = () => {
    signal?.removeEventListener("abort", onSignal);
    clearTimeout(timer);
  };
  const fire = (reason: unknown) => {
    cleanup();
    onAbort(reason);
  };
  const onSignal = () => fire(signal!.reason);
  signal?.addEventListener("abort", onSignal, { once: true });
  if (timeout !== undefined) {
    timer = setTimeout(
      () =>
        fire(
          new DOMException(
            `The call '${call.method}' timed out after ${timeout} ms.`,
            "TimeoutError",
          ),
        ),
      timeout,
    );
  }
  return cleanup;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (!(ms > 0)) return Promise.resolve();
  // A timer fires at once when given more than it can hold: wait the longest it can instead.
  ms = Math.min(ms, MAX_DELAY);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

async function closeWithin(transport: Transport, ms: number): Promise<void> {
  let timer: Timer | undefined;
  await Promise.race([
    transport.close().catch(noop),
    new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
  ]);
  clearTimeout(timer);
}

function positive(value: number, name: string): number {
  if (typeof value !== "number" || !(value > 0)) {
    throw new TypeError(`${name} must be a positive number of ms; got ${value}.`);
  }
  return value;
}

function invalidState(message: string): DOMException {
  return new DOMException(message, "InvalidStateError");
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
