// Server-to-client invocations that wait for the client's Completion (client results).
import type { CompletionMessage } from "../protocol/messages.ts";
import { TestHubError } from "./test_hub_error.ts";

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** The calls of one connection that wait for the client's answer. */
export class ClientResults {
  readonly #pending = new Map<string, Pending>();

  /**
   * Registers a call before its Invocation is written.
   *
   * @param id The invocation id.
   * @param method The client method, for error texts.
   * @param timeout Rejects after this many ms (0 or Infinity: never).
   * @param signal Rejects with its reason when aborted.
   */
  expect(id: string, method: string, timeout: number, signal?: AbortSignal): Promise<unknown> {
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => settle(() => reject(signal!.reason));
    const settle = (action: () => void) => {
      if (!this.#pending.delete(id)) return;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      action();
    };
    this.#pending.set(id, {
      resolve: (value) => settle(() => resolve(value)),
      reject: (error) => settle(() => reject(error)),
    });
    if (signal?.aborted) onAbort();
    else {
      signal?.addEventListener("abort", onAbort, { once: true });
      if (timeout > 0 && Number.isFinite(timeout)) {
        timer = setTimeout(
          () =>
            settle(() =>
              reject(
                new DOMException(
                  `The client did not answer '${method}' within ${timeout} ms.`,
                  "TimeoutError",
                ),
              )
            ),
          timeout,
        );
      }
    }
    return promise;
  }

  /** Settles the call a Completion answers; false when no call has that id. */
  answer(message: CompletionMessage): boolean {
    const pending = this.#pending.get(message.invocationId);
    if (!pending) return false;
    if (typeof message.error === "string") pending.reject(new TestHubError(message.error));
    else pending.resolve(message.result);
    return true;
  }

  /** Rejects a call (e.g. its Invocation could not be written). */
  fail(id: string, error: unknown): void {
    this.#pending.get(id)?.reject(error);
  }

  /** Rejects every call: the connection ended. */
  failAll(error: Error): void {
    for (const pending of [...this.#pending.values()]) pending.reject(error);
  }
}
