// Stateful reconnect's part of one connection: numbered sends kept for a replay (or held while
// the replay buffer is full), the duplicate filter and the Acks on receive, and, after a drop,
// the reattach of the same transport to the same server connection. The connection keeps its
// phases, transport, outbox and decoder, and calls in here at the few points where stateful
// reconnect changes what happens. Only a connection whose server agreed to stateful reconnect
// loads this module (a dynamic import), so no other pays for it.
import { ConnectionClosedError, describe, toError, TransportClosedError } from "../errors.ts";
import { LogLevel } from "../logger.ts";
import { type HubMessage, MessageType } from "../protocol/messages.ts";
import type { Transport, TransportReceiver } from "../transport/transport.ts";
import type { ConnectionEnd } from "./_connection.ts";
import { isNumbered, SequenceState, type StatefulOptions } from "./_stateful.ts";

type Frame = string | Uint8Array;

const ACK_INTERVAL = 1_000;
/** The longest a reattach is tried before the connection ends (the server forgets it sooner). */
const REATTACH_WINDOW = 30_000;
const REATTACH_DELAYS = [0, 250, 500, 1_000, 2_000, 5_000];

/** What a {@linkcode StatefulLink} needs of its connection. */
export interface StatefulHost extends TransportReceiver {
  /** Frames can be sent now (not suspended, not ended). */
  readonly open: boolean;
  /** The connection has ended. */
  readonly ended: boolean;
  /** Resolves when what was pushed so far has been handed to the transport. */
  readonly written: Promise<void>;
  /** Queues an encoded frame on the live transport. */
  push(frame: Frame): void;
  /** Encodes and queues a message of this layer (Ack, Sequence), unnumbered and unlogged. */
  pushMessage(message: HubMessage): void;
  /** Ends the connection and tells its owner. */
  end(end: ConnectionEnd): void;
  /** The transport dropped: tells the owner (`onSuspended`). */
  suspended(error: Error): void;
  /** Makes `transport` the connection's transport again, ready to send and receive. */
  reattached(transport: Transport): void;
  /** The replay is queued: liveness again, and the owner is told (`onResumed`). */
  resumed(): void;
  log(level: LogLevel, message: string): void;
}

/** Turns stateful reconnect on for `connection`, before its handshake (its frame is numbered too). */
export function enableStateful(
  connection: StatefulHost & { enableStateful(link: StatefulLink): void },
  options: StatefulOptions,
): void {
  connection.enableStateful(new StatefulLink(connection, options));
}

/** Stateful reconnect on one connection, across its transports. */
export class StatefulLink {
  readonly #host: StatefulHost;
  readonly #options: StatefulOptions;
  readonly #sequence: SequenceState;
  /** Messages waiting for room in the replay buffer, in order. */
  #held: { frame: Frame; done?: PromiseWithResolvers<void> }[] | undefined;
  #room: PromiseWithResolvers<void> | undefined;
  /** After a reattach one message may pass a full buffer: see #resume. */
  #overdraft = false;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  #reattaching: AbortController | undefined;

  constructor(host: StatefulHost, options: StatefulOptions) {
    this.#host = host;
    this.#options = options;
    this.#sequence = new SequenceState(options.bufferSize);
  }

  /**
   * Takes the frame of a numbered message (`false` for any other): kept for a replay and
   * queued, or held while the replay buffer is full. `done` resolves when it counts as sent.
   */
  send(frame: Frame, type: number, done: PromiseWithResolvers<void> | undefined): boolean {
    if (!isNumbered(type)) return false;
    if (this.#held !== undefined || (this.#sequence.full && !this.#overdraft)) {
      (this.#held ??= []).push({ frame, done });
    } else this.#pass(frame, done);
    return true;
  }

  #pass(frame: Frame, done: PromiseWithResolvers<void> | undefined): void {
    this.#overdraft = false;
    this.#sequence.keep(frame);
    // While suspended the frame waits in the replay buffer, and counts as sent.
    if (!this.#host.open) return done?.resolve();
    this.#host.push(frame);
    // Written, or its transport dropped first: the replay sends it again.
    done?.resolve(this.#host.written.catch(() => {
      if (this.#host.ended) throw new ConnectionClosedError("The connection closed.");
    }));
  }

  /** Lets held messages go, in order, while the replay buffer has room. */
  #release(): void {
    const held = this.#held;
    while (held !== undefined && held.length > 0 && (!this.#sequence.full || this.#overdraft)) {
      const { frame, done } = held.shift()!;
      this.#pass(frame, done);
    }
    if (held !== undefined && held.length === 0) this.#held = undefined;
    if (this.#held === undefined && !this.#sequence.full) {
      this.#room?.resolve();
      this.#room = undefined;
    }
  }

  /** Set while the replay buffer is full or messages are held: senders should wait. */
  get backpressure(): Promise<void> | undefined {
    if (this.#held !== undefined || this.#sequence.full) {
      return (this.#room ??= Promise.withResolvers<void>()).promise;
    }
    return undefined;
  }

  /** Receiving: `false` when the message stops here (a Sequence, an Ack, a duplicate). */
  receive(message: HubMessage): boolean {
    const sequence = this.#sequence;
    if (message.type === MessageType.Sequence) {
      try {
        sequence.sequence(message.sequenceId);
      } catch (error) {
        this.#host.log(LogLevel.Error, `Closing the connection: ${describe(error)}`);
        this.#host.end({ error: toError(error), allowReconnect: true });
        return false;
      }
      // An Ack lost in the cut is never repeated by the server: repeat ours, so that a server
      // waiting for room in its own buffer is not left waiting.
      this.#sendAck(true);
      return false;
    }
    // After a reattach, nothing counts before the server's Sequence.
    if (sequence.waitingForSequence) return false;
    if (isNumbered(message.type)) {
      if (!sequence.accept()) return false;
      this.#ackTimer ??= setTimeout(this.#ackTick, ACK_INTERVAL);
      return true;
    }
    if (message.type === MessageType.Ack) {
      sequence.acknowledge(message.sequenceId);
      this.#release();
      return false;
    }
    return true;
  }

  #ackTick = (): void => {
    this.#ackTimer = undefined;
    this.#sendAck(false);
  };

  #sendAck(always: boolean): void {
    if (!this.#host.open) return;
    const id = this.#sequence.ackDue(always);
    if (id !== undefined) this.#host.pushMessage({ type: MessageType.Ack, sequenceId: id });
  }

  #stopAcks(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
  }

  /** The transport dropped (or went silent), and the connection is suspended: reattach. */
  suspend(error: Error): void {
    this.#stopAcks();
    this.#host.log(
      LogLevel.Information,
      `The transport dropped (${
        describe(error)
      }); reattaching to the same connection (stateful reconnect).`,
    );
    const reattaching = this.#reattaching = new AbortController();
    this.#host.suspended(error);
    void this.#reattach(error, reattaching.signal);
  }

  async #reattach(cause: Error, signal: AbortSignal): Promise<void> {
    const began = performance.now();
    for (let attempt = 0;; attempt++) {
      const delay = REATTACH_DELAYS[Math.min(attempt, REATTACH_DELAYS.length - 1)];
      if (delay > 0 && !(await sleep(delay, signal))) return;
      let transport: Transport;
      // The server sends its Sequence as soon as the socket is open, maybe before this code runs
      // again: what arrives first waits here until #resume has the connection ready.
      const early = new EarlyReceiver();
      try {
        transport = await this.#options.reattach(early, signal);
      } catch (error) {
        if (signal.aborted) return;
        this.#host.log(
          LogLevel.Debug,
          `Reattach attempt ${attempt + 1} failed: ${describe(error)}`,
        );
        let gone = false;
        try {
          gone = await this.#options.gone(signal);
        } catch {
          // Unknown: try again while the window lasts.
        }
        if (signal.aborted) return;
        if (gone || performance.now() - began >= REATTACH_WINDOW) {
          this.#host.end({
            error: new TransportClosedError(
              gone
                ? "The transport dropped and the server no longer knows the connection; it cannot be reattached."
                : `The transport dropped and could not be reattached within ${REATTACH_WINDOW} ms.`,
              { cause },
            ),
            allowReconnect: true,
          });
          return;
        }
        continue;
      }
      if (signal.aborted) {
        await transport.close(0);
        return;
      }
      this.#resume(transport);
      early.forward(this.#host);
      return;
    }
  }

  /** Reattached: Sequence, then every message the server did not acknowledge, in order. */
  #resume(transport: Transport): void {
    this.#reattaching = undefined;
    this.#host.reattached(transport);
    const sequence = this.#sequence;
    sequence.waitingForSequence = true;
    const { sequenceId, frames, count } = sequence.replay();
    this.#host.pushMessage({ type: MessageType.Sequence, sequenceId });
    for (const frame of frames) this.#host.push(frame);
    // The server acknowledges only messages that are new to it: when its last Ack was lost in
    // the cut and the buffer is full, one new message must get through, or both sides wait.
    this.#overdraft = true;
    this.#release();
    this.#host.log(
      LogLevel.Information,
      `Reattached to the same connection; ${count} unacknowledged messages sent again.`,
    );
    this.#host.resumed();
  }

  /** The connection ended: no more Acks or reattaching; held messages fail. */
  end(cause: Error | undefined): void {
    this.#stopAcks();
    this.#reattaching?.abort();
    this.#reattaching = undefined;
    const held = this.#held;
    this.#held = undefined;
    this.#room?.resolve();
    this.#room = undefined;
    if (held === undefined) return;
    const error = new ConnectionClosedError("The connection closed before the message was sent.", {
      cause,
    });
    for (const { done } of held) {
      done?.reject(error);
      done?.promise.catch(() => {});
    }
  }
}

/**
 * Waits `ms`; `false` when the signal aborted first. Not shared with _reconnect.ts's wait: a
 * module both this lazily loaded one and the core import becomes a bundle chunk of its own
 * (measured: about 0.2 KB more gzipped on every page, its files gzipped one by one).
 */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Keeps what a new transport delivers until its connection is ready, then forwards it. */
class EarlyReceiver implements TransportReceiver {
  #target: TransportReceiver | undefined;
  #frames: Frame[] | undefined;
  #closed = false;
  #error: Error | undefined;

  onFrame(frame: Frame): void {
    if (this.#target) this.#target.onFrame(frame);
    else (this.#frames ??= []).push(frame);
  }

  onClose(error?: Error): void {
    if (this.#target) this.#target.onClose(error);
    else {
      this.#closed = true;
      this.#error = error;
    }
  }

  forward(target: TransportReceiver): void {
    const frames = this.#frames;
    this.#frames = undefined;
    for (const frame of frames ?? []) target.onFrame(frame);
    this.#target = target;
    if (this.#closed) target.onClose(this.#error);
  }
}
