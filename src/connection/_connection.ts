// One server connection, from the handshake to the close: it owns the transport, the decoder,
// the outbox and liveness, and tells its owner only "message", "suspended", "resumed" and
// "closed (error, allowReconnect)". With stateful reconnect it outlives its transport: a drop
// suspends it, the same transport reattaches to the same server connection, and what the server
// did not acknowledge is sent again. That part lives in a StatefulLink (_stateful_link.ts,
// loaded only when the server agreed to it), which sits between encode and the outbox and
// between the decoder and dispatch.
import { within } from "../_within.ts";
import type { StatefulHost, StatefulLink } from "./_stateful_link.ts";
import {
  ConnectionClosedError,
  describe,
  HandshakeError,
  ServerCloseError,
  ServerTimeoutError,
  toError,
} from "../errors.ts";
import { type Logger, LogLevel } from "../logger.ts";
import { HandshakeReader, handshakeRequest } from "../protocol/_handshake.ts";
import type { HubMessageDecoder, HubProtocol } from "../protocol/hub_protocol.ts";
import { type HubMessage, MessageType } from "../protocol/messages.ts";
import type { Transport, TransportName, TransportReceiver } from "../transport/transport.ts";
import { Liveness, type LivenessHost, type LivenessTimers } from "./_liveness.ts";
import { Outbox } from "./_outbox.ts";
import { chained, rearmFromEvent } from "../_ticker.ts";

/** Why a connection ended. */
export interface ConnectionEnd {
  /** Unset for a clean end (a Close message without error, or the owner's own close). */
  readonly error: Error | undefined;
  /** Whether automatic reconnect may follow. */
  readonly allowReconnect: boolean;
}

/** What the owner of a connection hears from it. */
export interface ConnectionEvents {
  /** A hub message for the RPC layer (not Ping or Close, which the connection handles). */
  onMessage(message: HubMessage): void;
  /** The connection ended on its own (not through `close` or `stop`); called once. */
  onClose(end: ConnectionEnd): void;
  /** Stateful reconnect: the transport dropped and is reattaching; calls stay pending. */
  onSuspended?(error: Error): void;
  /** Stateful reconnect: reattached; what the server had not acknowledged was sent again. */
  onResumed?(): void;
}

/** The settings a connection runs with. */
export interface ConnectionSettings extends LivenessTimers {
  readonly protocol: HubProtocol;
  readonly logger: Logger;
  readonly logMessageContent: boolean;
  readonly maxMessageSize: number;
  /** The longest wait for a close (the Close message, then the transport), in ms. */
  readonly closeTimeout: number;
}

const noop = () => {};
const PING = { type: MessageType.Ping } as const;
const CLOSE = { type: MessageType.Close } as const;

const HANDSHAKE = 0;
const OPEN = 1;
const ENDED = 2;
/** Stateful reconnect: the transport dropped; reattaching. */
const SUSPENDED = 3;

/**
 * A connection over one transport. It is the transport's receiver from the start; after
 * {@linkcode Connection.handshake} it buffers what arrives until {@linkcode Connection.attach},
 * so that nothing (a message in the handshake's frame, or the end itself) is lost or seen by an
 * owner that is not ready for it.
 */
export class Connection implements TransportReceiver, LivenessHost, StatefulHost {
  readonly #settings: ConnectionSettings;
  #decoder: HubMessageDecoder;
  #transport: Transport | undefined;
  #outbox: Outbox | undefined;
  #phase = HANDSHAKE;
  #handshake: HandshakeReader | undefined;
  #handshakeWait: PromiseWithResolvers<void> | undefined;
  #events: ConnectionEvents | undefined;
  #early: HubMessage[] | undefined;
  #end: ConnectionEnd | undefined;
  #closed: Promise<void> | undefined;
  #liveness: Liveness | undefined;
  #timers: LivenessTimers;
  /** Stateful reconnect, when the server agreed to it. */
  #stateful: StatefulLink | undefined;
  /** The server's public id; `null` when negotiation was skipped. */
  connectionId: string | null = null;
  received = 0;

  constructor(settings: ConnectionSettings) {
    this.#settings = settings;
    this.#timers = settings;
    // Ready before the transport connects: an HTTP transport may deliver the handshake answer
    // before handshake() is called (its stream was already open).
    this.#handshake = new HandshakeReader(settings.maxMessageSize);
    this.#handshakeWait = Promise.withResolvers<void>();
    this.#handshakeWait.promise.catch(noop);
    this.#decoder = this.#createDecoder();
  }

  #createDecoder(): HubMessageDecoder {
    return this.#settings.protocol.createDecoder({
      maxMessageSize: this.#settings.maxMessageSize,
      logger: this.#settings.logger,
    });
  }

  /** Batches sent so far. */
  get sent(): number {
    return this.#outbox?.flushes ?? 0;
  }

  /** The transport's name, once connected. */
  get transport(): TransportName | undefined {
    return this.#transport?.name;
  }

  /** Resolves when the transport is closed (within the close bound), once an end began. */
  get closed(): Promise<void> {
    return this.#closed ?? Promise.resolve();
  }

  /**
   * Turns stateful reconnect on, before the handshake (messages in its frame are numbered too);
   * `enableStateful()` of _stateful_link.ts makes the link.
   */
  enableStateful(link: StatefulLink): void {
    this.#stateful = link;
  }

  /** Whether stateful reconnect is on. */
  get stateful(): boolean {
    return this.#stateful !== undefined;
  }

  /**
   * Runs the handshake on a connected transport. Rejects with a {@linkcode HandshakeError}, or
   * the signal's reason, after closing the transport.
   */
  async handshake(
    transport: Transport,
    timeout: number,
    signal: AbortSignal,
    version = this.#settings.protocol.version,
  ): Promise<void> {
    this.#transport = transport;
    this.#outbox = new Outbox(transport);
    // It may have ended already, from what the transport delivered before it was handed over.
    if (this.#phase === ENDED && this.#closed === undefined) this.#closed = this.#close(undefined);
    const wait = this.#handshakeWait!;
    const timer = setTimeout(
      () =>
        wait.reject(
          new HandshakeError(`The server did not answer the handshake within ${timeout} ms.`),
        ),
      timeout,
    );
    const onAbort = () => wait.reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      const request = handshakeRequest(this.#settings.protocol, version);
      const sending = transport.send([request], request.length);
      if (sending) await Promise.race([sending, wait.promise]);
      await wait.promise;
    } catch (error) {
      this.#handshake = undefined;
      this.#handshakeWait = undefined;
      this.#phase = ENDED;
      this.#outbox.close();
      await transport.close(this.#settings.closeTimeout);
      throw error;
    } finally {
      this.#handshakeWait = undefined;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Starts delivering to `events`: first what arrived since the handshake, then each message as
   * it comes; an end that already happened is reported after those messages.
   */
  attach(events: ConnectionEvents): void {
    this.#events = events;
    const early = this.#early;
    this.#early = undefined;
    const endedBefore = this.#end;
    if (early) {
      for (let i = 0; i < early.length; i++) {
        // A handler may have stopped the connection or detached the owner meanwhile.
        if (this.#events !== events || this.#end !== endedBefore) return;
        events.onMessage(early[i]);
      }
    }
    if (this.#events !== events) return;
    if (endedBefore !== undefined) events.onClose(endedBefore);
    else if (this.#phase === OPEN && !this.#transport!.features.inherentKeepAlive) {
      this.#liveness = new Liveness(this, this.#timers);
      // ASP.NET Core arms its client timeout at the first Ping it receives: without one now, a
      // client that keeps sending other messages would never be timed out once it vanished.
      this.ping();
    }
  }

  /** Stops delivering to the owner. */
  detach(): void {
    this.#events = undefined;
  }

  /**
   * Encodes and queues a message; all messages queued in one turn go out as one batch.
   *
   * @throws {ConnectionClosedError} When the connection is ending.
   * @throws {TypeError} When the message cannot be encoded (a BigInt, a cycle).
   */
  send(message: HubMessage): void {
    this.#push(this.#encode(message), message.type, undefined);
  }

  #encode(message: HubMessage): string | Uint8Array {
    if (this.#phase !== OPEN && this.#phase !== SUSPENDED) {
      throw new ConnectionClosedError("The connection is closing.", { cause: this.#end?.error });
    }
    let frame: string | Uint8Array;
    try {
      frame = this.#settings.protocol.encode(message);
    } catch (cause) {
      throw new TypeError(`Cannot encode the message: ${describe(cause)}`, { cause });
    }
    if (this.#settings.logMessageContent) {
      this.log(
        LogLevel.Trace,
        `Sending: ${content(frame)}`,
      );
    }
    return frame;
  }

  /** Queues a frame; stateful reconnect keeps numbered ones for a replay, or holds them. */
  #push(frame: string | Uint8Array, type: number, done: PromiseWithResolvers<void> | undefined) {
    if (this.#stateful?.send(frame, type, done)) return;
    // While suspended, pings and acks mean nothing.
    if (this.#phase === SUSPENDED) done?.resolve();
    else {
      this.#outbox!.push(frame);
      done?.resolve(this.#outbox!.written);
    }
  }

  /** {@linkcode Connection.send}, resolving when the message was handed to the transport. */
  write(message: HubMessage): Promise<void> {
    let frame: string | Uint8Array;
    try {
      frame = this.#encode(message);
    } catch (error) {
      return Promise.reject(error);
    }
    const done = Promise.withResolvers<void>();
    this.#push(frame, message.type, done);
    return done.promise;
  }

  /** Set while senders should wait: the transport is busy, or the replay buffer is full. */
  get backpressure(): Promise<void> | undefined {
    return this.#stateful?.backpressure ??
      (this.#phase === SUSPENDED ? undefined : this.#outbox?.backpressure);
  }

  /** Runs liveness with new timers from now on (the owner's settings changed). */
  retime(timers: LivenessTimers): void {
    this.#timers = timers;
    if (this.#liveness === undefined) return;
    this.#liveness.stop();
    this.#liveness = new Liveness(this, timers);
  }

  /** Sends a Ping (keep-alive). */
  ping(): void {
    if (this.#phase === OPEN) this.send(PING);
  }

  /** Liveness found the server silent. */
  timedOut(error: Error): void {
    this.log(LogLevel.Warning, error.message);
    if (this.#stateful !== undefined) this.#suspend(error, true);
    else this.#finish({ error, allowReconnect: true });
  }

  /**
   * The owner's stop: sends a Close message, then closes the transport. Settles within the
   * close bound, whether or not the peer reads or answers.
   */
  stop(): Promise<void> {
    if (this.#phase === SUSPENDED) {
      this.#finish({ error: undefined, allowReconnect: false }, undefined, false);
    } else if (this.#phase !== ENDED) {
      try {
        this.send(CLOSE);
        this.#outbox!.flush();
      } catch (error) {
        this.log(LogLevel.Debug, `Could not send the Close message: ${describe(error)}`);
      }
      const written = this.#outbox!.written;
      this.#finish({ error: undefined, allowReconnect: false }, written, false);
    }
    return this.closed;
  }

  // ---- receive path -----------------------------------------------------------------------

  onFrame(frame: string | Uint8Array): void {
    this.received++;
    // Keeps liveness's timer out of a chain Chrome throttles in hidden tabs (see _ticker.ts).
    if (chained) rearmFromEvent();
    if (this.#phase === ENDED) return;
    if (this.#settings.logMessageContent) {
      this.log(
        LogLevel.Trace,
        `Received: ${content(frame)}`,
      );
    }
    if (this.#phase === HANDSHAKE) {
      const rest = this.#readHandshake(frame);
      if (rest === undefined) return;
      frame = rest;
    }
    let messages: HubMessage[];
    try {
      messages = this.#decoder.decode(frame);
    } catch (error) {
      this.log(LogLevel.Error, `Closing the connection: ${describe(error)}`);
      this.#finish({ error: toError(error), allowReconnect: false });
      return;
    }
    const stateful = this.#stateful;
    for (let i = 0; i < messages.length && this.#phase === OPEN; i++) {
      const message = messages[i];
      if (stateful !== undefined && !stateful.receive(message)) continue;
      // Calls, results and stream items (types 1 to 5) go up; the rest is this layer's.
      if (message.type > MessageType.CancelInvocation) this.#control(message);
      else if (this.#events) this.#events.onMessage(message);
      else (this.#early ??= []).push(message);
    }
  }

  /** Ping, Close, and what the RPC layer has no use for. */
  #control(message: HubMessage): void {
    if (message.type !== MessageType.Close) {
      if (message.type !== MessageType.Ping) this.#events?.onMessage(message);
      return;
    }
    const error = message.error
      ? new ServerCloseError(message.error, message.allowReconnect === true)
      : undefined;
    this.log(
      LogLevel.Information,
      `Close message received from the server${error ? `: ${message.error}` : ""}.`,
    );
    this.#finish({ error, allowReconnect: message.allowReconnect === true });
  }

  /** Returns what follows the handshake response in the frame, or `undefined`. */
  #readHandshake(frame: string | Uint8Array): string | Uint8Array | undefined {
    const wait = this.#handshakeWait;
    let rest: string | Uint8Array | undefined;
    try {
      const result = this.#handshake!.feed(frame);
      if (result === undefined) return undefined;
      rest = result.rest;
    } catch (error) {
      wait?.reject(error);
      return undefined;
    }
    this.#handshake = undefined;
    this.#phase = OPEN;
    wait?.resolve();
    return rest;
  }

  onClose(error?: Error): void {
    if (this.#phase === SUSPENDED) return;
    if (this.#phase === HANDSHAKE) {
      this.#handshakeWait?.reject(
        new HandshakeError("The server closed the connection during the handshake.", {
          cause: error,
        }),
      );
      return;
    }
    if (error !== undefined && this.#stateful !== undefined && this.#phase === OPEN) {
      this.#suspend(error, false);
      return;
    }
    this.#finish(
      error === undefined ? { error, allowReconnect: false } : {
        error,
        allowReconnect: true,
      },
    );
  }

  // ---- stateful reconnect: the connection's side of the StatefulLink ---------------------

  /** The transport dropped (or went silent): keep the connection and reattach. */
  #suspend(error: Error, closeTransport: boolean): void {
    this.#phase = SUSPENDED;
    this.#liveness?.stop();
    this.#liveness = undefined;
    const transport = this.#transport!;
    const outbox = this.#outbox!;
    // Its onClose is ignored from here on (SUSPENDED); a silent one is closed within the bound.
    if (closeTransport) {
      void transport.close(this.#settings.closeTimeout).then(() => outbox.close());
    } else outbox.close();
    this.#stateful!.suspend(error);
  }

  get open(): boolean {
    return this.#phase === OPEN;
  }

  get ended(): boolean {
    return this.#phase === ENDED;
  }

  get written(): Promise<void> {
    return this.#outbox!.written;
  }

  push(frame: string | Uint8Array): void {
    this.#outbox!.push(frame);
  }

  pushMessage(message: HubMessage): void {
    this.#outbox!.push(this.#settings.protocol.encode(message));
  }

  end(end: ConnectionEnd): void {
    this.#finish(end);
  }

  suspended(error: Error): void {
    this.#events?.onSuspended?.(error);
  }

  reattached(transport: Transport): void {
    this.#transport = transport;
    this.#outbox = new Outbox(transport);
    // A message cut by the drop is sent again whole: nothing of it is kept.
    this.#decoder = this.#createDecoder();
    this.#phase = OPEN;
  }

  resumed(): void {
    if (!this.#transport!.features.inherentKeepAlive && this.#events) {
      this.#liveness = new Liveness(this, this.#timers);
    }
    this.#events?.onResumed?.();
  }

  /**
   * Ends the connection once: stops liveness, closes the transport (after `before`, all within
   * the close bound) and, when the end was not the owner's doing, tells the owner.
   */
  #finish(end: ConnectionEnd, before?: Promise<void>, report = true): void {
    if (this.#phase === ENDED) return;
    const suspended = this.#phase === SUSPENDED;
    this.#phase = ENDED;
    this.#end = end;
    this.#liveness?.stop();
    this.#liveness = undefined;
    this.#stateful?.end(end.error);
    if (suspended) {
      // The dropped transport is closed already.
      this.#closed = Promise.resolve();
      if (report && this.#events) this.#events.onClose(end);
      return;
    }
    // Before the transport is handed over (frames can come first), handshake() closes it.
    if (this.#transport) this.#closed = this.#close(before);
    if (report && this.#events) this.#events.onClose(end);
  }

  async #close(before: Promise<void> | undefined): Promise<void> {
    // A server that went silent will not confirm a close nor answer a send in flight: waiting
    // for it would only hold back the close and the reconnect by the whole close bound.
    const bound = this.#end?.error instanceof ServerTimeoutError ? 0 : this.#settings.closeTimeout;
    const began = performance.now();
    if (before) await within(before, bound);
    await this.#transport!.close(Math.max(0, bound - (performance.now() - began)));
    this.#outbox!.close();
  }

  log(level: LogLevel, message: string): void {
    this.#settings.logger.log(level, message);
  }
}

/** A frame as a trace line shows it: text as it is, bytes in hex as @microsoft/signalr does. */
function content(frame: string | Uint8Array): string {
  if (typeof frame === "string") return frame;
  let hex = "";
  for (let i = 0; i < frame.length; i++) {
    hex += (i === 0 ? "0x" : " 0x") + (frame[i] < 16 ? "0" : "") + frame[i].toString(16);
  }
  return `Binary data of length ${frame.length}. Content: '${hex}'`;
}
