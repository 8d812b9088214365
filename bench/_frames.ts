// Counts the WebSocket messages every client receives, so that CPU per item can be read against
// the server's batching: ASP.NET Core writes whatever its pipe holds as one message, so the items
// per message (and the runtime's fixed cost per message) change from run to run. A subclass of
// the global constructor wraps every "message" listener at the same cost for each client (one
// extra call per message): ours adds a listener, and Deno's `onmessage` setter, which bare and
// official-native use, adds its handler through this same addEventListener. The official client
// with default options uses the `ws` package's WebSocket instead, which this subclass never sees:
// bench/_official.ts hands that socket to countMessagesOf, which adds one more "message" listener
// (again one extra call per message).
//
// The HTTP transports (Server-Sent Events, Long Polling) are counted by request instead: a
// wrapper of the global `fetch`, installed here before any client loads, counts POSTs (sends)
// and GETs (polls). Ours calls `globalThis.fetch` per request; the official client takes the
// global `fetch` when it builds its HTTP client (wrapped by `fetch-cookie`), after this ran. Its
// Server-Sent Events stream itself is a GET of the `eventsource` package over `node:http`, which
// this does not see (one per connection, before the measured window). One extra call per request.
//
// The same wrapper reads the `useStatefulReconnect` of each negotiate response that asked for it
// (before any window), so that a stateful scenario fails when the server did not turn it on.
let frames = 0;
let posts = 0;
let gets = 0;
let statefulNegotiated: boolean | undefined;

/** The replay's stand-in negotiate (which this wrapper does not see) tells what it answered. */
export function noteNegotiated(useStatefulReconnect: boolean): void {
  statefulNegotiated = useStatefulReconnect;
}

/**
 * Throws unless the last negotiate response turned stateful reconnect on (the client asked for
 * it: the server agreed).
 */
export function expectStateful(): void {
  if (statefulNegotiated !== true) {
    throw new Error(
      `the server did not turn stateful reconnect on (negotiate: ${statefulNegotiated})`,
    );
  }
}

/** Messages received by every WebSocket of this process so far. */
export function framesReceived(): number {
  return frames;
}

/** HTTP requests made through the global `fetch` so far: POSTs (sends) and GETs (polls). */
export function requestsSent(): { posts: number; gets: number } {
  return { posts, gets };
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

const nativeFetch = globalThis.fetch;
globalThis.fetch = function countingFetch(input, init) {
  const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
  if (method === "POST") posts++;
  else if (method === "GET") gets++;
  const url = input instanceof Request ? input.url : String(input);
  // Only a negotiate that asks for stateful reconnect (the other scenarios pay nothing).
  if (method !== "POST" || !/\/negotiate\?.*useStatefulReconnect=true/.test(url)) {
    return nativeFetch(input, init);
  }
  return nativeFetch(input, init).then(async (response) => {
    try {
      statefulNegotiated = (await response.clone().json()).useStatefulReconnect === true;
    } catch {
      statefulNegotiated = undefined;
    }
    return response;
  });
};
