// Keep-alive pings and the server timeout of one transport life. The hot paths only bump
// counters (frames received, batches sent); one shared timer reads them a few times per
// interval, so liveness costs no clock read and no timer per message.
import { ServerTimeoutError } from "../errors.ts";
import { addTicking, stopTicking, type Ticking } from "../_ticker.ts";

/** What liveness watches and acts on. */
export interface LivenessHost {
  /** Frames received so far. */
  readonly received: number;
  /** Batches sent so far. */
  readonly sent: number;
  /** Sends a Ping. */
  ping(): void;
  /** Ends the connection: the server has been silent too long. */
  timedOut(error: ServerTimeoutError): void;
}

/** The two timers, in ms. */
export interface LivenessTimers {
  readonly keepAliveInterval: number;
  readonly serverTimeout: number;
}

/** Watches one connection until {@linkcode Liveness.stop}; it is its own ticker member. */
export class Liveness implements Ticking {
  readonly #host: LivenessHost;
  readonly #timers: LivenessTimers;
  #seenReceived: number;
  #seenSent: number;
  #lastReceive: number;
  #lastSend: number;
  /** When the shared timer calls next. */
  due = 0;
  readonly step: number;

  constructor(host: LivenessHost, timers: LivenessTimers) {
    this.#host = host;
    this.#timers = timers;
    this.#seenReceived = host.received;
    this.#seenSent = host.sent;
    this.#lastReceive = this.#lastSend = performance.now();
    // Activity is noticed at the tick after it happened, so both limits hold within a quarter
    // of the shorter one.
    this.step = Math.max(1, Math.min(timers.keepAliveInterval, timers.serverTimeout) / 4);
    addTicking(this);
  }

  stop(): void {
    stopTicking(this);
  }

  /** Called by the shared timer. */
  tick(): void {
    const host = this.#host;
    const now = performance.now();
    if (host.received !== this.#seenReceived) {
      this.#seenReceived = host.received;
      this.#lastReceive = now;
    } else if (now - this.#lastReceive >= this.#timers.serverTimeout) {
      this.stop();
      host.timedOut(new ServerTimeoutError(this.#timers.serverTimeout));
      return;
    }
    if (host.sent !== this.#seenSent) {
      this.#seenSent = host.sent;
      this.#lastSend = now;
    } else if (now - this.#lastSend >= this.#timers.keepAliveInterval) {
      host.ping();
      this.#lastSend = now;
    }
  }
}
