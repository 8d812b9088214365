/**
 * `Subject<T>`: a client-to-server stream you push items into.
 *
 * @module
 */

const noop = () => {};

interface SubjectSource<T> {
  readonly readable: ReadableStream<T>;
  /** The error given to `subject.error()`, once the readable side has ended. */
  failure(): { error: unknown } | undefined;
}

const sources = new WeakMap<Subject<unknown>, SubjectSource<unknown>>();

/** The side of a subject that the connection reads (internal). */
export function subjectSource<T>(subject: Subject<T>): SubjectSource<T> {
  return sources.get(subject as Subject<unknown>) as SubjectSource<T>;
}

/**
 * A stream of items from the client to a server method that takes an `IAsyncEnumerable<T>` or
 * a `ChannelReader<T>`. Pass it as an argument of `send`, `invoke` or `stream`, then push items.
 * It wraps a `WritableStream<T>` ({@linkcode Subject.writable}), so it has backpressure:
 * `next()` resolves when the connection has taken the item. Calls that are not awaited keep
 * their order. Items pushed before the call starts wait for it.
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
  readonly #transform: TransformStream<T, T>;
  #writer: WritableStreamDefaultWriter<T> | undefined;
  #ended = false;
  #failure: { error: unknown } | undefined;

  /** Creates a subject; attach it to a call by passing it as an argument. */
  constructor() {
    // The readable side has no buffer of its own: a write completes when the connection has
    // read the item, which is what makes next() a backpressure signal.
    this.#transform = new TransformStream<T, T>(
      undefined,
      { highWaterMark: 1 },
      { highWaterMark: 0 },
    );
    sources.set(this as Subject<unknown>, {
      readable: this.#transform.readable as ReadableStream<unknown>,
      failure: () => this.#failure,
    });
  }

  /**
   * The writable side, for `readable.pipeTo(subject.writable)`. Use either this or
   * `next()`/`complete()`, not both.
   */
  get writable(): WritableStream<T> {
    return this.#transform.writable;
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
    return quiet(this.#getWriter().write(item));
  }

  /**
   * Ends the stream; the server's enumeration finishes normally after the items sent before.
   *
   * @returns Resolves when the connection has read the end of the stream.
   * @throws {TypeError} When the subject was already completed or errored.
   */
  complete(): Promise<void> {
    this.#checkOpen("complete");
    this.#ended = true;
    return quiet(this.#getWriter().close());
  }

  /**
   * Ends the stream with an error, after the items sent before; the server method sees an
   * exception with the error's message.
   *
   * @param error The reason.
   * @returns Resolves when the connection has read the end of the stream.
   * @throws {TypeError} When the subject was already completed or errored.
   */
  error(error: unknown): Promise<void> {
    this.#checkOpen("error");
    this.#ended = true;
    this.#failure = { error };
    return quiet(this.#getWriter().close());
  }

  #checkOpen(method: string): void {
    if (this.#ended) {
      throw new TypeError(`Subject.${method}() called after the subject was completed or errored.`);
    }
  }

  #getWriter(): WritableStreamDefaultWriter<T> {
    if (!this.#writer) {
      if (this.#transform.writable.locked) {
        throw new TypeError(
          "Subject.writable is in use (piped): next()/complete() are not available.",
        );
      }
      this.#writer = this.#transform.writable.getWriter();
    }
    return this.#writer;
  }
}

function quiet(promise: Promise<void>): Promise<void> {
  promise.catch(noop);
  return promise;
}
