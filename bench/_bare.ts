// "bare": a hand-made SignalR client on the native WebSocket, the floor for this server. It
// negotiates and shakes hands by hand, splits frames on 0x1E and JSON.parses each record;
// nothing else (no validation, no options, no reconnect, no keep-alive).
//
// In MessagePack it splits binary frames on their VarInt length prefixes and decodes each message
// in place (a view of the frame, no copy) with one `@msgpack/msgpack` 3.1.3 `Decoder`, the
// generic decoder: what a client without a reader of its own would do at best.
import type { BenchClient, BenchConnection, ProtocolName } from "./_scenarios.ts";

const RS = "\x1e";

interface Message {
  type: number;
  invocationId?: string;
  item?: unknown;
  result?: unknown;
  error?: string;
}

/** MessagePack's side of a bare connection: `@msgpack/msgpack`'s encoder and decoder. */
interface MessagePackCodec {
  decode(bytes: Uint8Array): unknown;
  encode(value: unknown): Uint8Array;
}

async function messagePackCodec(): Promise<MessagePackCodec> {
  const { Decoder, Encoder } = await import("@msgpack/msgpack");
  const decoder = new Decoder();
  const encoder = new Encoder();
  return { decode: (bytes) => decoder.decode(bytes), encode: (value) => encoder.encode(value) };
}

/** One raw connection. */
export class BareConnection implements BenchConnection {
  readonly #socket: WebSocket;
  readonly #msgpack: MessagePackCodec | undefined;
  #partial = "";
  #partialBytes: Uint8Array | undefined;
  #nextId = 0;
  /** Invocation id → what to do with its StreamItems and Completion. */
  readonly #calls = new Map<string, (message: Message) => void>();
  readonly #closed = Promise.withResolvers<void>();

  private constructor(socket: WebSocket, msgpack: MessagePackCodec | undefined) {
    this.#socket = socket;
    this.#msgpack = msgpack;
  }

  static async open(hubUrl: string, protocol: ProtocolName): Promise<BareConnection> {
    const msgpack = protocol === "messagepack" ? await messagePackCodec() : undefined;
    const response = await fetch(`${hubUrl}/negotiate?negotiateVersion=1`, { method: "POST" });
    if (!response.ok) throw new Error(`negotiate: HTTP ${response.status}`);
    const { connectionToken } = await response.json() as { connectionToken: string };
    const socket = new WebSocket(
      `${hubUrl.replace(/^http/, "ws")}?id=${encodeURIComponent(connectionToken)}`,
    );
    if (msgpack) socket.binaryType = "arraybuffer";
    const connection = new BareConnection(socket, msgpack);
    const handshake = Promise.withResolvers<void>();
    socket.onopen = () => socket.send(`{"protocol":"${protocol}","version":1}${RS}`);
    socket.onerror = () => handshake.reject(new Error("WebSocket error"));
    socket.onclose = () => {
      handshake.reject(new Error("closed during the handshake"));
      connection.#closed.resolve();
    };
    socket.onmessage = (event) => {
      if (msgpack) {
        // The answer is `{…}\x1e` in a binary message; hub messages may follow it.
        const bytes = new Uint8Array(event.data as ArrayBuffer);
        const end = bytes.indexOf(0x1e);
        if (end === -1) return handshake.reject(new Error("split handshake response"));
        const answer = JSON.parse(new TextDecoder().decode(bytes.subarray(0, end))) as {
          error?: string;
        };
        if (answer.error) return handshake.reject(new Error(answer.error));
        socket.onmessage = (event) => connection.#onBytes(new Uint8Array(event.data));
        handshake.resolve();
        if (end + 1 < bytes.length) connection.#onBytes(bytes.subarray(end + 1));
        return;
      }
      const text = event.data as string;
      const end = text.indexOf(RS);
      if (end === -1) return handshake.reject(new Error("split handshake response"));
      const answer = JSON.parse(text.slice(0, end)) as { error?: string };
      if (answer.error) return handshake.reject(new Error(answer.error));
      socket.onmessage = (event) => connection.#onText(event.data as string);
      handshake.resolve();
      if (end + 1 < text.length) connection.#onText(text.slice(end + 1));
    };
    await handshake.promise;
    return connection;
  }

  /** Length-prefixed MessagePack messages, each decoded in place. */
  #onBytes(bytes: Uint8Array): void {
    if (this.#partialBytes) {
      const joined = new Uint8Array(this.#partialBytes.length + bytes.length);
      joined.set(this.#partialBytes);
      joined.set(bytes, this.#partialBytes.length);
      bytes = joined;
      this.#partialBytes = undefined;
    }
    const decode = this.#msgpack!.decode;
    let pos = 0;
    while (pos < bytes.length) {
      let length = 0;
      let shift = 0;
      let i = pos;
      let byte: number;
      do {
        if (i === bytes.length) {
          this.#partialBytes = bytes.slice(pos);
          return;
        }
        byte = bytes[i++];
        length |= (byte & 0x7f) << shift;
        shift += 7;
      } while (byte & 0x80);
      if (i + length > bytes.length) {
        this.#partialBytes = bytes.slice(pos);
        return;
      }
      // [type, headers, id, …]: [2, {}, id, item] or [3, {}, id, kind, value?].
      const m = decode(bytes.subarray(i, i + length)) as unknown[];
      pos = i + length;
      const type = m[0] as number;
      if (type !== 2 && type !== 3) continue;
      const invocationId = m[2] as string;
      const message: Message = type === 2
        ? { type, invocationId, item: m[3] }
        : m[3] === 1
        ? { type, invocationId, error: m[4] as string }
        : { type, invocationId, result: m[4] };
      this.#calls.get(invocationId)?.(message);
    }
  }

  /** Sends one hub message, `[type, {}, id, target, arguments]` in MessagePack. */
  #send(json: Record<string, unknown>, layout: unknown[]): void {
    if (!this.#msgpack) {
      this.#socket.send(JSON.stringify(json) + RS);
      return;
    }
    const body = this.#msgpack.encode(layout);
    const prefix: number[] = [];
    let length = body.length;
    do {
      prefix.push((length & 0x7f) | (length > 0x7f ? 0x80 : 0));
      length >>>= 7;
    } while (length > 0);
    const frame = new Uint8Array(prefix.length + body.length);
    frame.set(prefix);
    frame.set(body, prefix.length);
    this.#socket.send(frame);
  }

  #onText(text: string): void {
    if (this.#partial) {
      text = this.#partial + text;
      this.#partial = "";
    }
    let start = 0;
    let end = text.indexOf(RS);
    while (end !== -1) {
      const message = JSON.parse(text.slice(start, end)) as Message;
      if (message.invocationId !== undefined) this.#calls.get(message.invocationId)?.(message);
      start = end + 1;
      end = text.indexOf(RS, start);
    }
    if (start < text.length) this.#partial = text.slice(start);
  }

  /** Sends a StreamInvocation; `onItem` gets each item; resolves at the Completion. */
  stream(target: string, args: unknown[], onItem: (item: unknown) => void): Promise<void> {
    const id = String(this.#nextId++);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#calls.set(id, (message) => {
      if (message.type === 2) return onItem(message.item);
      this.#calls.delete(id);
      if (message.error !== undefined) reject(new Error(message.error));
      else resolve();
    });
    this.#send({ type: 4, invocationId: id, target, arguments: args }, [4, {}, id, target, args]);
    return promise;
  }

  /** Sends an Invocation; resolves with the Completion's result. */
  invoke(target: string, args: unknown[]): Promise<unknown> {
    const id = String(this.#nextId++);
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    this.#calls.set(id, (message) => {
      this.#calls.delete(id);
      if (message.error !== undefined) reject(new Error(message.error));
      else resolve(message.result);
    });
    this.#send({ type: 1, invocationId: id, target, arguments: args }, [1, {}, id, target, args]);
    return promise;
  }

  async stop(): Promise<void> {
    if (this.#socket.readyState === WebSocket.OPEN) this.#send({ type: 7 }, [7, null]);
    this.#socket.close(1000);
    await this.#closed.promise;
  }
}

/** The floor: no upload (there is no single obvious "bare" way to batch one). */
export const bare: BenchClient<BareConnection> = {
  connect(hubUrl, transport, protocol) {
    if (transport !== "WebSockets") throw new Error(`bare has no ${transport} transport`);
    return BareConnection.open(hubUrl, protocol);
  },

  async stream(connection, count) {
    let n = 0;
    await connection.stream("Counter", [count, 0], () => {
      n++;
    });
    return n;
  },

  invoke(connection, method, ...args) {
    return connection.invoke(method, args);
  },
};
