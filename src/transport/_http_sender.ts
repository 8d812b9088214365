// Sends of the HTTP transports (Server-Sent Events, Long Polling): POST {url}?id=<token>, one in
// flight at a time; what is queued meanwhile goes in the next POST, as one body. A producer is
// asked to wait only when a lot is queued, so that a POST in flight never turns every following
// item into a POST of its own.
import { TransportClosedError } from "../errors.ts";
import type { HttpClient } from "../http/_http_client.ts";
import { httpError } from "../http/_http_client.ts";
import { join } from "./_batch.ts";

const HIGH_WATER = 1 << 20;
const noop = () => {};

/** One connection's POSTs. */
export class HttpSender {
  readonly #http: HttpClient;
  readonly #url: string;
  readonly #binary: boolean;
  readonly #fail: (error: Error, gone: boolean) => void;
  readonly #abort = new AbortController();
  #queue: (string | Uint8Array)[] = [];
  #size = 0;
  #running: Promise<void> | undefined;
  #drained: PromiseWithResolvers<void> | undefined;
  #closed: Error | undefined;

  /**
   * @param fail Called once when a POST fails, and whether it got 404 (the server no longer knows
   *   the connection); the transport then ends with that error.
   */
  constructor(
    http: HttpClient,
    url: string,
    binary: boolean,
    fail: (error: Error, gone: boolean) => void,
  ) {
    this.#http = http;
    this.#url = url;
    this.#binary = binary;
    this.#fail = fail;
  }

  /** Queues a batch; a promise when the producer should wait for the queue to drain. */
  send(frames: readonly (string | Uint8Array)[], size: number): Promise<void> | undefined {
    if (this.#closed) return Promise.reject(this.#closed);
    for (let i = 0; i < frames.length; i++) this.#queue.push(frames[i]);
    this.#size += size;
    this.#running ??= this.#run();
    if (this.#size <= HIGH_WATER) return undefined;
    this.#drained ??= Promise.withResolvers<void>();
    return this.#drained.promise;
  }

  /** Resolves when nothing is queued or in flight (or the sender failed or closed). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Stops: the POST in flight is aborted, what is queued is dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = new TransportClosedError("The connection closed before this was sent.");
    this.#abort.abort(this.#closed);
    if (this.#tick) {
      clearTimeout(this.#tick.timer);
      this.#tick.resolve();
      this.#tick = undefined;
    }
    this.#queue = [];
    this.#size = 0;
    this.#release(this.#closed);
  }

  async #run(): Promise<void> {
    try {
      let first = true;
      while (this.#queue.length > 0 && !this.#closed) {
        // After a POST, one task's wait: the results of that POST's calls often arrive just
        // after its answer, and the calls they release belong in the next POST. Without it, 64
        // pipelined calls settle into two POSTs that alternate and never merge. A lone message
        // from idle still goes at once.
        if (!first) {
          await this.#nextTask();
          if (this.#closed) return;
        }
        first = false;
        const frames = this.#queue;
        const size = this.#size;
        this.#queue = [];
        this.#size = 0;
        this.#release();
        await this.#post(join(frames, 0, frames.length, size));
      }
    } catch (error) {
      if (!this.#closed) {
        const failure = error instanceof Error ? error : new Error(String(error));
        this.close();
        this.#fail(failure, failure instanceof Gone);
      }
    } finally {
      this.#running = undefined;
    }
  }

  async #post(body: string | Uint8Array): Promise<void> {
    const response = await this.#http.text({
      method: "POST",
      url: this.#url,
      body,
      contentType: this.#binary ? "application/octet-stream" : "text/plain;charset=UTF-8",
      signal: this.#abort.signal,
      what: "Send",
    });
    if (response.status === 404) {
      throw new Gone(
        "The server no longer knows this connection (a send got 404).",
        { cause: httpError("Send", response, response.text) },
      );
    }
    if (response.status < 200 || response.status > 299) {
      throw httpError("Send", response, response.text);
    }
  }

  #tick: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | undefined;

  #nextTask(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#tick = undefined;
        resolve();
      }, 0);
      this.#tick = { timer, resolve };
    });
  }

  /** Lets waiting producers go on (or fail). */
  #release(error?: Error): void {
    const drained = this.#drained;
    if (!drained) return;
    this.#drained = undefined;
    if (error) {
      drained.promise.catch(noop);
      drained.reject(error);
    } else drained.resolve();
  }
}

/** A send got 404: the server no longer knows the connection. */
class Gone extends TransportClosedError {}
