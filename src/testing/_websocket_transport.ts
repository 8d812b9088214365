// The WebSockets transport of a hub connection: one upgraded Deno.serve request.
import type { Cutter, ServerTransport, TransportEvents } from "./_server_transport.ts";

const noop = () => {};

/** A hub connection's WebSocket. */
export class WebSocketTransport implements ServerTransport {
  readonly name = "WebSockets";
  readonly binary = true;
  readonly inherentKeepAlive = false;
  readonly #socket: WebSocket;
  readonly #port: number;
  readonly #cutter: Cutter;

  /**
   * @param socket The upgraded socket.
   * @param port The port `Deno.serve` saw: the relay cuts and freezes by it.
   * @param cutter The relay.
   */
  constructor(socket: WebSocket, port: number, cutter: Cutter) {
    this.#socket = socket;
    this.#port = port;
    this.#cutter = cutter;
  }

  get writable(): boolean {
    return this.#socket.readyState === WebSocket.OPEN;
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  start(events: TransportEvents): void {
    const socket = this.#socket;
    socket.binaryType = "arraybuffer";
    socket.onopen = () => events.opened();
    socket.onmessage = (event) => {
      const data = event.data;
      events.frame(typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer));
    };
    // A close frame from the client ends the connection even with stateful reconnect (ASP.NET
    // Core's graceful close); a cut TCP connection does not.
    socket.onclose = (event) => events.closed(false, !event.wasClean);
    socket.onerror = noop;
  }

  write(frame: string | Uint8Array): void {
    // Text goes as a text frame, bytes as a binary frame: ASP.NET Core writes every frame of a
    // binary protocol's connection, its handshake response included, as binary.
    this.#socket.send(frame);
  }

  close(): void {
    try {
      this.#socket.close(1000);
    } catch {
      // already closing
    }
  }

  shutdown(): void {
    this.close();
  }

  drop(): Promise<void> {
    // The socket's close event reports the end once the relay has cut the TCP connection.
    return this.#cutter.abort(this.#port);
  }

  freeze(): void {
    this.#cutter.freeze(this.#port);
  }
}
