// Client-to-server streams: which arguments are uploads, and the loops that send them.
import { describe } from "./errors.ts";
import { attachSubject, Subject, type SubjectAttachment } from "./subject.ts";

/** Where an upload writes its items and its end. */
export interface UploadWriter {
  /** Sends one item; a returned promise means "wait before the next one" (backpressure). */
  item(streamId: string, item: unknown): Promise<void> | undefined;
  /** Sends the Completion of the stream, with an error text when the source failed. */
  end(streamId: string, error: string | undefined): Promise<void>;
}

/**
 * An Observable as RxJS and `@microsoft/signalr`'s `Subject` shape it: anything with a
 * `subscribe` that takes an observer. An argument of this shape is uploaded as a stream, as the
 * official client does: each `next` becomes a stream item, `error` and `complete` end the
 * stream, and it is unsubscribed when the call ends first. It cannot be paused, so its items are
 * queued as they come; prefer a {@linkcode Subject} or a `ReadableStream` for backpressure.
 *
 * @example Upload an RxJS Subject
 * ```ts ignore
 * import { Subject as RxSubject } from "rxjs";
 * const subject = new RxSubject<number>();
 * const done = connection.send("UploadNumbers", subject);
 * subject.next(1);
 * subject.complete();
 * await done;
 * ```
 */
export interface ObservableLike<T = unknown> {
  /** Starts delivering to `observer`; the returned subscription stops it. */
  subscribe(observer: {
    next(value: T): void;
    error(error: unknown): void;
    complete(): void;
  }): { unsubscribe(): void } | undefined | void;
}

/** Whether an argument is streamed rather than sent as a value. */
export function isUpload(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  return value instanceof Subject || value instanceof ReadableStream ||
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function" ||
    isObservable(value);
}

function isObservable(value: unknown): value is ObservableLike {
  return typeof (value as { subscribe?: unknown }).subscribe === "function";
}

/** Checks, before anything is sent, that an upload argument can still be read. */
export function checkUpload(value: unknown): void {
  if (value instanceof Subject && value.attached) {
    throw new TypeError(
      "This Subject is already attached to a call; use a new Subject for each call.",
    );
  }
  if (value instanceof ReadableStream && value.locked) {
    throw new TypeError(
      "This ReadableStream is locked (already read or piped); it cannot be uploaded.",
    );
  }
}

/**
 * Sends every item of `value` as StreamItems, then a Completion. When `stop` aborts (the server
 * completed the call, or the connection closed) the source is cancelled and nothing more is
 * sent. Resolves when done; rejects only when writing failed.
 */
export function pumpUpload(
  value: unknown,
  streamId: string,
  writer: UploadWriter,
  stop: AbortSignal,
): Promise<void> {
  if (value instanceof Subject) return pumpSubject(value, streamId, writer, stop);
  if (value instanceof ReadableStream) return pumpReadable(value, streamId, writer, stop);
  if (
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== "function" &&
    isObservable(value)
  ) {
    return pumpObservable(value, streamId, writer, stop);
  }
  return pumpIterable(value as AsyncIterable<unknown>, streamId, writer, stop);
}

function pumpSubject(
  subject: Subject<unknown>,
  streamId: string,
  writer: UploadWriter,
  stop: AbortSignal,
): Promise<void> {
  const ended = Promise.withResolvers<void>();
  let attachment: SubjectAttachment | undefined = undefined;
  const finish = (error: string | undefined) => {
    stop.removeEventListener("abort", onStop);
    const written = writer.end(streamId, error);
    written.then(ended.resolve, ended.reject);
    return written;
  };
  // Stop at once, not later: a next() after the server completed the call must reject, never
  // be taken and dropped.
  const onStop = () => {
    attachment?.stop(stop.reason);
    ended.resolve();
  };
  attachment = attachSubject(subject, {
    item: (item) => {
      try {
        return writer.item(streamId, item);
      } catch (error) {
        // The item cannot be sent (say, it does not encode): the server must not wait forever.
        finish(describe(error)).catch(() => {});
        throw error;
      }
    },
    end: (failure) => finish(failure ? describe(failure.error) : undefined),
  });
  if (stop.aborted) onStop();
  else stop.addEventListener("abort", onStop, { once: true });
  return ended.promise;
}

// An Observable pushes and cannot be paused: its items are queued in order as they come (the
// outbox's backpressure cannot reach it). It is unsubscribed when the call ends first.
function pumpObservable(
  source: ObservableLike,
  streamId: string,
  writer: UploadWriter,
  stop: AbortSignal,
): Promise<void> {
  const ended = Promise.withResolvers<void>();
  let done = false;
  let subscription: { unsubscribe(): void } | undefined | void;
  const unsubscribe = () => {
    try {
      subscription?.unsubscribe();
    } catch {
      // The source's own failure to let go changes nothing here.
    }
  };
  const finish = (error: string | undefined) => {
    if (done) return;
    done = true;
    stop.removeEventListener("abort", onStop);
    unsubscribe();
    writer.end(streamId, error).then(ended.resolve, ended.reject);
  };
  const onStop = () => {
    if (done) return;
    done = true;
    unsubscribe();
    ended.resolve();
  };
  if (stop.aborted) {
    onStop();
    return ended.promise;
  }
  stop.addEventListener("abort", onStop, { once: true });
  try {
    subscription = source.subscribe({
      next: (item) => {
        if (done) return;
        try {
          // A rejection means the connection ended; the call fails with that already.
          writer.item(streamId, item)?.catch(() => {});
        } catch (error) {
          finish(describe(error));
        }
      },
      error: (error) => finish(describe(error)),
      complete: () => finish(undefined),
    });
  } catch (error) {
    finish(describe(error));
  }
  // It may have ended during subscribe(), before the subscription existed.
  if (done) unsubscribe();
  return ended.promise;
}

function pumpReadable(
  source: ReadableStream<unknown>,
  streamId: string,
  writer: UploadWriter,
  stop: AbortSignal,
): Promise<void> {
  const reader = source.getReader();
  // Cancelling the reader also ends a read in progress, so no race is needed.
  return pumpLoop(streamId, writer, stop, {
    next: () => reader.read(),
    cancel: (reason) => void reader.cancel(reason).catch(() => {}),
    done: () => reader.releaseLock(),
  });
}

function pumpIterable(
  source: AsyncIterable<unknown>,
  streamId: string,
  writer: UploadWriter,
  stop: AbortSignal,
): Promise<void> {
  const iterator = source[Symbol.asyncIterator]();
  const stopped = Promise.withResolvers<IteratorResult<unknown>>();
  // A generator's next() cannot be interrupted: it races the stop. return() is not awaited,
  // since a generator stuck in its own await would hold the caller forever.
  return pumpLoop(streamId, writer, stop, {
    next: () => Promise.race([iterator.next(), stopped.promise]),
    cancel: (reason) => {
      stopped.resolve({ done: true, value: undefined });
      void iterator.return?.(reason)?.catch(() => {});
    },
    done: () => {},
  });
}

interface Source {
  next(): Promise<{ done?: boolean; value?: unknown }>;
  /** Stops the source; a pending next() must then settle. */
  cancel(reason: unknown): void;
  done(): void;
}

async function pumpLoop(
  streamId: string,
  writer: UploadWriter,
  stop: AbortSignal,
  source: Source,
): Promise<void> {
  const onStop = () => source.cancel(stop.reason);
  if (stop.aborted) onStop();
  else stop.addEventListener("abort", onStop, { once: true });
  let failure: string | undefined;
  try {
    for (;;) {
      const result = await source.next();
      if (result.done || stop.aborted) break;
      const wait = writer.item(streamId, result.value);
      if (wait) await wait;
    }
  } catch (error) {
    if (stop.aborted) return;
    // Whether the source or the connection failed, nothing more will be read from it.
    failure = describe(error);
    source.cancel(error);
  } finally {
    stop.removeEventListener("abort", onStop);
    source.done();
  }
  if (stop.aborted) return;
  await writer.end(streamId, failure);
}
