/**
 * Types that turn two interfaces, the hub's methods and the client's, into a checked API for
 * `send`, `invoke`, `stream` and `on`. Types only: nothing here exists at run time.
 *
 * @module
 */
import type { Subject } from "./subject.ts";
import type { ObservableLike } from "./_uploads.ts";

/**
 * The hub type of a connection built without type arguments: any method name, `unknown`
 * results unless the caller names a type.
 *
 * @example
 * ```ts
 * import { type HubConnection, HubConnectionBuilder, type UntypedHub } from "@signalrcore/client";
 * const connection: HubConnection<UntypedHub, UntypedHub> = new HubConnectionBuilder()
 *   .withUrl("http://localhost:5000/hub")
 *   .build();
 * ```
 */
export interface UntypedHub {
  /** A brand that no real hub interface has. */
  readonly "@signalrcore/client untyped hub": true;
}

/**
 * What the client may pass for a server parameter: an `AsyncIterable<T>` parameter (C#
 * `IAsyncEnumerable<T>` or `ChannelReader<T>`) takes a `Subject<T>`, a `ReadableStream<T>` or
 * any `AsyncIterable<T>`; everything else takes its own type.
 *
 * @example
 * ```ts
 * import type { Subject, UploadArgument } from "@signalrcore/client";
 * const upload: UploadArgument<AsyncIterable<string>> = null as unknown as Subject<string>;
 * ```
 */
export type UploadArgument<P> = P extends string ? P
  : P extends AsyncIterable<infer T>
    ? Subject<T> | ReadableStream<T> | AsyncIterable<T> | ObservableLike<T>
  : P;

/**
 * The client-side argument list of a server method.
 *
 * @example
 * ```ts
 * import type { ServerArguments } from "@signalrcore/client";
 * interface Hub { Add(a: number, b: number): number }
 * const args: ServerArguments<Hub, "Add"> = [1, 2];
 * ```
 */
export type ServerArguments<Server, M extends keyof Server> = Server[M] extends
  (...args: infer P) => unknown ? { [K in keyof P]: UploadArgument<P[K]> }
  : never;

/**
 * The names of `Server`'s methods (any string for an untyped hub).
 *
 * @example
 * ```ts
 * import type { ServerMethodName } from "@signalrcore/client";
 * interface Hub { Add(a: number, b: number): number }
 * const name: ServerMethodName<Hub> = "Add";
 * ```
 */
export type ServerMethodName<Server> = Server extends UntypedHub ? string
  :
    & { [K in keyof Server]: Server[K] extends (...args: never) => unknown ? K : never }[
      keyof Server
    ]
    & string;

/**
 * The names of `Server`'s streaming methods: those returning an `AsyncIterable` or a
 * `ReadableStream` (any string for an untyped hub).
 *
 * @example
 * ```ts
 * import type { ServerStreamName } from "@signalrcore/client";
 * interface Hub { Counter(n: number): AsyncIterable<number>; Add(a: number): number }
 * const name: ServerStreamName<Hub> = "Counter";
 * ```
 */
export type ServerStreamName<Server> = Server extends UntypedHub ? string
  :
    & {
      [K in keyof Server]: Server[K] extends
        (...args: never[]) => AsyncIterable<unknown> | ReadableStream<unknown> ? K
        : never;
    }[keyof Server]
    & string;

/**
 * The arguments of a call: `unknown[]` for an untyped hub.
 *
 * @example
 * ```ts
 * import type { CallArguments } from "@signalrcore/client";
 * interface Hub { Add(a: number, b: number): number }
 * const args: CallArguments<Hub, "Add"> = [1, 2];
 * ```
 */
export type CallArguments<Server, M> = Server extends UntypedHub ? unknown[]
  : M extends keyof Server ? ServerArguments<Server, M>
  : never;

/**
 * What `invoke` resolves to: the awaited return type, or `T` (default `unknown`) when untyped.
 *
 * @example
 * ```ts
 * import type { InvokeResult } from "@signalrcore/client";
 * interface Hub { Add(a: number, b: number): Promise<number> }
 * const sum: InvokeResult<Hub, "Add", never> = 3;
 * ```
 */
export type InvokeResult<Server, M, T> = Server extends UntypedHub
  ? ([T] extends [never] ? unknown : T)
  : M extends keyof Server ? Server[M] extends (...args: never) => infer R ? Awaited<R> : never
  : never;

/**
 * The item type of a server stream, or `T` (default `unknown`) when untyped.
 *
 * @example
 * ```ts
 * import type { StreamItemType } from "@signalrcore/client";
 * interface Hub { Counter(n: number): AsyncIterable<number> }
 * const item: StreamItemType<Hub, "Counter", never> = 1;
 * ```
 */
export type StreamItemType<Server, M, T> = Server extends UntypedHub
  ? ([T] extends [never] ? unknown : T)
  : M extends keyof Server ? Server[M] extends (...args: never[]) => AsyncIterable<infer I> ? I
    : Server[M] extends (...args: never[]) => ReadableStream<infer I> ? I
    : never
  : never;

/**
 * The options form of a call, typed by the hub.
 *
 * @example
 * ```ts
 * import type { TypedCallOptions } from "@signalrcore/client";
 * interface Hub { Add(a: number, b: number): number }
 * const call: TypedCallOptions<Hub, "Add"> = { method: "Add", args: [1, 2], timeout: 5_000 };
 * ```
 */
export interface TypedCallOptions<Server, M extends string> {
  /** The hub method. */
  method: M;
  /** The arguments; `Subject`s, `ReadableStream`s and async iterables are uploaded as streams. */
  args?: Readonly<CallArguments<Server, M>>;
  /** Aborting sends a CancelInvocation (when the call has an id) and rejects with the reason. */
  signal?: AbortSignal;
  /** Aborts the call after this many ms, with a `TimeoutError` `DOMException`. */
  timeout?: number;
}

/**
 * The names of the methods the server may call on the client (any string when untyped).
 *
 * @example
 * ```ts
 * import type { ClientMethodName } from "@signalrcore/client";
 * interface Client { ReceiveMessage(user: string, text: string): void }
 * const name: ClientMethodName<Client> = "ReceiveMessage";
 * ```
 */
export type ClientMethodName<Client> = Client extends UntypedHub ? string
  :
    & { [K in keyof Client]: Client[K] extends (...args: never) => unknown ? K : never }[
      keyof Client
    ]
    & string;

/**
 * A handler for a client method the server calls. Untyped, its parameters are `unknown` unless
 * annotated; typed, they are the interface's, and a method with a return type is a client
 * result: the handler returns that type or a promise of it.
 *
 * @example
 * ```ts
 * import type { ClientHandler } from "@signalrcore/client";
 * interface Client { GetName(): string }
 * const handler: ClientHandler<Client, "GetName"> = async () => "ada";
 * ```
 */
export type ClientHandler<Client, M> = Client extends UntypedHub ? ClientMethod
  : M extends keyof Client
    ? Client[M] extends (...args: infer P) => infer R
      ? (...args: P) => Awaited<R> | Promise<Awaited<R>>
    : never
  : never;

/**
 * An untyped handler: parameters are `unknown` unless the handler annotates them (they are
 * checked bivariantly, as methods are), and its result answers a client-result call.
 *
 * @example
 * ```ts
 * import type { ClientMethod } from "@signalrcore/client";
 * const handler: ClientMethod = (user, text) => console.log(user, text);
 * const typedParameters: ClientMethod = (n: number) => n * 2;
 * ```
 */
export type ClientMethod = {
  bivariant(...args: unknown[]): unknown;
}["bivariant"];
