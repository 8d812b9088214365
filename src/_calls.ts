// The caller's side of send, invoke and stream: checking a call's arguments, its options form,
// its abort signal and timeout, and the Invocation message it becomes.
import type { CallOptions } from "./hub_connection.ts";
import { type InvocationMessage, MessageType } from "./protocol/messages.ts";

type Timer = ReturnType<typeof setTimeout>;

/** A call's arguments with the uploads taken out. */
export interface Prepared {
  readonly args: readonly unknown[];
  readonly streamIds: readonly string[];
  readonly uploads: readonly { id: string; value: unknown }[];
}

/** The Invocation message of a call (`id` undefined: no reply wanted). */
export function invocation(
  target: string,
  id: string | undefined,
  prepared: Prepared,
): InvocationMessage {
  const message: {
    type: typeof MessageType.Invocation;
    target: string;
    arguments: readonly unknown[];
    invocationId?: string;
    streamIds?: readonly string[];
  } = { type: MessageType.Invocation, target, arguments: prepared.args };
  if (id !== undefined) message.invocationId = id;
  if (prepared.streamIds.length > 0) message.streamIds = prepared.streamIds;
  return message;
}

/** Checks a call's two forms and returns its options. */
export function toCall(
  method: string | CallOptions,
  args: unknown[],
): Required<Pick<CallOptions, "method" | "args">> & CallOptions {
  if (typeof method === "string") {
    checkMethod(method);
    return { method, args };
  }
  if (typeof method !== "object" || method === null) {
    throw new TypeError("The first argument must be a method name or a { method, args } object.");
  }
  checkMethod(method.method);
  if (args.length > 0) {
    throw new TypeError("With the options form, pass the arguments in `args`, not after it.");
  }
  if (method.timeout !== undefined && !(method.timeout > 0)) {
    throw new TypeError(`timeout must be a positive number of ms; got ${method.timeout}.`);
  }
  return { ...method, args: method.args ?? [] };
}

/** Throws a TypeError unless `method` is a non-empty string. */
export function checkMethod(method: unknown): asserts method is string {
  if (typeof method !== "string" || method.length === 0) {
    throw new TypeError("The method name must be a non-empty string.");
  }
}

/** Runs `onAbort` once when the call's signal aborts or its timeout passes; returns a cleanup. */
export function watch(
  call: CallOptions,
  onAbort: (reason: unknown) => void,
): (() => void) | undefined {
  const { signal, timeout } = call;
  if (!signal && timeout === undefined) return undefined;
  let timer: Timer | undefined;
  const cleanup = () => {
    signal?.removeEventListener("abort", onSignal);
    clearTimeout(timer);
  };
  const fire = (reason: unknown) => {
    cleanup();
    onAbort(reason);
  };
  const onSignal = () => fire(signal!.reason);
  signal?.addEventListener("abort", onSignal, { once: true });
  if (timeout !== undefined) {
    timer = setTimeout(
      () =>
        fire(
          new DOMException(
            `The call '${call.method}' timed out after ${timeout} ms.`,
            "TimeoutError",
          ),
        ),
      timeout,
    );
  }
  return cleanup;
}
