// The send queue of one transport life. Frames queued while the program keeps running
// microtasks (a loop of `await subject.next()`, 64 invokes in a row) go out together, as one
// batch handed to the transport, which frames it its own way; a lone message goes out a few
// microtasks after it was queued (no timer), so coalescing adds no latency to it.
import { ConnectionClosedError } from "../errors.ts";
import type { Transport } from "../transport/transport.ts";

const noop = () => {};
/** Queued characters (or bytes) beyond which the batch is sent at once. */
const MAX_BATCH = 64 * 1024;
/** Microtask hops a batch may wait for more frames. */
const MAX_HOPS = 4096;
/**
 * Hops without a new frame before the batch goes. `await subject.next()` resumes the producer
 * one or two hops after the flush was queued (more through an async wrapper); a lone message
 * waits these few microtasks, never a timer.
 */
const IDLE_HOPS = 3;

/** Coalesces frames for one transport. */
export class Outbox {
  #transport: Transport | undefined;
  #queue: (string | Uint8Array)[] = [];
  #queuedSize = 0;
  #batch: PromiseWithResolvers<void> | undefined;
  /** Whether a #flush microtask is queued: there is never more than one. */
  #scheduled = false;
  #seen = 0;
  #hops = 0;
  #idle = 0;
  #backpressure: Promise<void> | undefined;
  /** Counts flushes: the keep-alive timer compares it between ticks. */
  flushes = 0;

  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** Stops sending; what is still queued fails with a {@linkcode ConnectionClosedError}. */
  close(): void {
    this.#transport = undefined;
    this.#queue = [];
    this.#queuedSize = 0;
    this.#backpressure = undefined;
    const batch = this.#batch;
    this.#batch = undefined;
    batch?.reject(new ConnectionClosedError("The connection closed before this was sent."));
  }

  /** Queues a frame. */
  push(frame: string | Uint8Array): void {
    this.#queue.push(frame);
    this.#queuedSize += frame.length;
    if (!this.#batch) {
      this.#batch = Promise.withResolvers<void>();
      this.#batch.promise.catch(noop);
      this.#seen = this.#queue.length;
      this.#hops = 0;
      this.#idle = 0;
      if (!this.#scheduled) {
        this.#scheduled = true;
        queueMicrotask(this.#flush ??= () => this.#hop());
      }
    } else if (this.#queuedSize >= MAX_BATCH) {
      this.#send();
    }
  }

  /** Sends what is queued now, without waiting for more. */
  flush(): void {
    if (this.#batch) this.#send();
  }

  /** Resolves when the batch holding the frames queued so far was handed to the transport. */
  get written(): Promise<void> {
    return this.#batch?.promise ?? Promise.resolve();
  }

  /** Set while the transport asks senders to wait; producers that can wait should. */
  get backpressure(): Promise<void> | undefined {
    return this.#backpressure;
  }

  // Made on the first push: an idle connection sends nothing for a while, and would otherwise
  // keep the closure and its context.
  #flush: (() => void) | undefined;

  #hop(): void {
    this.#scheduled = false;
    if (!this.#batch) return;
    if (++this.#hops < MAX_HOPS) {
      if (this.#queue.length > this.#seen) {
        // More arrived during the last hops: the producer is still running.
        this.#seen = this.#queue.length;
        this.#idle = 0;
        this.#scheduled = true;
        queueMicrotask(this.#flush!);
        return;
      }
      if (++this.#idle <= IDLE_HOPS) {
        // A producer's `await` resumes behind this hop: give it the chance to queue more.
        this.#scheduled = true;
        queueMicrotask(this.#flush!);
        return;
      }
    }
    this.#send();
  }

  #send(): void {
    const batch = this.#batch!;
    this.#batch = undefined;
    const frames = this.#queue;
    const size = this.#queuedSize;
    this.#queue = [];
    this.#queuedSize = 0;
    const transport = this.#transport;
    if (!transport) {
      batch.reject(new ConnectionClosedError("The connection closed before this was sent."));
      return;
    }
    this.flushes++;
    let wait: Promise<void> | undefined;
    try {
      wait = transport.send(frames, size);
    } catch (error) {
      batch.reject(error);
      return;
    }
    if (!wait) return batch.resolve();
    const pressure = this.#backpressure = wait.finally(() => {
      if (this.#backpressure === pressure) this.#backpressure = undefined;
    });
    pressure.catch(noop);
    wait.then(batch.resolve, batch.reject);
  }
}
