// One client connection on the hub's side: handshake, receive loop, keep-alive, client
// timeout, Close, and the fault knobs of TestHubClient, over any transport (a ServerTransport).
import { ProtocolError } from "../errors.ts";
import type { HubMessageDecoder, HubProtocol } from "../protocol/hub_protocol.ts";
import { type HubMessage, MessageType } from "../protocol/messages.ts";
import { RECORD_SEPARATOR, RECORD_SEPARATOR_CODE } from "../protocol/_record_separator.ts";
import { ClientResults } from "./_client_results.ts";
import {
  closedWithError,
  HANDSHAKE_CANCELED,
  handshakeFailed,
  unsupportedProtocol,
  unsupportedTransferFormat,
  unsupportedVersion,
} from "./_error_texts.ts";
import { Invocations } from "./_invocations.ts";
import { isNumbered, MessageBuffer, SEQUENCE_AHEAD } from "./_message_buffer.ts";
import type { Protocols } from "./_protocols.ts";
import type { ServerTransport } from "./_server_transport.ts";
import type { HandshakeFault } from "./faults.ts";
import type { HubCallContext, HubMethodDefinition } from "./hub_method.ts";
import type { TestHub } from "./test_hub.ts";
import type {
  CloseOptions,
  RefuseReattachOptions,
  TestHubClient,
  TestHubDisconnect,
  TestHubRequest,
  TestHubTransport,
} from "./test_hub_client.ts";

const MAX_RECEIVED = 10_000;
const MAX_REQUESTS = 100;
const HIGH_WATER = 1 << 20;
const HANDSHAKE_ACCEPTED = "{}" + RECORD_SEPARATOR;
// ASP.NET Core's MessageBuffer.AckRate.
const ACK_RATE_MS = 1_000;
const utf8 = new TextEncoder();
const noop = () => {};
type Timer = ReturnType<typeof setTimeout>;

/** Settings that come from the hub's options. */
export interface ConnectionSettings {
  readonly keepAliveInterval: number;
  readonly clientTimeout: number;
  readonly handshakeTimeout: number;
  readonly invokeClientTimeout: number;
  readonly detailedErrors: boolean;
  readonly maxMessageSize: number;
  /**
   * How long a stateful reconnect connection whose WebSocket dropped waits for the client to
   * reattach (ASP.NET Core's `DisconnectTimeout`).
   */
  readonly disconnectTimeout: number;
  /** The stateful reconnect buffer limit in bytes; `undefined` when the hub does not allow it. */
  readonly statefulBufferSize: number | undefined;
  /** The hub protocols a handshake may name. */
  readonly protocols: Protocols;
}

/** What a connection needs from its hub. */
export interface ConnectionHost {
  readonly hub: TestHub;
  readonly settings: ConnectionSettings;
  /** Whether pings are on for every connection (`hub.faults.pings`). */
  pingsEnabled(): boolean;
  method(target: string): HubMethodDefinition | undefined;
  nextInvocationId(): string;
  connected(connection: ServerConnection): void;
  disconnected(connection: ServerConnection): void;
  join(connection: ServerConnection, group: string): void;
  leave(connection: ServerConnection, group: string): void;
  groupsOf(connection: ServerConnection): readonly string[];
}

/** Who connected, from the transport's connect request. */
export interface ConnectionRequest {
  readonly id: string;
  /** The `id=` the client connected with; none after skipNegotiation. */
  readonly token: string | undefined;
  readonly headers: Headers;
  readonly query: URLSearchParams;
  readonly accessToken: string | undefined;
  readonly handshakeFault: HandshakeFault | undefined;
  /** Requests made before the transport's: negotiate, and POSTs that came before it. */
  readonly requests: readonly TestHubRequest[];
  /** Data POSTed before the transport connected, which ASP.NET Core keeps for the hub. */
  readonly early: readonly (string | Uint8Array)[];
  /**
   * Whether negotiate agreed to stateful reconnect and the transport is WebSockets: the
   * handshake then turns it on with version 2 or more.
   */
  readonly statefulReconnect?: boolean;
}

/** A numbered message waiting for the client's acks (stateful reconnect backpressure). */
interface PendingSend {
  readonly frame: string | Uint8Array;
  readonly resolve?: () => void;
  readonly reject?: (error: Error) => void;
}

interface ReattachWaiter {
  readonly count: number;
  resolve(): void;
  reject(error: Error): void;
}

interface Waiter {
  readonly match: (message: HubMessage) => boolean;
  resolve(message: HubMessage): void;
  reject(error: Error): void;
}

// Connection phases: waiting for the handshake request; frames held (handshake delayed or
// ignored); open; closing (frames dropped); closed.
const Phase = { Handshake: 0, HandshakeHeld: 1, Open: 2, Closing: 3, Closed: 4 } as const;
type Phase = typeof Phase[keyof typeof Phase];

/** The hub's side of one connection. */
export class ServerConnection implements TestHubClient {
  readonly id: string;
  readonly token: string | undefined;
  readonly headers: Headers;
  readonly query: URLSearchParams;
  readonly accessToken: string | undefined;
  pings = true;
  dropAcks = false;

  #transport: ServerTransport;
  readonly #requests: TestHubRequest[];
  readonly #host: ConnectionHost;
  readonly #settings: ConnectionSettings;
  // Set by the handshake.
  #protocol: HubProtocol | undefined;
  #protocolVersion = 0;
  #decoder: HubMessageDecoder | undefined;
  readonly #invocations: Invocations;
  readonly #results = new ClientResults();
  readonly #handshakeFault: HandshakeFault | undefined;
  readonly #closed = Promise.withResolvers<TestHubDisconnect>();
  // Stateful reconnect: asked for at negotiate; the buffer exists once the handshake turned it on.
  readonly #statefulRequested: boolean;
  #buffer: MessageBuffer | undefined;
  // Between a dropped WebSocket and the reattached one's open (attaching: a new one is opening).
  #detached = false;
  #attaching = false;
  // Resolves when the current transport has ended (or was replaced).
  #transportGone = Promise.withResolvers<void>();
  #pending: PendingSend[] = [];
  #drainWaiters: (() => void)[] = [];
  #reattaches = 0;
  #reattachWaiters: ReattachWaiter[] = [];
  #refusals: { times: number; status: number } | undefined;

  #phase: Phase = Phase.Handshake;
  // The handshake request so far: text while every frame was text, else bytes.
  #handshakeText = "";
  #handshakeBytes: Uint8Array | undefined;
  #held: (string | Uint8Array)[] = [];
  #received: HubMessage[] = [];
  #waiters: Waiter[] = [];
  #disconnect: TestHubDisconnect | undefined;
  #lastSend = 0;
  #lastReceive = 0;
  #clientTimeoutActive = false;
  #frozen = false;
  #handshakeTimer: Timer | undefined;
  #delayTimer: Timer | undefined;
  #keepAliveTimer: Timer | undefined;
  #clientTimeoutTimer: Timer | undefined;
  #ackTimer: Timer | undefined;
  #reattachTimer: Timer | undefined;

  constructor(transport: ServerTransport, request: ConnectionRequest, host: ConnectionHost) {
    this.id = request.id;
    this.token = request.token;
    this.headers = request.headers;
    this.query = request.query;
    this.accessToken = request.accessToken;
    this.#handshakeFault = request.handshakeFault;
    this.#requests = [...request.requests];
    this.#transport = transport;
    this.#statefulRequested = request.statefulReconnect === true &&
      host.settings.statefulBufferSize !== undefined;
    this.#host = host;
    this.#settings = host.settings;
    this.#invocations = new Invocations({
      method: (target) => host.method(target),
      detailedErrors: host.settings.detailedErrors,
      send: (message) => this.#sendQuietly(message),
      backpressure: () => this.#backpressure(),
      context: (invocationId, signal) => this.#context(invocationId, signal),
    });
    this.#closed.promise.catch(noop);
    const early = request.early;
    this.#start(transport, () => {
      this.#handshakeTimer = setTimeout(this.#handshakeTimedOut, this.#settings.handshakeTimeout);
      for (const frame of early) this.#onFrame(frame);
    });
  }

  /** Starts a transport's events; those of a transport that was replaced are ignored. */
  #start(transport: ServerTransport, opened: () => void): void {
    const gone = Promise.withResolvers<void>();
    this.#transportGone = gone;
    transport.start({
      opened: () => {
        if (transport === this.#transport && this.#phase !== Phase.Closed) opened();
      },
      frame: (data) => {
        if (transport === this.#transport) this.#onFrame(data);
      },
      closed: (timedOut, lost) => {
        gone.resolve();
        if (transport === this.#transport) this.#transportClosed(timedOut, lost);
      },
    });
  }

  // ---- TestHubClient ----------------------------------------------------------------------

  get groups(): readonly string[] {
    return this.#host.groupsOf(this);
  }

  get received(): readonly HubMessage[] {
    return this.#received;
  }

  get closed(): Promise<TestHubDisconnect> {
    return this.#closed.promise;
  }

  get transport(): TestHubTransport {
    return this.#transport.name;
  }

  get requests(): readonly TestHubRequest[] {
    return this.#requests;
  }

  get protocol(): string {
    return this.#protocol?.name ?? "";
  }

  get protocolVersion(): number {
    return this.#protocolVersion;
  }

  /** Whether the handshake completed and the connection has not ended. */
  get isOpen(): boolean {
    return this.#phase === Phase.Open;
  }

  get statefulReconnect(): boolean {
    return this.#buffer !== undefined;
  }

  get attached(): boolean {
    return this.#phase === Phase.Open && !this.#detached;
  }

  get reattaches(): number {
    return this.#reattaches;
  }

  /**
   * Whether a new WebSocket with this connection's token takes the connection over: stateful
   * reconnect is on and the connection has not ended (ASP.NET Core's `ClientReconnectExpected`).
   */
  get canReattach(): boolean {
    return this.#buffer !== undefined && this.#phase === Phase.Open &&
      this.#disconnect === undefined;
  }

  send(method: string, ...args: unknown[]): Promise<void> {
    return this.sendMessage({ type: MessageType.Invocation, target: method, arguments: args });
  }

  invoke<T = unknown>(method: string, ...args: unknown[]): Promise<T> {
    return this.invokeWith(method, args, this.#settings.invokeClientTimeout, undefined) as Promise<
      T
    >;
  }

  /** `invoke` with an explicit timeout and signal. */
  invokeWith(
    method: string,
    args: readonly unknown[],
    timeout: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    if (this.#phase !== Phase.Open) return Promise.reject(this.#notOpen());
    const id = this.#host.nextInvocationId();
    const answer = this.#results.expect(id, method, timeout, signal);
    try {
      // Waiting for acks fails only when the connection ends, which fails the answer too.
      this.#send({
        type: MessageType.Invocation,
        invocationId: id,
        target: method,
        arguments: args,
      })?.catch(noop);
    } catch (error) {
      this.#results.fail(id, error);
    }
    return answer;
  }

  sendMessage(message: HubMessage): Promise<void> {
    try {
      return this.#send(message) ?? Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  writeRaw(data: string | Uint8Array): Promise<void> {
    try {
      this.#write(data);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  waitForMessage(match: number | ((message: HubMessage) => boolean)): Promise<HubMessage> {
    const predicate = typeof match === "number"
      ? (message: HubMessage) => message.type === match
      : match;
    const found = this.#received.find(predicate);
    if (found) return Promise.resolve(found);
    if (this.#phase === Phase.Closed) return Promise.reject(this.#notOpen());
    const { promise, resolve, reject } = Promise.withResolvers<HubMessage>();
    this.#waiters.push({ match: predicate, resolve, reject });
    return promise;
  }

  async close(options: CloseOptions = {}): Promise<void> {
    if (this.#phase === Phase.Open) {
      this.#sendQuietly({
        type: MessageType.Close,
        ...(options.error !== undefined ? { error: options.error } : {}),
        ...(options.allowReconnect === true ? { allowReconnect: true } : {}),
      });
    }
    this.#end({ reason: "server-close", ...(options.error ? { error: options.error } : {}) });
    await this.#closed.promise;
  }

  async endTransport(): Promise<void> {
    this.#end({ reason: "server-close" });
    await this.#closed.promise;
  }

  async drop(): Promise<void> {
    if (this.#phase !== Phase.Closed) {
      this.#disconnect ??= { reason: "dropped" };
      this.#stopTimers();
      if (this.#detached) this.#finishDetached();
      else await this.#transport.drop();
    }
    await this.#closed.promise;
  }

  async dropTransport(): Promise<void> {
    if (!this.#buffer) return await this.drop();
    if (this.#phase === Phase.Closed || this.#detached) return;
    const gone = this.#transportGone.promise;
    await this.#transport.drop();
    await gone;
  }

  waitForReattach(count?: number): Promise<void> {
    if (count === undefined ? this.attached : this.#reattaches >= count) return Promise.resolve();
    if (this.#phase === Phase.Closed) return Promise.reject(this.#notOpen());
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#reattachWaiters.push({ count: count ?? this.#reattaches + 1, resolve, reject });
    return promise;
  }

  refuseReattach(options: RefuseReattachOptions = {}): void {
    const times = options.times ?? 1;
    const status = options.status ?? 404;
    if (!Number.isInteger(times) || times < 0) {
      throw new RangeError("refuseReattach: times must be an integer of 0 or more.");
    }
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new RangeError("refuseReattach: status must be an HTTP error status (400-599).");
    }
    this.#refusals = times > 0 ? { times, status } : undefined;
  }

  freeze(): Promise<void> {
    if (this.#phase !== Phase.Closed && !this.#frozen) {
      this.#frozen = true;
      // Silence from a hung peer is the point of the fault, not a client timeout; and nothing
      // sent from here could reach it.
      this.#stopTimers();
      this.#transport.freeze();
    }
    return Promise.resolve();
  }

  // ---- hub side ---------------------------------------------------------------------------

  /** Closes for `TestHub.close()`: a Close message when open, then the transport. */
  shutdown(): void {
    if (this.#phase === Phase.Closed) return;
    if (this.#phase === Phase.Open) this.#sendQuietly({ type: MessageType.Close });
    this.#end({ reason: "server-close" }, true);
  }

  /** Cuts the transport, for `TestHub.close()` when a client does not finish closing. */
  async abort(): Promise<void> {
    if (this.#phase !== Phase.Closed) await this.#transport.drop();
  }

  /**
   * The status to refuse a reattach request with, if `refuseReattach` asked for one (used up).
   * A 404 means the connection is gone: it ends here, as a real server's would have.
   */
  takeReattachRefusal(): number | undefined {
    const refusals = this.#refusals;
    if (!refusals) return undefined;
    if (--refusals.times === 0) this.#refusals = undefined;
    if (refusals.status === 404) this.#end({ reason: "server-close" });
    return refusals.status;
  }

  /**
   * Takes the connection over with a new WebSocket (stateful reconnect): once it is open, the
   * hub sends a Sequence and replays what the client has not acked. A transport still attached
   * (a half-open one the client gave up on) is cut, as ASP.NET Core cancels the connection's
   * previous request.
   */
  reattach(transport: ServerTransport): void {
    const previous = this.#transport;
    const previousGone = this.#transportGone;
    this.#transport = transport;
    clearTimeout(this.#reattachTimer);
    this.#reattachTimer = undefined;
    if (!this.#detached) {
      this.#detached = true;
      void previous.drop();
    }
    previousGone.resolve();
    this.#attaching = true;
    this.#start(transport, () => this.#resume());
  }

  /** Notes a request made for this connection (the last 100 are kept). */
  record(request: TestHubRequest): void {
    this.#requests.push(request);
    if (this.#requests.length > MAX_REQUESTS) this.#requests.shift();
  }

  /** Resolves when the connection ended and every method it started has finished. */
  async settled(): Promise<void> {
    await this.#closed.promise;
    await this.#invocations.settled();
  }

  // ---- receive path -----------------------------------------------------------------------

  #onFrame(frame: string | Uint8Array): void {
    this.#lastReceive = performance.now();
    switch (this.#phase) {
      case Phase.Handshake:
        return this.#onHandshakeFrame(frame);
      case Phase.HandshakeHeld:
        this.#held.push(frame);
        return;
      case Phase.Open:
        return this.#onHubFrame(frame);
    }
  }

  #onHandshakeFrame(frame: string | Uint8Array): void {
    const request = this.#readHandshake(frame);
    if (request === undefined) return;
    clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    const { text, rest } = request;
    const checked = checkHandshake(text, this.#settings);
    const refusal = typeof checked === "string"
      ? checked
      : checked.protocol.transferFormat === "Binary" && !this.#transport.binary
      ? unsupportedTransferFormat(checked.protocol.name, checked.protocol.transferFormat)
      : undefined;
    const fault = this.#handshakeFault;
    const answer = () => {
      this.#delayTimer = undefined;
      if (this.#phase === Phase.Closed) return;
      if (fault?.ignore) return void (this.#phase = Phase.HandshakeHeld);
      if (fault?.raw !== undefined) {
        this.#phase = Phase.HandshakeHeld;
        this.#writeQuietly(fault.raw);
        return;
      }
      const error = fault?.error ?? refusal;
      if (error !== undefined) return this.#refuse(error);
      if (typeof checked !== "string") this.#accept(checked.protocol, checked.version, rest);
    };
    if (fault?.delay !== undefined && fault.delay > 0) {
      this.#phase = Phase.HandshakeHeld;
      this.#delayTimer = setTimeout(answer, fault.delay);
    } else answer();
  }

  /**
   * Buffers frames until the handshake request's record separator: returns its text and what
   * followed it in the same frame (already hub messages, text or bytes as they came).
   */
  #readHandshake(
    frame: string | Uint8Array,
  ): { text: string; rest: string | Uint8Array | undefined } | undefined {
    if (typeof frame === "string" && this.#handshakeBytes === undefined) {
      const text = this.#handshakeText + frame;
      const end = text.indexOf(RECORD_SEPARATOR);
      if (end === -1) {
        this.#handshakeText = text;
        this.#checkHandshakeSize(text.length);
        return undefined;
      }
      this.#handshakeText = "";
      return {
        text: text.slice(0, end),
        rest: end + 1 < text.length ? text.slice(end + 1) : undefined,
      };
    }
    // Bytes, or text after bytes: the request so far and this frame as one buffer (the request
    // is small, and bounded by the size check).
    const bytes = concat(
      this.#handshakeBytes ?? utf8.encode(this.#handshakeText),
      typeof frame === "string" ? utf8.encode(frame) : frame,
    );
    this.#handshakeText = "";
    const end = bytes.indexOf(RECORD_SEPARATOR_CODE);
    if (end === -1) {
      this.#handshakeBytes = bytes;
      this.#checkHandshakeSize(bytes.length);
      return undefined;
    }
    this.#handshakeBytes = undefined;
    return {
      text: new TextDecoder().decode(bytes.subarray(0, end)),
      rest: end + 1 < bytes.length ? bytes.subarray(end + 1) : undefined,
    };
  }

  #checkHandshakeSize(size: number): void {
    if (size > this.#settings.maxMessageSize) {
      this.#refuse(handshakeFailed(new Error("The handshake request is too large."), false));
    }
  }

  #refuse(error: string): void {
    this.#writeQuietly(JSON.stringify({ error }) + RECORD_SEPARATOR);
    this.#end({ reason: "server-close", error });
  }

  #accept(protocol: HubProtocol, version: number, rest: string | Uint8Array | undefined): void {
    this.#protocol = protocol;
    this.#protocolVersion = version;
    this.#decoder = protocol.createDecoder({
      maxMessageSize: this.#settings.maxMessageSize,
      logger: { log: noop },
    });
    // Still JSON, but for a binary protocol in the connection's binary frames, as ASP.NET Core
    // writes it once it has set the transport's active format.
    this.#writeQuietly(
      protocol.transferFormat === "Binary" ? utf8.encode(HANDSHAKE_ACCEPTED) : HANDSHAKE_ACCEPTED,
    );
    if (this.#phase === Phase.Closed) return;
    this.#phase = Phase.Open;
    this.#lastReceive = performance.now();
    // ASP.NET Core turns stateful reconnect off below version 2 of the hub protocol.
    if (this.#statefulRequested && version >= 2) {
      this.#buffer = new MessageBuffer(this.#settings.statefulBufferSize!);
      this.#ackTimer = setTimeout(this.#ackTick, ACK_RATE_MS);
    }
    // As on ASP.NET Core, Long Polling gets neither pings nor the client timeout: its polls keep
    // it alive, and the transport ends a client that stopped polling.
    if (!this.#transport.inherentKeepAlive) {
      this.#keepAliveTimer = setTimeout(this.#keepAliveTick, this.#settings.keepAliveInterval);
    }
    this.#host.connected(this);
    const held = this.#held;
    this.#held = [];
    if (rest !== undefined) this.#onHubFrame(rest);
    for (const frame of held) {
      if (this.#phase === Phase.Open) this.#onHubFrame(frame);
    }
  }

  #onHubFrame(frame: string | Uint8Array): void {
    let messages: HubMessage[];
    try {
      messages = this.#decoder!.decode(frame);
    } catch (error) {
      const text = closedWithError(error, this.#settings.detailedErrors);
      this.#sendQuietly({ type: MessageType.Close, error: text });
      this.#end({
        reason: "protocol-error",
        error: error instanceof ProtocolError ? error.message : String(error),
      });
      return;
    }
    const buffer = this.#buffer;
    for (const message of messages) {
      if (this.#phase !== Phase.Open) return;
      if (buffer) {
        let process: boolean;
        try {
          process = buffer.shouldProcess(message);
        } catch (error) {
          return this.#sequenceAhead(error);
        }
        if (!process) continue; // a duplicate, replayed by the client after a reattach
        if (message.type === MessageType.Ack) {
          buffer.ack(message.sequenceId);
          this.#drain();
        }
      }
      this.#record(message);
      this.#dispatch(message);
    }
  }

  /**
   * The client's Sequence is ahead of what the hub received: fatal. ASP.NET Core's dispatch
   * loop ends with the InvalidOperationException: a Close with its error text and
   * `allowReconnect` (the connection was not aborted), then the end.
   */
  #sequenceAhead(error: unknown): void {
    const cause = error instanceof Error ? error : new Error(String(error));
    cause.name = "InvalidOperationException";
    this.#sendQuietly({
      type: MessageType.Close,
      error: closedWithError(cause, this.#settings.detailedErrors),
      allowReconnect: true,
    });
    this.#end({ reason: "protocol-error", error: SEQUENCE_AHEAD });
  }

  #record(message: HubMessage): void {
    this.#received.push(message);
    if (this.#received.length > MAX_RECEIVED + 1_000) this.#received.splice(0, 1_000);
    if (this.#waiters.length === 0) return;
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiting) {
      if (waiter.match(message)) waiter.resolve(message);
      else this.#waiters.push(waiter);
    }
  }

  #dispatch(message: HubMessage): void {
    switch (message.type) {
      case MessageType.Invocation:
      case MessageType.StreamInvocation:
        return this.#invocations.start(message);
      case MessageType.StreamItem:
        this.#invocations.item(message);
        return;
      case MessageType.Completion:
        if (!this.#invocations.complete(message)) this.#results.answer(message);
        return;
      case MessageType.CancelInvocation:
        return this.#invocations.cancel(message.invocationId);
      case MessageType.Ping:
        // As on ASP.NET Core, the client timeout starts with the client's first ping.
        if (!this.#clientTimeoutActive && !this.#transport.inherentKeepAlive) {
          this.#clientTimeoutActive = true;
          this.#clientTimeoutTimer = setTimeout(
            this.#clientTimeoutTick,
            this.#settings.clientTimeout,
          );
        }
        return;
      case MessageType.Close:
        this.#end({
          reason: "client-close",
          ...(message.error ? { error: message.error } : {}),
        });
        return;
    }
  }

  // ---- send path --------------------------------------------------------------------------

  /**
   * Sends a message; with stateful reconnect a numbered one is buffered until acked, and may
   * have to wait for acks first: the promise then resolves once it went out.
   */
  #send(message: HubMessage): Promise<void> | undefined {
    if (this.#phase !== Phase.Open) throw this.#notOpen();
    let frame: string | Uint8Array;
    try {
      frame = this.#protocol!.encode(message);
    } catch (error) {
      this.#failedEncoding(error);
      throw error;
    }
    if (this.#buffer && isNumbered(message.type)) return this.#sendNumbered(frame, true);
    this.#write(frame);
    return undefined;
  }

  #sendQuietly(message: HubMessage): void {
    if (this.#phase !== Phase.Open) return;
    let frame: string | Uint8Array;
    try {
      frame = this.#protocol!.encode(message);
    } catch (error) {
      return this.#failedEncoding(error);
    }
    if (this.#buffer && isNumbered(message.type)) void this.#sendNumbered(frame, false);
    else this.#writeQuietly(frame);
  }

  /**
   * A numbered message of a stateful connection: as ASP.NET Core's MessageBuffer, it waits while
   * the unacked bytes are past the limit (behind any message already waiting), then is numbered,
   * kept, and written unless the transport is detached (it goes out with the replay then).
   */
  #sendNumbered(frame: string | Uint8Array, promised: boolean): Promise<void> | undefined {
    if (this.#pending.length === 0 && this.#buffer!.bufferedBytes <= this.#buffer!.limit) {
      this.#push(frame);
      return undefined;
    }
    if (!promised) {
      this.#pending.push({ frame });
      return undefined;
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#pending.push({ frame, resolve, reject });
    return promise;
  }

  #push(frame: string | Uint8Array): void {
    this.#buffer!.add(frame);
    if (!this.#detached) this.#writeQuietly(frame);
  }

  /**
   * After an Ack: the send that waited goes once the unacked bytes are below the limit, each
   * later one once they are not past it (ASP.NET Core's writes, one at a time).
   */
  #drain(): void {
    const buffer = this.#buffer!;
    let waited = true;
    while (this.#pending.length > 0) {
      if (waited ? buffer.bufferedBytes >= buffer.limit : buffer.bufferedBytes > buffer.limit) {
        return;
      }
      const next = this.#pending.shift()!;
      this.#push(next.frame);
      next.resolve?.();
      waited = false;
    }
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * A message could not be encoded (a value the protocol cannot write, e.g. a `bigint`). As on
   * ASP.NET Core, whose failed write aborts the connection: a Close saying so, with
   * `allowReconnect`, then the end.
   */
  #failedEncoding(error: unknown): void {
    if (this.#phase !== Phase.Open) return;
    try {
      this.#writeQuietly(this.#protocol!.encode({
        type: MessageType.Close,
        error: closedWithError(error, this.#settings.detailedErrors),
        allowReconnect: true,
      }));
    } catch {
      // nothing more to say
    }
    this.#end({
      reason: "server-close",
      error: error instanceof Error ? error.message : String(error),
    });
  }

  #write(frame: string | Uint8Array): void {
    if (!this.#transport.writable) throw this.#notOpen();
    this.#transport.write(frame);
    this.#lastSend = performance.now();
  }

  #writeQuietly(frame: string | Uint8Array): void {
    try {
      this.#write(frame);
    } catch {
      // The transport is closing; the message is lost, as it would be on a real server.
    }
  }

  #backpressure(): Promise<void> | undefined {
    if (this.#pending.length > 0) {
      return new Promise<void>((resolve) => this.#drainWaiters.push(resolve))
        .then(() => this.#backpressure());
    }
    if (this.#transport.bufferedAmount <= HIGH_WATER) return undefined;
    return new Promise((resolve) => {
      const check = () => {
        if (this.#transport.bufferedAmount <= HIGH_WATER / 2 || this.#phase !== Phase.Open) {
          resolve();
        } else setTimeout(check, 2);
      };
      setTimeout(check, 2);
    });
  }

  #notOpen(): Error {
    return new Error(
      this.#phase === Phase.Closed
        ? `The connection '${this.id}' has ended.`
        : `The connection '${this.id}' has not completed its handshake.`,
    );
  }

  #context(invocationId: string | undefined, signal: AbortSignal): HubCallContext {
    const host = this.#host;
    return {
      connectionId: this.id,
      invocationId,
      headers: this.headers,
      query: this.query,
      accessToken: this.accessToken,
      signal,
      client: this,
      hub: host.hub,
      join: (group) => host.join(this, group),
      leave: (group) => host.leave(this, group),
    };
  }

  // ---- timers -----------------------------------------------------------------------------

  #handshakeTimedOut = (): void => {
    this.#handshakeTimer = undefined;
    if (this.#phase === Phase.Handshake && !this.#frozen) this.#refuse(HANDSHAKE_CANCELED);
  };

  #keepAliveTick = (): void => {
    if (this.#phase !== Phase.Open || this.#frozen) return;
    const interval = this.#settings.keepAliveInterval;
    const idle = performance.now() - this.#lastSend;
    if (idle >= interval - 1) {
      if (this.pings && this.#host.pingsEnabled()) this.#sendQuietly({ type: MessageType.Ping });
      this.#keepAliveTimer = setTimeout(this.#keepAliveTick, interval);
    } else this.#keepAliveTimer = setTimeout(this.#keepAliveTick, interval - idle);
  };

  #clientTimeoutTick = (): void => {
    if (this.#phase !== Phase.Open || this.#frozen) return;
    const timeout = this.#settings.clientTimeout;
    const silent = performance.now() - this.#lastReceive;
    if (silent >= timeout - 1) {
      this.#clientTimeoutTimer = undefined;
      this.#sendQuietly({ type: MessageType.Close });
      this.#end({ reason: "client-timeout" });
    } else this.#clientTimeoutTimer = setTimeout(this.#clientTimeoutTick, timeout - silent);
  };

  /** ASP.NET Core's ack timer: every second, an Ack when something new arrived. */
  #ackTick = (): void => {
    this.#ackTimer = undefined;
    if (this.#phase !== Phase.Open || this.#frozen) return;
    if (!this.dropAcks) {
      const sequenceId = this.#buffer!.takeAck();
      // Lost when the transport is detached, and not sent again: as on ASP.NET Core.
      if (sequenceId !== undefined) this.#sendQuietly({ type: MessageType.Ack, sequenceId });
    }
    this.#ackTimer = setTimeout(this.#ackTick, ACK_RATE_MS);
  };

  #reattachTimedOut = (): void => {
    this.#reattachTimer = undefined;
    if (this.#phase === Phase.Closed || !this.#detached) return;
    this.#disconnect ??= { reason: "client-timeout" };
    this.#finishDetached();
  };

  #stopTimers(): void {
    clearTimeout(this.#handshakeTimer);
    clearTimeout(this.#delayTimer);
    clearTimeout(this.#keepAliveTimer);
    clearTimeout(this.#clientTimeoutTimer);
    clearTimeout(this.#ackTimer);
    clearTimeout(this.#reattachTimer);
    this.#handshakeTimer =
      this.#delayTimer =
      this.#keepAliveTimer =
      this.#clientTimeoutTimer =
      this.#ackTimer =
      this.#reattachTimer =
        undefined;
  }

  // ---- stateful reconnect -------------------------------------------------------------------

  /**
   * The transport ended. A stateful connection whose WebSocket was lost (no close frame, no
   * Close message) waits for the client to reattach, for the disconnect timeout.
   */
  #transportClosed(timedOut?: boolean, lost?: boolean): void {
    this.#attaching = false;
    if (
      lost && this.#buffer && this.#phase === Phase.Open && this.#disconnect === undefined
    ) {
      this.#detached = true;
      clearTimeout(this.#reattachTimer);
      this.#reattachTimer = setTimeout(this.#reattachTimedOut, this.#settings.disconnectTimeout);
      return;
    }
    this.#finish(timedOut);
  }

  /** The reattached WebSocket is open: Sequence, then the replay of what was not acked. */
  #resume(): void {
    const buffer = this.#buffer!;
    this.#attaching = false;
    this.#detached = false;
    this.#reattaches++;
    this.#sendQuietly({ type: MessageType.Sequence, sequenceId: buffer.sequenceId });
    for (const frame of buffer.frames()) this.#writeQuietly(frame);
    const waiters = this.#reattachWaiters;
    this.#reattachWaiters = [];
    for (const waiter of waiters) {
      if (waiter.count <= this.#reattaches) waiter.resolve();
      else this.#reattachWaiters.push(waiter);
    }
  }

  /** Ends a connection that has no transport (or only one still opening). */
  #finishDetached(): void {
    if (this.#attaching) void this.#transport.drop();
    this.#finish();
  }

  // ---- closing ----------------------------------------------------------------------------

  /** Records why, stops everything, and ends the transport (which then reports its end). */
  #end(disconnect: TestHubDisconnect, hubClosing = false): void {
    this.#disconnect ??= disconnect;
    if (this.#phase === Phase.Closed) return;
    this.#phase = Phase.Closing;
    this.#stopTimers();
    if (this.#detached) return this.#finishDetached();
    if (hubClosing) this.#transport.shutdown();
    else this.#transport.close();
    // A frozen peer never answers the close frame or polls again: cut it rather than wait.
    if (this.#frozen) void this.#transport.drop();
  }

  #finish(timedOut?: boolean): void {
    if (this.#phase === Phase.Closed) return;
    this.#phase = Phase.Closed;
    this.#stopTimers();
    const disconnect = this.#disconnect ??
      { reason: timedOut ? "client-timeout" : "transport-closed" };
    this.#disconnect = disconnect;
    const error = new Error(`The connection '${this.id}' has ended (${disconnect.reason}).`);
    this.#invocations.close();
    this.#results.failAll(error);
    for (const waiter of this.#waiters) waiter.reject(error);
    this.#waiters = [];
    for (const pending of this.#pending) pending.reject?.(error);
    this.#pending = [];
    for (const resolve of this.#drainWaiters) resolve();
    this.#drainWaiters = [];
    for (const waiter of this.#reattachWaiters) waiter.reject(error);
    this.#reattachWaiters = [];
    this.#host.disconnected(this);
    this.#closed.resolve(disconnect);
  }
}

/**
 * Validates a handshake request as ASP.NET Core does (the protocol by name, then its version):
 * the protocol to use, or the error text to refuse it with.
 */
function checkHandshake(
  text: string,
  settings: ConnectionSettings,
): { protocol: HubProtocol; version: number } | string {
  const detailed = settings.detailedErrors;
  let request: unknown;
  try {
    request = JSON.parse(text);
  } catch (error) {
    return handshakeFailed(error, detailed);
  }
  if (typeof request !== "object" || request === null || Array.isArray(request)) {
    return handshakeFailed(
      new Error("Unexpected JSON Token Type. Expected a JSON Object."),
      detailed,
    );
  }
  const { protocol, version } = request as { protocol?: unknown; version?: unknown };
  if (typeof protocol !== "string") {
    return handshakeFailed(new Error("Missing required property 'protocol'."), detailed);
  }
  if (typeof version !== "number" || !Number.isInteger(version)) {
    return handshakeFailed(new Error("Missing required property 'version'."), detailed);
  }
  const found = settings.protocols.get(protocol);
  if (!found) return unsupportedProtocol(protocol);
  if (version > found.maxVersion) return unsupportedVersion(protocol, version);
  return { protocol: found.protocol, version };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
