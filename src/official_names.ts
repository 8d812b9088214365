/**
 * `@microsoft/signalr`'s names for this package's types, so that code written against it
 * type-checks after changing the import.
 *
 * @module
 */
import type { HttpConnectionOptions } from "./connection/http_connection_options.ts";
import type { StreamObserver, Subscription } from "./hub_stream.ts";
import type { Logger } from "./logger.ts";
import type { HubProtocol } from "./protocol/hub_protocol.ts";
import type { RetryPolicy } from "./retry_policy.ts";

/**
 * `@microsoft/signalr`'s name for {@linkcode Logger}.
 *
 * @example
 * ```ts
 * import type { ILogger } from "@signalrcore/client";
 * const logger: ILogger = { log: (level, message) => console.log(level, message) };
 * ```
 */
export type ILogger = Logger;

/**
 * `@microsoft/signalr`'s name for {@linkcode HubProtocol}.
 *
 * @example
 * ```ts
 * import { type IHubProtocol, JsonHubProtocol } from "@signalrcore/client";
 * const protocol: IHubProtocol = new JsonHubProtocol();
 * ```
 */
export type IHubProtocol = HubProtocol;

/**
 * `@microsoft/signalr`'s name for {@linkcode HttpConnectionOptions}.
 *
 * @example
 * ```ts
 * import { HttpTransportType, type IHttpConnectionOptions } from "@signalrcore/client";
 * const options: IHttpConnectionOptions = { transport: HttpTransportType.WebSockets };
 * ```
 */
export type IHttpConnectionOptions = HttpConnectionOptions;

/**
 * `@microsoft/signalr`'s name for {@linkcode RetryPolicy}.
 *
 * @example
 * ```ts
 * import type { IRetryPolicy } from "@signalrcore/client";
 * const policy: IRetryPolicy = { nextRetryDelayInMilliseconds: () => 1_000 };
 * ```
 */
export type IRetryPolicy = RetryPolicy;

/**
 * `@microsoft/signalr`'s name for {@linkcode StreamObserver}.
 *
 * @example
 * ```ts
 * import type { IStreamSubscriber } from "@signalrcore/client";
 * const subscriber: IStreamSubscriber<number> = { next: (n) => console.log(n) };
 * ```
 */
export type IStreamSubscriber<T> = StreamObserver<T>;

/**
 * `@microsoft/signalr`'s name for {@linkcode Subscription} (here it ends with `dispose()`, as
 * there).
 *
 * @example
 * ```ts
 * import type { ISubscription } from "@signalrcore/client";
 * const stop = (subscription: ISubscription<number>) => subscription.dispose();
 * ```
 */
export type ISubscription<T = unknown> = Subscription;
