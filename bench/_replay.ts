// The receive path without a server: a stand-in WebSocket (and negotiate answer) that plays the
// exact records ASP.NET Core sends for `Counter(n, 0)`, in messages of a fixed number of items.
//
// Against the live hub, CPU per item depends on how the server batched the stream: it writes
// whatever its pipe holds as one message, and its pipe fills only while the client reads slower
// than it writes. A client that keeps up gets small messages and pays the runtime's cost per
// message more often (seen: 25 vs 1 504 items per message between rounds and clients). Replayed
// messages are the same for every client, so the CPU per item compares the clients' receive paths
// alone. Each message is delivered in its own task, as the runtime delivers socket reads.
import { SIZES } from "./_scenarios.ts";

const RS = "\x1e";
/** The invocation ids a benchmark uses on one connection (warm-up, then the measured stream). */
const IDS = ["0", "1", "2"];

/** Replayed streams: the items of `Counter(n, 0)`, this many per WebSocket message. */
export const REPLAY_BATCH = { large: 1504, small: 25 } as const;

const NEGOTIATE = JSON.stringify({
  negotiateVersion: 1,
  connectionId: "replay",
  connectionToken: "replay-token",
  availableTransports: [{ transport: "WebSockets", transferFormats: ["Text", "Binary"] }],
});

/** The messages of `Counter(count, 0)` for invocation `id`, as ASP.NET Core 10 writes them. */
function messages(id: string, count: number, perMessage: number): string[] {
  const out: string[] = [];
  let records: string[] = [];
  for (let i = 0; i < count; i++) {
    records.push(`{"type":2,"invocationId":"${id}","item":${i}}${RS}`);
    if (records.length === perMessage) {
      // join() gives flat strings, as a socket read does (not ropes).
      out.push(records.join(""));
      records = [];
    }
  }
  records.push(`{"type":3,"invocationId":"${id}"}${RS}`);
  out.push(records.join(""));
  return out;
}

// Later tasks, in order, through one channel (a socket read is a task of its own, not a
// microtask). The child process exits when done, so the open port holds nothing up.
const tasks: (() => void)[] = [];
let channel: MessageChannel | undefined;

function task(fn: () => void): void {
  if (!channel) {
    channel = new MessageChannel();
    channel.port1.onmessage = () => tasks.shift()?.();
  }
  tasks.push(fn);
  channel.port2.postMessage(null);
}

let installed = false;

/** Whether this process replays (installReplay ran): there is no server then. */
export function replaying(): boolean {
  return installed;
}

/**
 * Makes `globalThis.WebSocket` and `globalThis.fetch` replay streams, before a client loads:
 * negotiate gets a fixed answer, the handshake `{}`, and `Counter(n, 0)` the recorded messages
 * of `perMessage` items each.
 */
export function installReplay(perMessage: number): void {
  installed = true;
  const script = new Map<string, string[]>();
  for (const id of IDS) {
    for (const count of [SIZES.warmupItems, SIZES.streamItems]) {
      script.set(`${id}/${count}`, messages(id, count, perMessage));
    }
  }

  class ReplayWebSocket extends EventTarget {
    static readonly CONNECTING = 0;
    static readonly OPEN = 1;
    static readonly CLOSING = 2;
    static readonly CLOSED = 3;
    readonly CONNECTING = 0;
    readonly OPEN = 1;
    readonly CLOSING = 2;
    readonly CLOSED = 3;
    readonly url: string;
    readonly protocol = "";
    readonly extensions = "";
    readonly bufferedAmount = 0;
    binaryType: BinaryType = "blob";
    readyState = 0;
    onopen: ((event: Event) => void) | null = null;
    onmessage: ((event: MessageEvent) => void) | null = null;
    onerror: ((event: Event) => void) | null = null;
    onclose: ((event: CloseEvent) => void) | null = null;

    constructor(url: string | URL) {
      super();
      this.url = String(url);
      task(() => {
        this.readyState = 1;
        this.#emit("open", new Event("open"));
      });
    }

    send(data: string): void {
      if (this.readyState !== 1) throw new DOMException("not open", "InvalidStateError");
      for (const record of data.split(RS)) {
        if (!record) continue;
        const message = JSON.parse(record);
        if (message.protocol !== undefined) this.#play(["{}" + RS]);
        else if (message.type === 4 && message.target === "Counter") {
          const played = script.get(`${message.invocationId}/${message.arguments[0]}`);
          if (!played) throw new Error(`no replay for ${record}`);
          this.#play(played);
        }
      }
    }

    close(code = 1000): void {
      if (this.readyState >= 2) return;
      this.readyState = 2;
      task(() => {
        this.readyState = 3;
        this.#emit("close", new CloseEvent("close", { code, wasClean: true }));
      });
    }

    #play(frames: string[], at = 0): void {
      task(() => {
        if (this.readyState !== 1) return;
        this.#emit("message", new MessageEvent("message", { data: frames[at] }));
        if (at + 1 < frames.length) this.#play(frames, at + 1);
      });
    }

    #emit(type: "open" | "message" | "close", event: Event): void {
      const handler = this[`on${type}`] as ((event: Event) => void) | null;
      handler?.call(this, event);
      this.dispatchEvent(event);
    }
  }

  globalThis.WebSocket = ReplayWebSocket as unknown as typeof WebSocket;
  globalThis.fetch = (input: RequestInfo | URL) => {
    const url = input instanceof Request ? input.url : String(input);
    if (!url.includes("/negotiate")) return Promise.reject(new Error(`replay: no ${url}`));
    return Promise.resolve(
      new Response(NEGOTIATE, { headers: { "content-type": "application/json" } }),
    );
  };
}
