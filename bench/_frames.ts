// Counts the WebSocket messages every client receives, so that CPU per item can be read against
// the server's batching: ASP.NET Core writes whatever its pipe holds as one message, so the items
// per message (and the runtime's fixed cost per message) change from run to run. A subclass of
// the global constructor wraps every "message" listener at the same cost for each client (one
// extra call per message): ours adds a listener, and Deno's `onmessage` setter, which bare and
// official-native use, adds its handler through this same addEventListener. The official client
// with default options uses the `ws` package's WebSocket instead, which this subclass never sees:
// bench/_official.ts hands that socket to countMessagesOf, which adds one more "message" listener
// (again one extra call per message).
let frames = 0;

/** Messages received by every WebSocket of this process so far. */
export function framesReceived(): number {
  return frames;
}

/** Counts the messages of a socket that is not the global WebSocket (an EventEmitter: `ws`). */
export function countMessagesOf(socket: { on(type: "message", listener: () => void): unknown }) {
  socket.on("message", () => {
    frames++;
  });
}

class CountingWebSocket extends WebSocket {
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject,
    options?: boolean | AddEventListenerOptions,
  ): void {
    if (type !== "message") return super.addEventListener(type, listener, options);
    super.addEventListener(type, (event) => {
      frames++;
      if (typeof listener === "function") listener.call(this, event);
      else listener.handleEvent(event);
    }, options);
  }
}

globalThis.WebSocket = CountingWebSocket;
