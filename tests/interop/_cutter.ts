/**
 * A TCP relay in front of the interop server that cuts live WebSocket connections: both sockets
 * close at once, no close frame, so each side sees its connection end as a network failure does.
 * It tells WebSocket connections from plain HTTP ones by the client's request head (an
 * `Upgrade: websocket` header), so a cut leaves the client's pooled HTTP connections alone. It
 * can also refuse new connections (accepted, then closed at once): a server out of reach.
 *
 * @module
 */

const BUFFER_SIZE = 64 * 1024;

interface Pair {
  readonly client: Deno.Conn;
  readonly server: Deno.Conn;
  webSocket: boolean;
  closed: boolean;
  done: Promise<void>;
}

/** Relays connections to a port on 127.0.0.1; cuts the WebSocket ones on demand. */
export class CuttingRelay {
  readonly #listener: Deno.TcpListener;
  readonly #target: number;
  readonly #pairs = new Set<Pair>();
  readonly #pending = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  #closed = false;
  /** While true, new connections are closed as soon as they are accepted. */
  refuse = false;
  /** WebSocket connections cut so far. */
  cuts = 0;

  constructor(target: number) {
    this.#target = target;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  /** `http://127.0.0.1:<port>`: the relay's base URL. */
  get url(): string {
    return `http://127.0.0.1:${this.#listener.addr.port}`;
  }

  /** WebSocket connections currently relayed. */
  get webSockets(): number {
    let n = 0;
    for (const pair of this.#pairs) if (pair.webSocket && !pair.closed) n++;
    return n;
  }

  /** Cuts every relayed WebSocket connection; resolves with how many, once they are closed. */
  async cutWebSockets(): Promise<number> {
    const cut = [...this.#pairs].filter((pair) => pair.webSocket && !pair.closed);
    for (const pair of cut) closePair(pair);
    this.cuts += cut.length;
    await Promise.all(cut.map((pair) => pair.done));
    return cut.length;
  }

  /** Stops accepting, cuts every connection and waits until all of it is released. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.close();
    await this.#accepting;
    await Promise.all(this.#pending);
    const pairs = [...this.#pairs];
    for (const pair of pairs) closePair(pair);
    await Promise.all(pairs.map((pair) => pair.done));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #accept(): Promise<void> {
    for (;;) {
      let client: Deno.Conn;
      try {
        client = await this.#listener.accept();
      } catch {
        return; // the listener was closed
      }
      if (this.refuse) {
        client.close();
        continue;
      }
      const connecting = this.#connect(client);
      this.#pending.add(connecting);
      connecting.finally(() => this.#pending.delete(connecting));
    }
  }

  async #connect(client: Deno.Conn): Promise<void> {
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
    } catch {
      client.close();
      return;
    }
    if (this.#closed) {
      client.close();
      server.close();
      return;
    }
    const pair: Pair = { client, server, webSocket: false, closed: false, done: Promise.resolve() };
    this.#pairs.add(pair);
    pair.done = Promise.all([copy(client, server, pair, true), copy(server, client, pair, false)])
      .then(() => {
        closePair(pair);
        this.#pairs.delete(pair);
      });
  }
}

const UPGRADE = /\r\nupgrade:[ \t]*websocket/i;

async function copy(from: Deno.Conn, to: Deno.Conn, pair: Pair, fromClient: boolean) {
  const buffer = new Uint8Array(BUFFER_SIZE);
  let first = fromClient;
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) {
        await to.closeWrite();
        return;
      }
      if (first) {
        // The request head comes in one write: enough to tell a WebSocket upgrade.
        first = false;
        pair.webSocket = UPGRADE.test(new TextDecoder().decode(buffer.subarray(0, n)));
      }
      let offset = 0;
      while (offset < n) offset += await to.write(buffer.subarray(offset, n));
    }
  } catch {
    // One side was cut or reset: so is the other.
    closePair(pair);
  }
}

function closePair(pair: Pair): void {
  if (pair.closed) return;
  pair.closed = true;
  for (const conn of [pair.client, pair.server]) {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}
