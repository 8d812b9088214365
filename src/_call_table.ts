// What is in flight on a connection: pending invocations, open server streams, ids cancelled
// on the server, and uploads. The receive path ends here for results and stream items; and
// when the connection goes away, one call fails them all with its cause.
import { ConnectionClosedError, HubError } from "./errors.ts";
import { type Logger, LogLevel } from "./logger.ts";
import type { CompletionMessage, StreamItemMessage } from "./protocol/messages.ts";
import type { StreamFeed } from "./_stream_feed.ts";

/** A pending invocation's settlement. */
export interface PendingCall {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** An open server stream. */
export interface OpenStream {
  readonly feed: StreamFeed<unknown>;
  /** Releases what the call holds (its signal listener, its uploads). */
  end(): void;
}

const MAX_REMEMBERED_CANCELS = 1024;

/** The calls of one `HubConnection`, across its transports. */
export class CallTable {
  readonly #logger: Logger;
  // One counter for invocations and upload streams, never reset (not even on reconnect).
  #nextId = 0;
  // Created on first use, like the rest: an idle connection would otherwise keep two empty
  // Maps (about half a kilobyte each).
  //
  // The pending calls are a null-prototype object, not a Map: a Map that takes and loses an entry
  // per call rehashes every few dozen calls, and V8 links each obsolete table to its successor
  // (for live iterators). Once one table is promoted, that dead table keeps the next one, and the
  // calls it holds, alive through every scavenge, which promotes them in turn: pipelined invokes
  // promoted all their calls and spent 32% of the window in GC on Node (bench/README.md, "On
  // Node"). A dictionary-mode object has no such link.
  #pending: Record<string, PendingCall> | undefined;
  #streams: Map<string, OpenStream> | undefined;
  #cancelled: Set<string> | undefined;
  /** Unknown ids already warned about: a server that floods one is logged once, not per item. */
  #unknown: Set<string> | undefined;
  #uploads: Set<AbortController> | undefined;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** A fresh invocation or stream id. */
  nextId(): string {
    return String(this.#nextId++);
  }

  addCall(id: string, call: PendingCall): void {
    (this.#pending ??= Object.create(null) as Record<string, PendingCall>)[id] = call;
  }

  /** Returns the call and forgets it. */
  takeCall(id: string): PendingCall | undefined {
    const pending = this.#pending;
    if (pending === undefined) return undefined;
    const call = pending[id];
    if (call !== undefined) delete pending[id];
    return call;
  }

  addStream(id: string, open: OpenStream): void {
    (this.#streams ??= new Map()).set(id, open);
  }

  /** Forgets a stream; `false` when it was not open. */
  removeStream(id: string): boolean {
    return this.#streams?.delete(id) ?? false;
  }

  /** Keeps an upload's stop switch until it ends, so that a failing connection can stop it. */
  addUpload(stop: AbortController): void {
    (this.#uploads ??= new Set()).add(stop);
  }

  removeUpload(stop: AbortController): void {
    this.#uploads?.delete(stop);
  }

  /** Remembers an id cancelled on the server: what still comes for it is dropped quietly. */
  cancelled(id: string): void {
    const cancelled = this.#cancelled ??= new Set();
    cancelled.add(id);
    if (cancelled.size > MAX_REMEMBERED_CANCELS) {
      cancelled.delete(cancelled.values().next().value!);
    }
  }

  item(message: StreamItemMessage): void {
    const open = this.#streams?.get(message.invocationId);
    if (open) open.feed.push(message.item);
    else this.#unknownId("StreamItem", message.invocationId);
  }

  completion(message: CompletionMessage): void {
    const id = message.invocationId;
    const pending = this.takeCall(id);
    if (pending) {
      if (message.error !== undefined) pending.reject(new HubError(message.error));
      else pending.resolve(message.result);
      return;
    }
    const open = this.#streams?.get(id);
    if (open) {
      this.#streams!.delete(id);
      open.end();
      if (message.error !== undefined) open.feed.fail(new HubError(message.error));
      else open.feed.complete();
      return;
    }
    this.#unknownId("Completion", id);
  }

  #unknownId(kind: string, id: string): void {
    if (this.#cancelled?.has(id)) {
      if (kind === "Completion") this.#cancelled.delete(id);
      return;
    }
    const unknown = this.#unknown ??= new Set();
    if (unknown.has(id)) return;
    unknown.add(id);
    if (unknown.size > MAX_REMEMBERED_CANCELS) unknown.delete(unknown.values().next().value!);
    this.#logger.log(
      LogLevel.Warning,
      `Ignoring a ${kind} for unknown invocation id '${id}' (and anything more for it); the connection stays open.`,
    );
  }

  /**
   * Fails everything in flight with a {@linkcode ConnectionClosedError} whose `cause` is why the
   * connection went away; cancelled ids are forgotten (their connection is gone).
   */
  failAll(cause: Error | undefined, message: string): void {
    this.#cancelled = undefined;
    const uploads = this.#uploads;
    const pending = this.#pending ? Object.values(this.#pending) : [];
    const streams = [...this.#streams?.values() ?? []];
    this.#pending = undefined;
    this.#streams = undefined;
    this.#uploads = undefined;
    // Most stops have nothing in flight: no error object (and no stack trace) is made then.
    if (pending.length === 0 && streams.length === 0 && uploads === undefined) return;
    const error = new ConnectionClosedError(message, { cause });
    for (const call of pending) call.reject(error);
    for (const open of streams) {
      open.end();
      open.feed.fail(error);
    }
    for (const upload of uploads ?? []) upload.abort(error);
  }
}
