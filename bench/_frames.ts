// Counts the WebSocket messages every client receives, so that CPU per item can be read against
// the server's batching: ASP.NET Core writes whatever its pipe holds as one message, so the items
// per message (and the runtime's fixed cost per message) change from run to run. A subclass of
// the global constructor wraps the message handler, whether set as `onmessage` (bare, official)
// or added as a listener (ours: an object with handleEvent), at the same cost for each: one extra
// call per message.
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
