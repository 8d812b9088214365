/**
 * The states of a `HubConnection`.
 *
 * @module
 */

/**
 * Where a connection is in its life cycle.
 *
 * @example
 * ```ts
 * import { HubConnectionState } from "@signalrcore/client";
 * console.log(HubConnectionState.Connected); // "Connected"
 * ```
 */
export const HubConnectionState = {
  /** Not connected; `start()` may be called. */
  Disconnected: "Disconnected",
  /** `start()` is negotiating, connecting, or waiting for the handshake. */
  Connecting: "Connecting",
  /** Calls can be made. */
  Connected: "Connected",
  /**
   * The connection is closing: `stop()` was called, or the server or the transport ended it
   * without a reconnect to follow. Disconnected comes within the close timeout.
   */
  Disconnecting: "Disconnecting",
  /** The connection was lost and automatic reconnect is trying again. */
  Reconnecting: "Reconnecting",
} as const;

/**
 * One of the {@linkcode HubConnectionState} values.
 *
 * @example
 * ```ts
 * import { HubConnectionState } from "@signalrcore/client";
 * const state: HubConnectionState = HubConnectionState.Disconnected;
 * ```
 */
export type HubConnectionState = typeof HubConnectionState[keyof typeof HubConnectionState];
