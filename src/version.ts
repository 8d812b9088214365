/**
 * The version of this package, as `@microsoft/signalr` exports its own (it is also in the
 * `X-SignalR-User-Agent` header).
 *
 * @example
 * ```ts
 * import { VERSION } from "@signalrcore/client";
 * console.log(`@signalrcore/client ${VERSION}`);
 * ```
 */
export const VERSION = "0.1.0";
