// "bare": a hand-made SignalR client on the native WebSocket, the floor for this server. It
// negotiates and shakes hands by hand, splits frames on 0x1E and JSON.parses each record;
// nothing else (no validation, no options, no reconnect, no keep-alive).
import type { BenchClient, BenchConnection } from "./_scenarios.ts";

const RS = "\x1e";

interface Message {
  type: number;
  invocationId?: string;
  item?: unknown;
  result?: unknown;
  error?: string;
}

/** One raw connection. */
export class BareConnection implements BenchConnection {
  readonly #socket: WebSocket;
  #partial = "";
  #nextId = 0;
  /** Invocation id → what to do with its StreamItems and Completion. */
  readonly #calls = new Map<string, (message: Message) => void>();
  readonly #closed = Promise.withResolvers<void>();

  private constructor(socket: WebSocket) {
    this.#socket = socket;
  }

  static async open(hubUrl: string): Promise<BareConnection> {
    const response = await fetch(`${hubUrl}/negotiate?negotiateVersion=1`, { method: "POST" });
    if (!response.ok) throw new Error(`negotiate: HTTP ${response.status}`);
    const { connectionToken } = await response.json() as { connectionToken: string };
    const socket = new WebSocket(
      `${hubUrl.replace(/^http/, "ws")}?id=${encodeURIComponent(connectionToken)}`,
    );
    const connection = new BareConnection(socket);
    const handshake = Promise.withResolvers<void>();
    socket.onopen = () => socket.send(`{"protocol":"json","version":1}${RS}`);
    socket.onerror = () => handshake.reject(new Error("WebSocket error"));
    socket.onclose = () => {
      handshake.reject(new Error("closed during the handshake"));
      connection.#closed.resolve();
    };
    socket.onmessage = (event) => {
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
    this.#socket.send(
      JSON.stringify({ type: 4, invocationId: id, target, arguments: args }) + RS,
    );
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
    this.#socket.send(JSON.stringify({ type: 1, invocationId: id, target, arguments: args }) + RS);
    return promise;
  }

  async stop(): Promise<void> {
    if (this.#socket.readyState === WebSocket.OPEN) this.#socket.send(`{"type":7}${RS}`);
    this.#socket.close(1000);
    await this.#closed.promise;
  }
}

/** The floor: no upload (there is no single obvious "bare" way to batch one). */
export const bare: BenchClient<BareConnection> = {
  connect(hubUrl, transport) {
    if (transport !== "WebSockets") throw new Error(`bare has no ${transport} transport`);
    return BareConnection.open(hubUrl);
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
