// The send queue: every frame queued in one microtask turn goes out as one transport frame,
// which keeps a burst of small messages (upload items, pipelined calls) from costing a
// WebSocket frame each, and adds no delay to a lone message.
import { ConnectionClosedError } from "../errors.ts";
import type { Transport } from "../transport/transport.ts";

const noop = () => {};

/** Coalesces frames for one transport at a time. */
export class Outbox {
  #transport: Transport | undefined;
  #queue: (string | Uint8Array)[] = [];
  #batch: PromiseWithResolvers<void> | undefined;
  #backpressure: Promise<void> | undefined;
  /** `performance.now()` of the last flush: the keep-alive timer reads it. */
  lastSend = 0;

  /** Sends through `transport` from now on. */
  attach(transport: Transport): void {
    this.#transport = transport;
    this.lastSend = performance.now();
  }

  /** Stops sending; what is still queued fails with a {@linkcode ConnectionClosedError}. */
  detach(): void {
    this.#transport = undefined;
    this.#queue = [];
    this.#backpressure = undefined;
    const batch = this.#batch;
    this.#batch = undefined;
    batch?.reject(new ConnectionClosedError("The connection closed before this was sent."));
  }

  /** Queues a frame. */
  push(frame: string | Uint8Array): void {
    this.#queue.push(frame);
    if (!this.#batch) {
      this.#batch = Promise.withResolvers<void>();
      this.#batch.promise.catch(noop);
      queueMicrotask(this.#flush);
    }
  }

  /** Resolves when the batch holding the frames queued so far was handed to the transport. */
  get written(): Promise<void> {
    return this.#batch?.promise ?? Promise.resolve();
  }

  /** Set while the transport asks senders to wait; producers that can wait should. */
  get backpressure(): Promise<void> | undefined {
    return this.#backpressure;
  }

  #flush = (): void => {
    const batch = this.#batch;
    if (!batch) return;
    this.#batch = undefined;
    const frames = this.#queue;
    this.#queue = [];
    const transport = this.#transport;
    if (!transport) {
      batch.reject(new ConnectionClosedError("The connection closed before this was sent."));
      return;
    }
    this.lastSend = performance.now();
    try {
      const wait = transport.send(frames.length === 1 ? frames[0] : join(frames));
      if (!wait) return batch.resolve();
      const pressure = this.#backpressure = wait.finally(() => {
        if (this.#backpressure === pressure) this.#backpressure = undefined;
      });
      pressure.catch(noop);
      wait.then(batch.resolve, batch.reject);
    } catch (error) {
      batch.reject(error);
    }
  };
}

function join(frames: (string | Uint8Array)[]): string | Uint8Array {
  if (typeof frames[0] === "string") return frames.join("");
  let size = 0;
  for (const frame of frames) size += frame.length;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const frame of frames as Uint8Array[]) {
    out.set(frame, offset);
    offset += frame.length;
  }
  return out;
}
