// Client-to-server streams: which arguments are uploads, and the loop that sends one.
import { Subject, subjectSource } from "./subject.ts";

/** Where an upload writes its items and its end. */
export interface UploadWriter {
  /** Sends one item; a returned promise means "wait before the next one" (backpressure). */
  item(streamId: string, item: unknown): Promise<void> | undefined;
  /** Sends the Completion of the stream, with an error text when the source failed. */
  end(streamId: string, error: string | undefined): Promise<void>;
}

/** Whether an argument is streamed rather than sent as a value. */
export function isUpload(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  return value instanceof Subject || value instanceof ReadableStream ||
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";
}

/** Checks, before anything is sent, that an upload argument can still be read. */
export function checkUpload(value: unknown): void {
  const readable = value instanceof Subject ? subjectSource(value).readable : value;
  if (readable instanceof ReadableStream && readable.locked) {
    throw new TypeError(
      value instanceof Subject
        ? "This Subject is already attached to a call; use a new Subject for each call."
        : "This ReadableStream is locked (already read or piped); it cannot be uploaded.",
    );
  }
}

/**
 * Sends every item of `value` as StreamItems, then a Completion. When `stop` aborts (the server
 * completed the call, or the connection closed) the source is cancelled and nothing more is
 * sent. Resolves when done; rejects only when writing failed.
 */
export async function pumpUpload(
  value: unknown,
  streamId: string,
  writer: UploadWriter,
  stop: AbortSignal,
): Promise<void> {
  const subject = value instanceof Subject ? subjectSource(value) : undefined;
  const source = subject ? subject.readable : value as ReadableStream | AsyncIterable<unknown>;
  const iterator = source instanceof ReadableStream
    ? readerIterator(source.getReader())
    : source[Symbol.asyncIterator]();
  const stopped = Promise.withResolvers<IteratorResult<unknown>>();
  // Cancel the source at once, not when the loop wakes up: a Subject's next() after the server
  // completed the call must reject, never be taken and dropped.
  const onStop = () => {
    stopped.resolve({ done: true, value: undefined });
    void iterator.return?.(stop.reason)?.catch(() => {});
  };
  if (stop.aborted) onStop();
  else stop.addEventListener("abort", onStop, { once: true });
  let failure: string | undefined;
  try {
    for (;;) {
      if (stop.aborted) break;
      const result = await Promise.race([iterator.next(), stopped.promise]);
      if (result.done || stop.aborted) break;
      const wait = writer.item(streamId, result.value);
      if (wait) await wait;
    }
  } catch (error) {
    if (stop.aborted) return;
    failure = errorText(error);
    // Whether the source or the connection failed, nothing more will be read from it.
    void iterator.return?.(error)?.catch(() => {});
  } finally {
    stop.removeEventListener("abort", onStop);
  }
  if (stop.aborted) return;
  const given = subject?.failure();
  if (given && failure === undefined) failure = errorText(given.error);
  await writer.end(streamId, failure);
}

function readerIterator(reader: ReadableStreamDefaultReader<unknown>): AsyncIterator<unknown> {
  return {
    next: () => reader.read() as Promise<IteratorResult<unknown>>,
    return: async (reason?: unknown) => {
      await reader.cancel(reason);
      reader.releaseLock();
      return { done: true, value: undefined };
    },
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
