// The queue between the receive path and a HubStream's consumer. Items are appended here and
// read either by the stream's fast async iterator or, in batches, by its ReadableStream pull.
const OPEN = 0;
const COMPLETED = 1;
const FAILED = 2;
const CANCELLED = 3;

/** Producer side of one server stream. */
export class StreamFeed<T> {
  items: T[] = [];
  head = 0;
  state: 0 | 1 | 2 | 3 = OPEN;
  error: unknown = undefined;
  /** The consumer waiting for the next change, if any. */
  wake: (() => void) | undefined = undefined;
  /** A live subscriber: items go straight to it while nothing is queued. */
  observer: ((item: T) => void) | undefined = undefined;
  /** Called once when the consumer cancels. */
  onCancel: ((reason: unknown) => void) | undefined;
  /** Where an error goes when a subscriber has no `error` callback. */
  onUnobservedError: ((error: unknown) => void) | undefined;

  get open(): boolean {
    return this.state === OPEN;
  }

  push(item: T): void {
    if (this.state !== OPEN) return;
    if (this.observer !== undefined && this.head === this.items.length) {
      this.observer(item);
      return;
    }
    this.items.push(item);
    this.#notify();
  }

  complete(): void {
    if (this.state !== OPEN) return;
    this.state = COMPLETED;
    this.#notify();
  }

  fail(error: unknown): void {
    if (this.state !== OPEN) return;
    this.state = FAILED;
    this.error = error;
    this.#notify();
  }

  /** The consumer gave up: later items are dropped, the producer is told once. */
  cancel(reason: unknown): void {
    const wasOpen = this.state === OPEN;
    this.state = CANCELLED;
    this.items = [];
    this.head = 0;
    this.#notify();
    if (wasOpen) this.onCancel?.(reason);
  }

  /** Takes the next queued item; check `hasItem` first. */
  take(): T {
    const item = this.items[this.head++];
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return item;
  }

  get hasItem(): boolean {
    return this.head < this.items.length;
  }

  get completed(): boolean {
    return this.state === COMPLETED || this.state === CANCELLED;
  }

  get cancelled(): boolean {
    return this.state === CANCELLED;
  }

  get failed(): boolean {
    return this.state === FAILED;
  }

  #notify(): void {
    const wake = this.wake;
    if (wake) {
      this.wake = undefined;
      wake();
    }
  }
}
