/**
 * `Subject<T>`: a client-to-server stream you push items into.
 *
 * @module
 */

const noop = () => {};
const RESOLVED: Promise<void> = Promise.resolve();

/** Where an attached subject delivers (internal): the connection's upload of one stream id. */
export interface SubjectSink<T> {
  /** Takes one item; a returned promise asks for the next one to wait (backpressure). */
  item(item: T): Promise<void> | undefined;
  /** Ends the stream; `failure` is set when the subject was errored. */
  end(failure: { error: unknown } | undefined): Promise<void>;
}

/** The connection's handle on an attached subject (internal). */
export interface SubjectAttachment {
  /** The upload stopped: pending and later `next()` calls reject with `reason`. */
  stop(reason: unknown): void;
}

interface Waiting<T> {
  readonly item: T;
  readonly accepted: PromiseWithResolvers<void>;
}

interface Ending {
  readonly failure: { error: unknown } | undefined;
  readonly done: PromiseWithResolvers<void>;
}

const attachments = new WeakMap<
  Subject<unknown>,
  (sink: SubjectSink<unknown>) => SubjectAttachment
>();

/** Attaches a subject to an upload (internal); throws when it is attached already. */
export function attachSubject<T>(subject: Subject<T>, sink: SubjectSink<T>): SubjectAttachment {
  return attachments.get(subject as Subject<unknown>)!(sink as SubjectSink<unknown>);
}

/**
 * A stream of items from the client to a server method that takes an `IAsyncEnumerable<T>` or
 * a `ChannelReader<T>`. Pass it as an argument of `send`, `invoke` or `stream`, then push items.
 * It has backpressure: `next()` resolves when the connection has taken the item, which is at
 * once unless the transport is full. Calls that are not awaited keep their order. Items
 * pushed before the call starts wait for it. {@linkcode Subject.writable} is the same stream
 * as a `WritableStream<T>`, for `pipeTo`.
 *
 * @example Upload with next() and complete()
 * ```ts ignore
 * import { HubConnectionBuilder, Subject } from "@signalrcore/client";
 * const connection = new HubConnectionBuilder().withUrl("http://localhost:5000/hub").build();
 * await connection.start();
 * const subject = new Subject<string>();
 * await connection.send("UploadStream", subject);
 * for (let i = 0; i < 10; i++) await subject.next(String(i));
 * await subject.complete();
 * ```
 *
 * @example Pipe a ReadableStream into it
 * ```ts
 * import { Subject } from "@signalrcore/client";
 * const subject = new Subject<number>();
 * const piped = ReadableStream.from([1, 2, 3]).pipeTo(subject.writable);
 * ```
 */
export class Subject<T> {
  #sink: SubjectSink<T> | undefined;
  #waiting: Waiting<T>[] = [];
  #pressure: Promise<void> | undefined;
  #closed = false;
  #ending: Ending | undefined;
  #endSent = false;
  #stopped: { reason: unknown } | undefined;
  #writable: WritableStream<T> | undefined;

  /** Creates a subject; attach it to a call by passing it as an argument. */
  constructor() {
    attachments.set(this as Subject<unknown>, (sink) => this.#attach(sink as SubjectSink<T>));
  }

  /** Whether the subject is attached to a call already (a subject serves one call). */
  get attached(): boolean {
    return this.#sink !== undefined;
  }

  /**
   * The subject as a `WritableStream<T>`, for `readable.pipeTo(subject.writable)`: writes are
   * `next()`, closing is `complete()`, aborting is `error()`.
   */
  get writable(): WritableStream<T> {
    return this.#writable ??= new WritableStream<T>({
      write: (item) => this.next(item),
      close: () => this.complete(),
      abort: (reason) => this.#closed ? undefined : this.error(reason),
    });
  }

  /**
   * Sends one item.
   *
   * @param item The item.
   * @returns Resolves when the connection has taken the item; rejects if the upload stopped
   * (the server completed the call or the connection closed). A rejection nobody awaits is not
   * reported as unhandled: the call's own promise reports the failure.
   * @throws {TypeError} When the subject was already completed or errored.
   */
  next(item: T): Promise<void> {
    this.#checkOpen("next");
    if (this.#stopped) return quiet(Promise.reject(this.#stopped.reason));
    if (this.#sink && !this.#pressure && this.#waiting.length === 0) {
      // The fast path: straight to the connection, no promise of our own.
      try {
        this.#take(this.#sink.item(item));
      } catch (error) {
        this.#stop(error);
        return quiet(Promise.reject(error));
      }
      return RESOLVED;
    }
    const accepted = Promise.withResolvers<void>();
    quiet(accepted.promise);
    this.#waiting.push({ item, accepted });
    return accepted.promise;
  }

  /**
   * Ends the stream; the server's enumeration finishes normally after the items sent before.
   *
   * @returns Resolves when the end of the stream was handed to the connection.
   * @throws {TypeError} When the subject was already completed or errored.
   */
  complete(): Promise<void> {
    return this.#end("complete", undefined);
  }

  /**
   * Ends the stream with an error, after the items sent before; the server method sees an
   * exception with the error's message.
   *
   * @param error The reason.
   * @returns Resolves when the end of the stream was handed to the connection.
   * @throws {TypeError} When the subject was already completed or errored.
   */
  error(error: unknown): Promise<void> {
    return this.#end("error", { error });
  }

  #end(method: string, failure: { error: unknown } | undefined): Promise<void> {
    this.#checkOpen(method);
    this.#closed = true;
    const done = Promise.withResolvers<void>();
    quiet(done.promise);
    this.#ending = { failure, done };
    if (this.#stopped) done.reject(this.#stopped.reason);
    else this.#drain();
    return done.promise;
  }

  #checkOpen(method: string): void {
    if (this.#closed) {
      throw new TypeError(`Subject.${method}() called after the subject was completed or errored.`);
    }
  }

  #attach(sink: SubjectSink<T>): SubjectAttachment {
    if (this.#sink) {
      throw new TypeError(
        "This Subject is already attached to a call; use a new Subject for each call.",
      );
    }
    this.#sink = sink;
    this.#drain();
    return { stop: (reason) => this.#stop(reason) };
  }

  #take(wait: Promise<void> | undefined): void {
    if (!wait) return;
    const pressure = this.#pressure = wait.then(
      () => {
        if (this.#pressure === pressure) this.#pressure = undefined;
        this.#drain();
      },
      (error) => this.#stop(error),
    );
  }

  #drain(): void {
    const sink = this.#sink;
    if (!sink || this.#stopped) return;
    while (this.#waiting.length > 0 && !this.#pressure) {
      const { item, accepted } = this.#waiting.shift()!;
      try {
        this.#take(sink.item(item));
      } catch (error) {
        accepted.reject(error);
        this.#stop(error);
        return;
      }
      accepted.resolve();
    }
    const ending = this.#ending;
    if (ending && !this.#endSent && this.#waiting.length === 0 && !this.#pressure) {
      this.#endSent = true;
      sink.end(ending.failure).then(ending.done.resolve, ending.done.reject);
    }
  }

  #stop(reason: unknown): void {
    if (this.#stopped) return;
    this.#stopped = { reason };
    for (const { accepted } of this.#waiting) accepted.reject(reason);
    this.#waiting = [];
    if (!this.#endSent) this.#ending?.done.reject(reason);
  }
}

function quiet(promise: Promise<void>): Promise<void> {
  promise.catch(noop);
  return promise;
}
