/**
 * How {@linkcode TestHub} methods are declared and what they see of their caller.
 *
 * @module
 */
import type { TestHub } from "./test_hub.ts";
import type { TestHubClient } from "./test_hub_client.ts";

/**
 * A hub method: a plain function of the client's arguments, followed by a
 * {@linkcode HubCallContext} as an extra last argument.
 *
 * - It returns the result, or a promise of it (`undefined` → a Completion without result).
 * - An `async function*` (or a sync `function*`) is a server stream: each `yield` is a
 *   StreamItem; a CancelInvocation calls the generator's `return()`, so its `finally` runs.
 * - Throwing a {@linkcode TestHubError} sends its message as is; any other throw sends ASP.NET
 *   Core's generic "An unexpected error occurred invoking 'X' on the server."
 * - Parameters that receive client uploads get an `AsyncIterable`; by default they follow the
 *   plain arguments, see {@linkcode HubMethodOptions.streams}.
 *
 * @example
 * ```ts
 * import type { HubMethod } from "@signalrcore/client/testing";
 * const add: HubMethod = (a: number, b: number) => a + b;
 * ```
 */
// deno-lint-ignore no-explicit-any
export type HubMethod = (...args: any[]) => unknown;

/**
 * Declares how a hub method binds streams; pass it to `TestHub.method(options, handler)`.
 *
 * @example An upload in the middle of the parameters
 * ```ts
 * import { TestHub } from "@signalrcore/client/testing";
 * const mixed = TestHub.method(
 *   { streams: [1, 3] },
 *   async (prefix: string, a: AsyncIterable<number>, middle: number, b: AsyncIterable<number>) =>
 *     `${prefix}${middle}`,
 * );
 * ```
 */
export interface HubMethodOptions {
  /**
   * The 0-based positions of the parameters that receive client-to-server streams, in the
   * order of the invocation's `streamIds`. ASP.NET Core finds them from the parameter types;
   * JavaScript has none, so they are declared here. When set, a call with a different number of
   * streams fails like on ASP.NET Core. Default: any number of streams, after the plain
   * arguments.
   */
  readonly streams?: readonly number[];
  /**
   * Whether the method is a server stream (it returns an `AsyncIterable`, an `Iterable` or a
   * `ReadableStream`). Default: true for generator functions (`async function*`, `function*`).
   */
  readonly stream?: boolean;
}

/**
 * A hub method with its {@linkcode HubMethodOptions}; made by `TestHub.method`, or written as a
 * literal.
 *
 * @example
 * ```ts
 * import type { HubMethodDefinition } from "@signalrcore/client/testing";
 * const numbers: HubMethodDefinition = {
 *   stream: true,
 *   handler: () => ReadableStream.from([1, 2, 3]),
 * };
 * ```
 */
export interface HubMethodDefinition extends HubMethodOptions {
  /** The function that runs. */
  readonly handler: HubMethod;
}

/**
 * The caller of a hub method, passed as the extra last argument.
 *
 * @example Join a group, then answer
 * ```ts
 * import { type HubCallContext, TestHub } from "@signalrcore/client/testing";
 * await using hub = await TestHub.serve({
 *   methods: {
 *     Join: (group: string, context: HubCallContext) => {
 *       context.join(group);
 *       return context.connectionId;
 *     },
 *   },
 * });
 * ```
 */
export interface HubCallContext {
  /** The caller's public connection id. */
  readonly connectionId: string;
  /** The call's invocation id; `undefined` for `send` (no answer wanted). */
  readonly invocationId: string | undefined;
  /** The headers of the caller's WebSocket upgrade request. */
  readonly headers: Headers;
  /** The query of the caller's WebSocket request (without `id`). */
  readonly query: URLSearchParams;
  /** The bearer token the caller connected with, if any. */
  readonly accessToken: string | undefined;
  /** Aborted when the client cancels this call (CancelInvocation) or disconnects. */
  readonly signal: AbortSignal;
  /** The caller's connection: send to it, call it, fault-inject it. */
  readonly client: TestHubClient;
  /** The hub. */
  readonly hub: TestHub;
  /**
   * Adds the caller to a group.
   *
   * @param group The group name.
   */
  join(group: string): void;
  /**
   * Removes the caller from a group.
   *
   * @param group The group name.
   */
  leave(group: string): void;
}
