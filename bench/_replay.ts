// The receive path without a server: a stand-in WebSocket (and negotiate answer) that plays the
// exact records ASP.NET Core sends for `Counter(n, 0)`, in messages of a fixed number of items.
//
// Against the live hub, CPU per item depends on how the server batched the stream: it writes
// whatever its pipe holds as one message, and its pipe fills only while the client reads slower
// than it writes. A client that keeps up gets small messages and pays the runtime's cost per
// message more often (seen: 25 vs 1 504 items per message between rounds and clients). Replayed
// messages are the same for every client, so the CPU per item compares the clients' receive paths
// alone. Each message is delivered in its own task, as the runtime delivers socket reads.
//
// The same stand-in `fetch` also plays the HTTP transports: Long Polling (each recorded message is
// the body of one poll) and Server-Sent Events (each recorded message is one event of a streamed
// body, `data: …\r\n\r\n`, in its own task); sends are POSTs it reads. Only clients that use
// `fetch` for them can be replayed: the official client reads Server-Sent Events with the
// `eventsource` package over `node:http`, so it has no replayed Server-Sent Events row.
//
// In MessagePack (`replay-mp…` scenarios) the messages are binary, as ASP.NET Core writes them:
// each hub message `[2, {}, "<id>", item]` preceded by its length as a VarInt, many to a WebSocket
// message (or poll), the handshake answer `{}\x1e` first (a binary message too), and the stream's
// end `[3, {}, "<id>", 2]`. The client's sends are read as they come: the handshake as text, the
// rest as length-prefixed MessagePack.
import { type ProtocolName, SIZES, type TransportName } from "./_scenarios.ts";
import { noteNegotiated } from "./_frames.ts";

const RS = "\x1e";
/** The invocation ids a benchmark uses on one connection (warm-up, then the measured stream). */
const IDS = ["0", "1", "2"];

/** Replayed streams: the items of `Counter(n, 0)`, this many per WebSocket message. */
export const REPLAY_BATCH = { large: 1504, small: 25 } as const;

const NEGOTIATE = JSON.stringify({
  negotiateVersion: 1,
  connectionId: "replay",
  connectionToken: "replay-token",
  availableTransports: [
    { transport: "WebSockets", transferFormats: ["Text", "Binary"] },
    { transport: "ServerSentEvents", transferFormats: ["Text"] },
    { transport: "LongPolling", transferFormats: ["Text", "Binary"] },
  ],
});

/** A replayed message: text (JSON) or bytes (MessagePack). */
type Played = string | Uint8Array<ArrayBuffer>;

/**
 * The messages of `Counter(count, 0)` for invocation `id`, as ASP.NET Core 10 writes them in
 * `protocol`.
 */
function messages(
  id: string,
  count: number,
  perMessage: number,
  protocol: ProtocolName,
): Played[] {
  return protocol === "json"
    ? jsonMessages(id, count, perMessage)
    : messagePackMessages(id, count, perMessage);
}

/** The text messages of `Counter(count, 0)` in JSON, `perMessage` records each. */
export function jsonMessages(id: string, count: number, perMessage: number): string[] {
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

/**
 * The binary messages of `Counter(count, 0)` in MessagePack, `perMessage` items each: hub
 * messages `[2, {}, id, i]` (the integer in its smallest form, as ASP.NET Core and
 * `@msgpack/msgpack` write it), each after its VarInt length, then the Completion `[3, {}, id, 2]`.
 * Each message is a buffer of its own, as a socket read gives.
 */
export function messagePackMessages(
  id: string,
  count: number,
  perMessage: number,
): Uint8Array<ArrayBuffer>[] {
  const idBytes = encoder.encode(id);
  if (idBytes.length > 31) throw new Error("replay: invocation ids are short");
  const head = [0x94, 0x02, 0x80, 0xa0 | idBytes.length, ...idBytes];
  const out: Uint8Array<ArrayBuffer>[] = [];
  // Each hub message is at most 1 (length) + head + 5 (uint32) bytes long.
  const buffer = new Uint8Array(perMessage * (head.length + 6) + head.length + 8);
  let at = 0;
  let items = 0;
  const write = (body: readonly number[]) => {
    for (const byte of varInt(body.length)) buffer[at++] = byte;
    for (const byte of body) buffer[at++] = byte;
  };
  for (let i = 0; i < count; i++) {
    write([...head, ...uint(i)]);
    if (++items === perMessage) {
      out.push(buffer.slice(0, at));
      at = 0;
      items = 0;
    }
  }
  write([0x94, 0x03, 0x80, 0xa0 | idBytes.length, ...idBytes, 0x02]);
  out.push(buffer.slice(0, at));
  return out;
}

/** A non-negative integer in MessagePack's smallest form. */
function uint(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x100) return [0xcc, n];
  if (n < 0x10000) return [0xcd, n >> 8, n & 0xff];
  return [0xce, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

function varInt(length: number): number[] {
  const out: number[] = [];
  do {
    let byte = length & 0x7f;
    length >>>= 7;
    if (length > 0) byte |= 0x80;
    out.push(byte);
  } while (length > 0);
  return out;
}

/** What the stand-in needs to know of a message a client sent. */
interface Sent {
  /** Set on the handshake request. */
  protocol?: string;
  type?: number;
  invocationId?: string;
  target?: string;
  arguments?: unknown[];
}

type MessagePackDecode = (bytes: Uint8Array) => unknown;

/** The messages in what a client sent: JSON records, or length-prefixed MessagePack messages. */
function sentMessages(
  data: string | ArrayBuffer | ArrayBufferView,
  decode: MessagePackDecode | undefined,
): Sent[] {
  if (typeof data === "string") {
    return data.split(RS).filter((record) => record).map((record) => JSON.parse(record) as Sent);
  }
  if (!decode) throw new Error("replay: a binary message in a JSON replay");
  const bytes = data instanceof ArrayBuffer
    ? new Uint8Array(data)
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out: Sent[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    let length = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = bytes[pos++];
      length |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    const value = decode(bytes.subarray(pos, pos + length)) as unknown[];
    pos += length;
    // [type, headers, id, target, arguments, …] for invocations; the rest needs only its type.
    const [type, , invocationId, target, args] = value;
    out.push({
      type: type as number,
      invocationId: invocationId as string,
      target: target as string,
      arguments: args as unknown[],
    });
  }
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
const encoder = new TextEncoder();

/** Whether this process replays (installReplay ran): there is no server then. */
export function replaying(): boolean {
  return installed;
}

/**
 * Makes `globalThis.WebSocket` and `globalThis.fetch` replay streams, before a client loads:
 * negotiate gets a fixed answer, the handshake `{}`, and `Counter(n, 0)` the recorded messages
 * of `perMessage` items each, over any of the three transports, in `protocol` (MessagePack:
 * WebSockets and Long Polling), with stateful reconnect turned on by negotiate when `stateful`.
 */
export async function installReplay(
  perMessage: number,
  transport: TransportName,
  protocol: ProtocolName = "json",
  stateful = false,
): Promise<void> {
  installed = true;
  // Stateful reconnect: negotiate turns it on; the client then numbers what it sends and sends
  // Acks, which the stand-in reads and ignores (the recorded messages are the same).
  const negotiate = stateful
    ? JSON.stringify({ ...JSON.parse(NEGOTIATE), useStatefulReconnect: true })
    : NEGOTIATE;
  if (protocol === "messagepack" && transport === "ServerSentEvents") {
    throw new Error("replay: MessagePack does not run on Server-Sent Events");
  }
  // Only to read what MessagePack clients send (not timed).
  const decode: MessagePackDecode | undefined = protocol === "messagepack"
    ? (await import("@msgpack/msgpack")).decode
    : undefined;
  const script = new Map<string, Played[]>();
  // For Server-Sent Events, the same messages as events of a stream, encoded now (before the
  // window), as a socket read hands over bytes.
  const events = new Map<string, Uint8Array[]>();
  for (const id of IDS) {
    for (const count of [SIZES.warmupItems, SIZES.streamItems]) {
      const played = messages(id, count, perMessage, protocol);
      script.set(`${id}/${count}`, played);
      if (transport === "ServerSentEvents") {
        events.set(`${id}/${count}`, played.map((m) => encoder.encode(`data: ${m}\r\n\r\n`)));
      }
    }
  }
  // The handshake answer: text in JSON, a binary message in MessagePack (as ASP.NET Core sends
  // it on a binary connection).
  const handshake: Played = protocol === "json" ? "{}" + RS : encoder.encode("{}" + RS);

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

    send(data: string | ArrayBuffer | ArrayBufferView): void {
      if (this.readyState !== 1) throw new DOMException("not open", "InvalidStateError");
      for (const message of sentMessages(data, decode)) {
        if (message.protocol !== undefined) this.#play([handshake]);
        else if (message.type === 4 && message.target === "Counter") {
          const played = script.get(`${message.invocationId}/${message.arguments![0]}`);
          if (!played) throw new Error(`no replay for ${JSON.stringify(message)}`);
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

    #play(frames: Played[], at = 0): void {
      task(() => {
        if (this.readyState !== 1) return;
        const frame = frames[at];
        // Bytes as the runtime hands them over: an ArrayBuffer of the message alone (every
        // recorded message has a buffer of its own), or a Blob when binaryType says so.
        const data = typeof frame === "string"
          ? frame
          : this.binaryType === "arraybuffer"
          ? frame.buffer
          : new Blob([frame]);
        this.#emit("message", new MessageEvent("message", { data }));
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
  const http = new ReplayHttp(script, events, handshake, decode);
  globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    if (url.includes("/negotiate")) {
      http.reset();
      noteNegotiated(stateful);
      return Promise.resolve(
        new Response(negotiate, { headers: { "content-type": "application/json" } }),
      );
    }
    return http.fetch(init ?? {});
  };
}

/**
 * The HTTP side of one replayed connection (a child opens one at a time): polls, an event
 * stream, POSTs and DELETE.
 */
class ReplayHttp {
  readonly #script: ReadonlyMap<string, Played[]>;
  readonly #eventScript: ReadonlyMap<string, Uint8Array[]>;
  readonly #handshake: Played;
  readonly #decode: MessagePackDecode | undefined;
  /** Messages not yet taken by a poll. */
  #queue: Played[] = [];
  #waiting: ((response: Response) => void) | undefined;
  #polled = false;
  #ended = false;
  #events: ReadableStreamDefaultController<Uint8Array> | undefined;

  constructor(
    script: ReadonlyMap<string, Played[]>,
    events: ReadonlyMap<string, Uint8Array[]>,
    handshake: Played,
    decode: MessagePackDecode | undefined,
  ) {
    this.#script = script;
    this.#eventScript = events;
    this.#handshake = handshake;
    this.#decode = decode;
  }

  reset(): void {
    this.#queue = [];
    this.#waiting = undefined;
    this.#polled = false;
    this.#ended = false;
    this.#events = undefined;
  }

  fetch(init: RequestInit): Promise<Response> {
    const method = (init.method ?? "GET").toUpperCase();
    if (method === "POST") {
      const body = init.body;
      if (
        typeof body !== "string" && !(body instanceof ArrayBuffer) && !ArrayBuffer.isView(body)
      ) {
        return Promise.reject(new Error("replay: a POST body that is not text or bytes"));
      }
      this.#receive(body);
      return later(() => new Response(""));
    }
    if (method === "DELETE") {
      this.#end();
      return later(() => new Response("", { status: 202 }));
    }
    const accept = new Headers(init.headers).get("accept") ?? "";
    return accept.includes("text/event-stream") ? this.#stream(init.signal) : this.#poll(init);
  }

  /** A poll: the first is answered at once, later ones with the next message or the end. */
  #poll(init: RequestInit): Promise<Response> {
    if (this.#ended) return later(() => new Response(null, { status: 204 }));
    if (!this.#polled) {
      this.#polled = true;
      return later(() => new Response(""));
    }
    if (this.#queue.length > 0) {
      const message = this.#queue.shift()!;
      return later(() => new Response(message));
    }
    const { promise, resolve, reject } = Promise.withResolvers<Response>();
    this.#waiting = resolve;
    init.signal?.addEventListener("abort", () => {
      this.#waiting = undefined;
      reject(init.signal!.reason);
    }, { once: true });
    return promise;
  }

  /** The event stream: every message queued from now on is one event. */
  #stream(signal: AbortSignal | null | undefined): Promise<Response> {
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#events = controller;
        // What ASP.NET Core writes first (a comment, so that browsers fire "open").
        controller.enqueue(encoder.encode(":\r\n"));
      },
      cancel: () => {
        this.#events = undefined;
      },
    });
    signal?.addEventListener("abort", () => {
      try {
        this.#events?.error(signal.reason);
      } catch {
        // already closed
      }
      this.#events = undefined;
    }, { once: true });
    return later(() => new Response(body, { headers: { "content-type": "text/event-stream" } }));
  }

  #receive(body: string | ArrayBuffer | ArrayBufferView): void {
    for (const message of sentMessages(body, this.#decode)) {
      if (message.protocol !== undefined) {
        this.#play([this.#handshake], [encoder.encode(`data: {}${RS}\r\n\r\n`)]);
      } else if (message.type === 4 && message.target === "Counter") {
        const key = `${message.invocationId}/${message.arguments![0]}`;
        const played = this.#script.get(key);
        if (!played) throw new Error(`no replay for ${JSON.stringify(message)}`);
        this.#play(played, this.#eventScript.get(key));
      } else if (message.type === 7) this.#end();
    }
  }

  /** Queues messages: one event each on the stream (`events`), or one poll each. */
  #play(messages: Played[], events: Uint8Array[] | undefined): void {
    if (this.#events) {
      if (!events) throw new Error("replay: no events recorded for this transport");
      const next = (at: number) =>
        task(() => {
          if (!this.#events) return;
          this.#events.enqueue(events[at]);
          if (at + 1 < events.length) next(at + 1);
        });
      next(0);
      return;
    }
    this.#queue.push(...messages);
    this.#answer();
  }

  /** Answers a waiting poll with the next message, in a task of its own. */
  #answer(): void {
    const waiting = this.#waiting;
    if (!waiting || this.#queue.length === 0) return;
    this.#waiting = undefined;
    const message = this.#queue.shift()!;
    task(() => waiting(new Response(message)));
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting) task(() => waiting(new Response(null, { status: 204 })));
    const events = this.#events;
    this.#events = undefined;
    if (events) task(() => events.close());
  }
}

/** A response in a later task, as a network answer comes. */
function later(make: () => Response): Promise<Response> {
  return new Promise((resolve) => task(() => resolve(make())));
}
