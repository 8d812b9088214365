// The send queue. Frames queued while the program keeps running microtasks (a loop of
// `await subject.next()`, 64 invokes in a row) go out together; a lone message goes out a few
// microtasks after it was queued (no timer), so coalescing adds no latency to it.
//
// A small batch is cut into transport frames of about SMALL_FRAME characters: Deno's WebSocket
// writes a larger frame as two syscalls (header, then payload) with Nagle on, and a server that
// delays its ACK of the lone header then stalls the payload for ~40 ms; a request/response
// exchange (pipelined invokes) would pay that on every batch. A large batch means a producer
// that keeps sending (an upload): there each send call costs more than an occasional stall, so
// it goes out in LARGE_FRAME pieces.
import { ConnectionClosedError } from "../errors.ts";
import type { Transport } from "../transport/transport.ts";

const noop = () => {};
const SMALL_FRAME = 1000;
const LARGE_FRAME = 32 * 1024;
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

/** Coalesces frames for one transport at a time. */
export class Outbox {
  #transport: Transport | undefined;
  #queue: (string | Uint8Array)[] = [];
  #queuedSize = 0;
  #batch: PromiseWithResolvers<void> | undefined;
  #seen = 0;
  #hops = 0;
  #idle = 0;
  #backpressure: Promise<void> | undefined;
  /** Counts flushes: the keep-alive timer compares it between ticks. */
  flushes = 0;

  /** Sends through `transport` from now on. */
  attach(transport: Transport): void {
    this.#transport = transport;
  }

  /** Stops sending; what is still queued fails with a {@linkcode ConnectionClosedError}. */
  detach(): void {
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
      queueMicrotask(this.#flush);
    } else if (this.#queuedSize >= MAX_BATCH) {
      this.#send();
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
    if (!this.#batch) return;
    if (++this.#hops < MAX_HOPS) {
      if (this.#queue.length > this.#seen) {
        // More arrived during the last hops: the producer is still running.
        this.#seen = this.#queue.length;
        this.#idle = 0;
        queueMicrotask(this.#flush);
        return;
      }
      if (++this.#idle <= IDLE_HOPS) {
        // A producer's `await` resumes behind this hop: give it the chance to queue more.
        queueMicrotask(this.#flush);
        return;
      }
    }
    this.#send();
  };

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
      const limit = size >= LARGE_FRAME ? LARGE_FRAME : SMALL_FRAME;
      for (const frame of cut(frames, limit)) wait = transport.send(frame) ?? wait;
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

/** Joins consecutive frames into transport frames of at most `limit` (one frame may exceed). */
function* cut(frames: (string | Uint8Array)[], limit: number): Generator<string | Uint8Array> {
  if (frames.length === 1) {
    yield frames[0];
    return;
  }
  let start = 0;
  let size = 0;
  for (let i = 0; i < frames.length; i++) {
    const length = frames[i].length;
    if (i > start && size + length > limit) {
      yield join(frames, start, i, size);
      start = i;
      size = 0;
    }
    size += length;
  }
  yield join(frames, start, frames.length, size);
}

function join(
  frames: (string | Uint8Array)[],
  start: number,
  end: number,
  size: number,
): string | Uint8Array {
  if (end - start === 1) return frames[start];
  if (typeof frames[start] === "string") {
    // join() builds one flat string. `+=` would build a rope of every piece, which the
    // runtime flattens inside WebSocket.send at several times the cost (measured: 63-82 µs
    // against 7-12 µs of CPU for a 32 KB frame of 700 records).
    return (start === 0 && end === frames.length ? frames : frames.slice(start, end)).join("");
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (let i = start; i < end; i++) {
    out.set(frames[i] as Uint8Array, offset);
    offset += frames[i].length;
  }
  return out;
}
