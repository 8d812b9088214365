// Runs hub methods for one connection: invocations, server streams, uploads, cancellation.
import {
  type CompletionMessage,
  type HubMessage,
  type InvocationMessage,
  MessageType,
  type StreamInvocationMessage,
  type StreamItemMessage,
} from "../protocol/messages.ts";
import {
  invocationError,
  nonStreamingCalledWithStream,
  notAStream,
  streamCountMismatch,
  streamingCalledWithInvoke,
  streamingError,
  unknownMethod,
} from "./_error_texts.ts";
import type { HubCallContext, HubMethodDefinition } from "./hub_method.ts";
import { UploadStream } from "./_upload_stream.ts";

// Yield to the event loop this often while streaming, so that a fast generator cannot starve
// the socket (and the CancelInvocation that would stop it).
const ITEMS_PER_TURN = 256;
const CONNECTION_CLOSED = "The underlying connection was closed.";

/** What the runner needs from its connection. */
export interface InvocationHost {
  /** The method for a target (case-insensitive), if the hub has it. */
  method(target: string): HubMethodDefinition | undefined;
  /** Include exception details in error texts. */
  readonly detailedErrors: boolean;
  /** Writes a message; does nothing once the connection is closed. */
  send(message: HubMessage): void;
  /** Resolves when the transport can take more, or `undefined` when it can now. */
  backpressure(): Promise<void> | undefined;
  /** The context passed to a method. */
  context(invocationId: string | undefined, signal: AbortSignal): HubCallContext;
}

interface Running {
  readonly controller: AbortController;
  iterator: AsyncIterator<unknown> | undefined;
  cancelled: boolean;
}

const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}).constructor;
const GeneratorFunction = Object.getPrototypeOf(function* () {}).constructor;

/** Whether a method is a server stream. */
export function isStreamMethod(definition: HubMethodDefinition): boolean {
  return definition.stream ??
    (definition.handler instanceof AsyncGeneratorFunction ||
      definition.handler instanceof GeneratorFunction);
}

/** The hub methods running for one connection. */
export class Invocations {
  readonly #host: InvocationHost;
  readonly #running = new Map<string, Running>();
  readonly #uploads = new Map<string, UploadStream>();
  readonly #tasks = new Set<Promise<unknown>>();
  #closed = false;

  constructor(host: InvocationHost) {
    this.#host = host;
  }

  /** Starts an Invocation or a StreamInvocation. */
  start(message: InvocationMessage | StreamInvocationMessage): void {
    if (this.#closed) return;
    const id = message.invocationId;
    const isStreamCall = message.type === MessageType.StreamInvocation;
    const target = message.target;
    const definition = this.#host.method(target);
    if (!definition) return this.#reply(id, unknownMethod(target));
    const isStreamMethod_ = isStreamMethod(definition);
    if (isStreamMethod_ && !isStreamCall) return this.#reply(id, streamingCalledWithInvoke(target));
    if (!isStreamMethod_ && isStreamCall) {
      return this.#reply(id, nonStreamingCalledWithStream(target));
    }
    const streamIds = message.streamIds ?? [];
    if (definition.streams && definition.streams.length !== streamIds.length) {
      return this.#reply(
        id,
        streamCountMismatch(target, streamIds.length, definition.streams.length),
      );
    }
    const uploads = streamIds.map((streamId) => {
      const upload = new UploadStream();
      this.#uploads.set(streamId, upload);
      return upload;
    });
    const running: Running = {
      controller: new AbortController(),
      iterator: undefined,
      cancelled: false,
    };
    if (id !== undefined) this.#running.set(id, running);
    const args = bind(message.arguments, uploads, definition.streams);
    args.push(this.#host.context(id, running.controller.signal));
    const task = isStreamCall
      ? this.#stream(id!, target, definition, args, running)
      : this.#invoke(id, target, definition, args);
    const tracked = task.finally(() => {
      if (id !== undefined && this.#running.get(id) === running) this.#running.delete(id);
      // Like ASP.NET Core's cleanup: the method is done, so are its uploads.
      for (const streamId of streamIds) {
        this.#uploads.get(streamId)?.end();
        this.#uploads.delete(streamId);
      }
      this.#tasks.delete(tracked);
    });
    this.#tasks.add(tracked);
  }

  /** Routes a StreamItem to its upload; false when no upload has that id. */
  item(message: StreamItemMessage): boolean {
    const upload = this.#uploads.get(message.invocationId);
    if (!upload) return false;
    upload.push(message.item);
    return true;
  }

  /** Ends an upload; false when no upload has that id. */
  complete(message: CompletionMessage): boolean {
    const upload = this.#uploads.get(message.invocationId);
    if (!upload) return false;
    this.#uploads.delete(message.invocationId);
    upload.end(typeof message.error === "string" ? new Error(message.error) : undefined);
    return true;
  }

  /** Handles a CancelInvocation: aborts the call's signal; a stream's iterator is returned. */
  cancel(id: string): void {
    const running = this.#running.get(id);
    if (running) {
      this.#stop(running, new DOMException("The client canceled the call.", "AbortError"));
    }
  }

  /** The connection ended: cancel every call and fail every upload. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const reason = new DOMException(CONNECTION_CLOSED, "AbortError");
    for (const running of this.#running.values()) this.#stop(running, reason);
    this.#running.clear();
    for (const upload of this.#uploads.values()) upload.end(new Error(CONNECTION_CLOSED));
    this.#uploads.clear();
  }

  /** Resolves when every method started so far has finished. */
  async settled(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  #stop(running: Running, reason: unknown): void {
    if (running.cancelled) return;
    running.cancelled = true;
    running.controller.abort(reason);
    const iterator = running.iterator;
    if (iterator?.return) {
      // Queued behind a pending next(): the generator's finally runs once it yields again.
      const returned = Promise.resolve()
        .then(() => iterator.return!())
        .catch(() => {})
        .finally(() => this.#tasks.delete(returned));
      this.#tasks.add(returned);
    }
  }

  #reply(id: string | undefined, error: string): void {
    if (id !== undefined) {
      this.#host.send({ type: MessageType.Completion, invocationId: id, error });
    }
  }

  async #invoke(
    id: string | undefined,
    target: string,
    definition: HubMethodDefinition,
    args: unknown[],
  ): Promise<void> {
    let completion: CompletionMessage;
    try {
      const result = await definition.handler(...args);
      completion = result === undefined
        ? { type: MessageType.Completion, invocationId: id! }
        : { type: MessageType.Completion, invocationId: id!, result };
    } catch (error) {
      completion = {
        type: MessageType.Completion,
        invocationId: id!,
        error: invocationError(target, error, this.#host.detailedErrors),
      };
    }
    if (id !== undefined) this.#host.send(completion);
  }

  async #stream(
    id: string,
    target: string,
    definition: HubMethodDefinition,
    args: unknown[],
    running: Running,
  ): Promise<void> {
    let error: string | undefined;
    try {
      let source: unknown;
      try {
        source = await definition.handler(...args);
      } catch (cause) {
        error = invocationError(target, cause, this.#host.detailedErrors);
        return;
      }
      const iterator = iteratorOf(source);
      if (!iterator) {
        error = notAStream(definition.handler.name || target);
        return;
      }
      running.iterator = iterator;
      if (running.cancelled) {
        await iterator.return?.();
        return;
      }
      for (let count = 1;; count++) {
        const next = await iterator.next();
        if (next.done || running.cancelled) break;
        this.#host.send({ type: MessageType.StreamItem, invocationId: id, item: next.value });
        const pressure = this.#host.backpressure();
        if (pressure) await pressure;
        else if (count % ITEMS_PER_TURN === 0) await nextTurn();
        if (running.cancelled) break;
      }
    } catch (cause) {
      if (!running.cancelled) error = streamingError(cause, this.#host.detailedErrors);
    } finally {
      // A canceled stream still gets a Completion without error, as on ASP.NET Core.
      this.#host.send(
        error === undefined
          ? { type: MessageType.Completion, invocationId: id }
          : { type: MessageType.Completion, invocationId: id, error },
      );
    }
  }
}

/** Puts the uploads among the plain arguments: at the declared positions, or after them. */
function bind(
  plain: readonly unknown[],
  uploads: readonly UploadStream[],
  positions: readonly number[] | undefined,
): unknown[] {
  if (!positions || uploads.length === 0) return [...plain, ...uploads];
  const at = new Map(positions.map((position, index) => [position, index]));
  const args: unknown[] = [];
  let p = 0;
  let placed = 0;
  for (let i = 0; p < plain.length || placed < uploads.length; i++) {
    const upload = at.get(i);
    if (upload !== undefined) {
      args.push(uploads[upload]);
      placed++;
    } else if (p < plain.length) args.push(plain[p++]);
    else args.push(undefined);
  }
  return args;
}

function iteratorOf(source: unknown): AsyncIterator<unknown> | undefined {
  if (source === null || typeof source !== "object") return undefined;
  const asyncIterable = source as Partial<AsyncIterable<unknown>>;
  if (typeof asyncIterable[Symbol.asyncIterator] === "function") {
    return asyncIterable[Symbol.asyncIterator]!();
  }
  const iterable = source as Partial<Iterable<unknown>>;
  if (typeof iterable[Symbol.iterator] === "function") {
    return (async function* () {
      yield* iterable as Iterable<unknown>;
    })();
  }
  return undefined;
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
