// Counts the WebSocket messages every client receives, so that CPU per item can be read against
// the server's batching: ASP.NET Core writes whatever its pipe holds as one message, so the items
// per message (and the runtime's fixed cost per message) change from run to run. All three clients
// set `socket.onmessage`, so one wrapping accessor on the global constructor counts for each of
// them at the same cost (one extra call per message).
let frames = 0;

/** Messages received by every WebSocket of this process so far. */
export function framesReceived(): number {
  return frames;
}

class CountingWebSocket extends WebSocket {
  override get onmessage(): ((event: MessageEvent) => void) | null {
    return super.onmessage;
  }
  override set onmessage(handler: ((event: MessageEvent) => void) | null) {
    super.onmessage = handler === null ? null : (event: MessageEvent) => {
      frames++;
      handler.call(this, event);
    };
  }
}

globalThis.WebSocket = CountingWebSocket;
