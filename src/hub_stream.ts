/**
 * `HubStream<T>`: a server-to-client stream, as a `ReadableStream` with an observer API.
 *
 * @module
 */
import { StreamFeed } from "./_stream_feed.ts";

/**
 * Receives a stream's items, its end, or its error.
 *
 * @example
 * ```ts
 * import type { StreamObserver } from "@signalrcore/client";
 * const observer: StreamObserver<number> = {
 *   next: (n) => console.log(n),
 *   complete: () => console.log("done"),
 *   error: (e) => console.error(e),
 * };
 * ```
 */
export interface StreamObserver<T> {
  /** Called with each item, in order. */
  next(item: T): void;
  /** Called once when the server completed the stream. */
  complete?(): void;
  /** Called once when the stream failed (a `HubError`, a connection error, or an abort). */
  error?(error: unknown): void;
}

/**
 * Ends a subscription made with {@linkcode HubStream.subscribe}.
 *
 * @example
 * ```ts
 * import type { Subscription } from "@signalrcore/client";
 * const stop = (subscription: Subscription) => subscription.dispose();
 * ```
 */
export interface Subscription {
  /** Cancels the stream on the server; no further callbacks are made. */
  dispose(): void;
}

const noop = () => {};
const feeds = new WeakMap<HubStream<unknown>, StreamFeed<unknown>>();

/** The producer side of a stream created by the connection (internal). */
export function feedOf<T>(stream: HubStream<T>): StreamFeed<T> {
  return feeds.get(stream as HubStream<unknown>) as StreamFeed<T>;
}

/**
 * The items a server method streams to the client. It is a `ReadableStream<T>`: read it with
 * `for await`, a reader, or `pipeTo`; or use {@linkcode HubStream.subscribe}. Cancelling it
 * (`cancel()`, leaving a `for await` early, `dispose()`, or the call's `signal`) sends one
 * CancelInvocation to the server and drops later items. Every item that arrived before the
 * stream's completion or error is delivered before it. Items wait in memory for a slow
 * consumer; none is dropped.
 *
 * @example Read a server stream
 * ```ts ignore
 * import { HubConnectionBuilder } from "@signalrcore/client";
 * const connection = new HubConnectionBuilder().withUrl("http://localhost:5000/hub").build();
 * await connection.start();
 * for await (const n of connection.stream<number>("Counter", 10, 500)) console.log(n);
 * await connection.stop();
 * ```
 */
export class HubStream<T> extends ReadableStream<T> {
  /**
   * Streams are created by `HubConnection.stream`; constructing one directly gives a stream
   * that only ends when cancelled.
   *
   * @param onCancel Called once when the consumer cancels, with the reason.
   */
  constructor(onCancel?: (reason: unknown) => void) {
    const feed = new StreamFeed<T>();
    feed.onCancel = onCancel;
    super({
      pull: (controller) => pull(feed, controller),
      cancel: (reason) => feed.cancel(reason),
    }, { highWaterMark: 0 });
    feeds.set(this as HubStream<unknown>, feed as StreamFeed<unknown>);
  }

  /**
   * Iterates the items. When nobody else holds a reader, items come straight from the
   * stream's queue, without a `ReadableStream` round trip per item.
   *
   * @param options `preventCancel: true` keeps the stream open when the loop ends early.
   * @returns An async iterator over the items.
   */
  override values(options?: { preventCancel?: boolean }): AsyncIterableIterator<T> {
    if (this.locked) return super.values(options);
    return new FastIterator(feedOf(this), this.getReader(), options?.preventCancel ?? false);
  }

  /**
   * Same as {@linkcode HubStream.values}: makes `for await (const item of stream)` work on
   * every runtime.
   *
   * @returns An async iterator over the items.
   */
  override [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this.values();
  }

  /**
   * Observer API, as in the official client and the Python signalrcore. Exactly one of
   * `complete` or `error` is called at the end, unless the subscription was disposed.
   *
   * @param observer Callbacks for items, completion, and error.
   * @returns A subscription whose `dispose()` cancels the stream.
   * @throws {TypeError} When the stream already has a subscriber or a reader (unlike the
   * official client's, a stream takes one observer).
   *
   * @example
   * ```ts ignore
   * const subscription = connection.stream<number>("Counter", 10, 500).subscribe({
   *   next: (n) => console.log(n),
   *   complete: () => console.log("done"),
   *   error: (e) => console.error(e),
   * });
   * subscription.dispose();
   * ```
   */
  subscribe(observer: StreamObserver<T>): Subscription {
    if (this.locked) {
      // The official client's stream is a Subject that takes any number of observers.
      throw new TypeError(
        "This stream already has a subscriber or a reader: a server stream is read once. Give its items to several observers from one subscribe(), or tee() it first.",
      );
    }
    const reader = this.getReader(); // a subscription owns the stream, as a reader would
    const feed = feedOf(this);
    let active = true;
    const finish = () => {
      active = false;
      feed.observer = undefined;
      feed.wake = undefined;
    };
    const failed = (error: unknown) => {
      if (observer.error) observer.error(error);
      else feed.onUnobservedError?.(error);
    };
    const deliver = (item: T) => {
      try {
        observer.next(item);
      } catch (error) {
        // The observer's own next() threw: stop the server stream and report it there.
        if (!active) return;
        finish();
        reader.cancel(error).catch(noop);
        failed(error);
      }
    };
    // Items queued before subscribe() go first, from a microtask (never inside subscribe());
    // after that the receive path calls the observer directly, without a promise per item.
    const settle = () => {
      if (!active) return;
      while (feed.hasItem) {
        deliver(feed.take());
        if (!active) return;
      }
      if (feed.failed || feed.completed) {
        finish();
        reader.releaseLock();
        if (feed.failed) failed(feed.error);
        else if (!feed.cancelled) observer.complete?.();
        return;
      }
      feed.observer = deliver;
      feed.wake = settle;
    };
    queueMicrotask(settle);
    return {
      dispose() {
        if (!active) return;
        finish();
        reader.cancel().catch(noop);
      },
    };
  }
}

function pull<T>(
  feed: StreamFeed<T>,
  controller: ReadableStreamDefaultController<T>,
): void | Promise<void> {
  if (feed.hasItem) {
    // Enqueue everything queued in one go: one pull per batch, not per item. An error waits
    // for the next pull so that these items are read first.
    while (feed.hasItem) controller.enqueue(feed.take());
    if (feed.completed) controller.close();
    return;
  }
  if (feed.failed) return controller.error(feed.error);
  if (feed.completed) return controller.close();
  const { promise, resolve } = Promise.withResolvers<void>();
  feed.wake = resolve;
  return promise.then(() => pull(feed, controller));
}

class FastIterator<T> implements AsyncIterableIterator<T> {
  readonly #feed: StreamFeed<T>;
  readonly #reader: ReadableStreamDefaultReader<T>;
  readonly #preventCancel: boolean;
  #released = false;
  /** Calls of next() that wait for the feed, oldest first (usually one). */
  readonly #waiters: PromiseWithResolvers<IteratorResult<T, undefined>>[] = [];

  constructor(feed: StreamFeed<T>, reader: ReadableStreamDefaultReader<T>, preventCancel: boolean) {
    this.#feed = feed;
    this.#reader = reader;
    this.#preventCancel = preventCancel;
  }

  next(): Promise<IteratorResult<T, undefined>> {
    const feed = this.#feed;
    if (this.#waiters.length === 0) {
      if (feed.hasItem) return Promise.resolve({ value: feed.take(), done: false });
      if (feed.failed) {
        this.#release();
        return Promise.reject(feed.error);
      }
      if (feed.completed || this.#released) {
        this.#release();
        return Promise.resolve({ value: undefined, done: true });
      }
    }
    // The waiter is settled from the receive path itself, when the feed changes: one promise
    // per wait, no chained callbacks.
    const waiter = Promise.withResolvers<IteratorResult<T, undefined>>();
    this.#waiters.push(waiter);
    feed.wake = this.#wake;
    return waiter.promise;
  }

  readonly #wake = (): void => {
    const feed = this.#feed;
    const waiters = this.#waiters;
    while (waiters.length > 0) {
      if (feed.hasItem) {
        waiters.shift()!.resolve({ value: feed.take(), done: false });
      } else if (feed.failed) {
        this.#release();
        waiters.shift()!.reject(feed.error);
      } else if (feed.completed || this.#released) {
        this.#release();
        waiters.shift()!.resolve({ value: undefined, done: true });
      } else {
        feed.wake = this.#wake;
        return;
      }
    }
  };

  async return(value?: unknown): Promise<IteratorResult<T, undefined>> {
    if (!this.#released) {
      if (this.#preventCancel) this.#release();
      else {
        this.#released = true;
        // Cancelling through the reader runs the stream's cancel algorithm: one cancel, and
        // the stream is closed for every observer.
        await this.#reader.cancel(value);
        this.#reader.releaseLock();
      }
    }
    return { value: undefined, done: true };
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#reader.releaseLock();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.return().then(() => {});
  }
}
