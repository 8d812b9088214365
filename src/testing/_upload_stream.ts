// The server side of a client-to-server stream: an async iterable fed by StreamItem and
// Completion messages for one stream id.

interface Waiter<T> {
  resolve(result: IteratorResult<T>): void;
  reject(error: unknown): void;
}

/** Items of one upload, buffered until the hub method reads them. */
export class UploadStream<T = unknown> implements AsyncIterable<T> {
  #items: T[] = [];
  #head = 0;
  #done = false;
  #error: Error | undefined;
  #waiter: Waiter<T> | undefined;
  #iterated = false;

  /** False once the stream completed, failed, or its reader stopped. */
  get open(): boolean {
    return !this.#done;
  }

  /** Appends an item (ignored after the end). */
  push(item: T): void {
    if (this.#done) return;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter.resolve({ value: item, done: false });
    } else this.#items.push(item);
  }

  /** Ends the stream; with `error`, the reader throws it after the buffered items. */
  end(error?: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    const waiter = this.#waiter;
    if (!waiter) return;
    this.#waiter = undefined;
    if (error) waiter.reject(error);
    else waiter.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.#iterated) throw new TypeError("An upload stream can be iterated only once.");
    this.#iterated = true;
    return {
      next: () => this.#next(),
      return: (value?: unknown) => {
        this.#stop();
        return Promise.resolve({ value: value as T, done: true });
      },
    };
  }

  #next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head];
      this.#items[this.#head++] = undefined as T;
      if (this.#head === this.#items.length) {
        this.#items = [];
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#done) {
      const error = this.#error;
      this.#error = undefined;
      return error ? Promise.reject(error) : Promise.resolve({ value: undefined, done: true });
    }
    if (this.#waiter) {
      return Promise.reject(new TypeError("next() called while a read is pending."));
    }
    const { promise, resolve, reject } = Promise.withResolvers<IteratorResult<T>>();
    this.#waiter = { resolve, reject };
    return promise;
  }

  #stop(): void {
    this.#items = [];
    this.#head = 0;
    this.#error = undefined;
    this.end();
  }
}
