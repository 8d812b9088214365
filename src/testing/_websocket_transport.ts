// The WebSockets transport of a hub connection: one upgraded request, on whichever runtime's
// server (a ServerSocket).
import type { ServerSocket } from "./_server_adapter.ts";
import type { Cutter, ServerTransport, TransportEvents } from "./_server_transport.ts";

/** A hub connection's WebSocket. */
export class WebSocketTransport implements ServerTransport {
  readonly name = "WebSockets";
  readonly binary = true;
  readonly inherentKeepAlive = false;
  readonly #socket: ServerSocket;
  readonly #port: number;
  readonly #cutter: Cutter;

  /**
   * @param socket The upgraded socket.
   * @param port The port the server saw: the relay cuts and freezes by it.
   * @param cutter The relay.
   */
  constructor(socket: ServerSocket, port: number, cutter: Cutter) {
    this.#socket = socket;
    this.#port = port;
    this.#cutter = cutter;
  }

  get writable(): boolean {
    return this.#socket.writable;
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  start(events: TransportEvents): void {
    this.#socket.start({
      open: () => events.opened(),
      message: (data) => events.frame(data),
      // A close frame from the client ends the connection even with stateful reconnect
      // (ASP.NET Core's graceful close); a cut TCP connection does not.
      close: (clean) => events.closed(false, !clean),
    });
  }

  write(frame: string | Uint8Array): void {
    // Text goes as a text frame, bytes as a binary frame: ASP.NET Core writes every frame of a
    // binary protocol's connection, its handshake response included, as binary.
    this.#socket.send(frame);
  }

  close(): void {
    this.#socket.close(1000);
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
