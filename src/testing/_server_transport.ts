// What a hub connection needs from its transport, whichever it is: the connection logic
// (handshake, dispatch, timers, Close) lives once in ServerConnection; each transport is a small
// adapter that moves frames and knows how to end, cut and freeze itself.
import type { TestHubTransport } from "./test_hub_client.ts";

/** What a transport reports to its connection. */
export interface TransportEvents {
  /** The transport can carry frames: the handshake timeout starts now. */
  opened(): void;
  /** Data from the client: one WebSocket message, or the body of one POST. */
  frame(data: string | Uint8Array): void;
  /**
   * The transport has ended; called once. `timedOut`: a Long Polling client stopped polling.
   * `lost`: a WebSocket ended without a close frame from the client (a network drop), which a
   * stateful reconnect connection survives.
   */
  closed(timedOut?: boolean, lost?: boolean): void;
}

/** Cuts and freezes TCP connections by the port that `Deno.serve` saw (the TCP relay). */
export interface Cutter {
  /** Cuts the TCP connection; resolves once it is closed. */
  abort(port: number): Promise<void>;
  /** Stops the TCP connection passing anything on, keeping it open. */
  freeze(port: number): void;
  /** Resolves when the client has ended the TCP connection (or it was cut). */
  clientEnded(port: number): Promise<void>;
}

/** One transport of one connection, on the hub's side. */
export interface ServerTransport {
  readonly name: TestHubTransport;
  /**
   * Whether the transport carries binary data (the Binary transfer format): WebSockets (binary
   * frames) and Long Polling do; Server-Sent Events carry text only.
   */
  readonly binary: boolean;
  /** Long Polling keeps itself alive: no pings, and no client timeout but its own. */
  readonly inherentKeepAlive: boolean;
  /** Whether `write` may be called. */
  readonly writable: boolean;
  /** Bytes written that the client has not taken yet. */
  readonly bufferedAmount: number;
  /** Starts delivering events; called once, by the connection. */
  start(events: TransportEvents): void;
  /** Sends one frame (text, or bytes: a binary WebSocket frame); only while `writable`. */
  write(frame: string | Uint8Array): void;
  /** Ends the transport normally, once what was written is delivered; `closed` follows. */
  close(): void;
  /**
   * Ends the transport for the hub's shutdown, without waiting for the client: what was
   * written goes out only with a request already waiting (as when ASP.NET Core stops).
   */
  shutdown(): void;
  /** Cuts the transport without a goodbye; resolves once `closed` has been reported. */
  drop(): Promise<void>;
  /** Nothing more is delivered either way from now on, until `drop()`. */
  freeze(): void;
}
