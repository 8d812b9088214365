// The methods the server calls on the client: the handler registry, and the answer to a call
// that expects a result (client results).
import { describe } from "./errors.ts";
import { type Logger, LogLevel } from "./logger.ts";
import {
  type CompletionMessage,
  type InvocationMessage,
  MessageType,
} from "./protocol/messages.ts";
import type { ClientMethod } from "./typed_hub.ts";

/** Handlers by method name, matched case-insensitively. */
export class ClientMethods {
  readonly #handlers = new Map<string, ClientMethod[]>();
  readonly #owner: unknown;
  readonly #logger: Logger;

  /** `owner` is the `this` of every handler call. */
  constructor(owner: unknown, logger: Logger) {
    this.#owner = owner;
    this.#logger = logger;
  }

  /** Adds a handler (once); returns a function that removes it. */
  add(method: string, handler: ClientMethod): () => void {
    const key = method.toLowerCase();
    const list = this.#handlers.get(key);
    if (list) {
      if (!list.includes(handler)) list.push(handler);
    } else this.#handlers.set(key, [handler]);
    return () => this.remove(key, handler);
  }

  /** Removes one handler, or all handlers of the method. */
  remove(method: string, handler: ClientMethod | undefined): void {
    const key = method.toLowerCase();
    if (!handler) {
      this.#handlers.delete(key);
      return;
    }
    const list = this.#handlers.get(key);
    if (!list) return;
    const index = list.indexOf(handler);
    if (index !== -1) list.splice(index, 1);
    if (list.length === 0) this.#handlers.delete(key);
  }

  /**
   * Runs the handlers of a server invocation. When the server expects a result (the message has
   * an id), returns the Completion to send back; a handler's failure is logged, never thrown.
   */
  call(message: InvocationMessage): Promise<CompletionMessage> | undefined {
    const handlers = this.#handlers.get(message.target.toLowerCase())?.slice();
    const id = message.invocationId;
    if (!handlers) {
      this.#logger.log(
        LogLevel.Warning,
        `No handler registered for the client method '${message.target}'.`,
      );
      if (id === undefined) return undefined;
      return Promise.resolve({
        type: MessageType.Completion,
        invocationId: id,
        // @microsoft/signalr's text: servers log it and users search for it.
        error: "Client didn't provide a result.",
      });
    }
    const args = message.arguments as unknown[];
    if (id !== undefined) return this.#answer(message.target, id, handlers, args);
    for (const handler of handlers) {
      try {
        const result = handler.apply(this.#owner, args);
        if (isThenable(result)) result.then(undefined, (error) => this.#failed(message, error));
      } catch (error) {
        this.#failed(message, error);
      }
    }
    return undefined;
  }

  async #answer(
    target: string,
    id: string,
    handlers: ClientMethod[],
    args: unknown[],
  ): Promise<CompletionMessage> {
    try {
      const results = await Promise.all(
        handlers.map((handler) => handler.apply(this.#owner, args)),
      );
      const given = results.filter((value) => value !== undefined);
      if (handlers.length > 1 && given.length > 1) {
        throw new Error(`Client method '${target}' has several handlers that returned a result.`);
      }
      // undefined is an answer too: it goes as null, so that the server gets a value.
      const result = handlers.length === 1 ? results[0] : given[0];
      return { type: MessageType.Completion, invocationId: id, result: result ?? null };
    } catch (error) {
      this.#logger.log(LogLevel.Warning, `Client method '${target}' failed: ${describe(error)}`);
      // The error's string form ("Error: from callback"), as @microsoft/signalr sends it, so
      // that a server sees the same text whichever client answered.
      return { type: MessageType.Completion, invocationId: id, error: String(error) };
    }
  }

  #failed(message: InvocationMessage, error: unknown): void {
    this.#logger.log(
      LogLevel.Error,
      `A handler of the client method '${message.target}' threw: ${describe(error)}`,
    );
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === "function";
}
