// A TCP relay in front of the hub's Deno.serve listener. Deno's server cannot cut a connection
// without a WebSocket close frame; the relay can, which is what "drop a connection" needs: the
// client then sees the TCP connection end with no close frame (close code 1006). It can also
// freeze a connection: a peer that hung, which neither answers nor reads but stays connected.

const BUFFER_SIZE = 64 * 1024;

interface Pair {
  readonly inbound: Deno.Conn;
  readonly outbound: Deno.Conn;
  /** Resolved by closePair: a frozen pair has stopped copying but ends only then. */
  readonly released: PromiseWithResolvers<void>;
  /** Resolved when the client's side has ended (its end of the stream, or an error). */
  readonly clientEnded: PromiseWithResolvers<void>;
  /** Resolves when everything the server sent has been passed on (or could not be). */
  toClient: Promise<void>;
  closed: boolean;
  frozen: boolean;
  done: Promise<void>;
}

/** Relays every accepted TCP connection to a target port on 127.0.0.1. */
export class TcpRelay {
  readonly #listener: Deno.TcpListener;
  readonly #target: number;
  readonly #pairs = new Map<number, Pair>();
  readonly #pending = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  #closed = false;

  constructor(target: number) {
    this.#target = target;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  /** The port clients connect to. */
  get port(): number {
    return this.#listener.addr.port;
  }

  /**
   * Cuts the relayed connection whose server-side peer has local port `port` (the
   * `remoteAddr.port` that `Deno.serve` saw). Resolves when both sockets are closed.
   */
  abort(port: number): Promise<void> {
    const pair = this.#pairs.get(port);
    if (!pair) return Promise.resolve();
    closePair(pair);
    return pair.done;
  }

  /**
   * Resolves when the client has ended the relayed connection whose server-side peer has local
   * port `port`, or it was cut. `Deno.serve` does not tell a handler that its client went away
   * (`request.signal` also fires on success), so a request that waits (a long poll) asks here.
   * Never resolves for an unknown port.
   */
  clientEnded(port: number): Promise<void> {
    return this.#pairs.get(port)?.clientEnded.promise ?? new Promise(() => {});
  }

  /**
   * Freezes the relayed connection whose server-side peer has local port `port`: from now on
   * nothing is read from either socket or forwarded, yet both stay open until
   * {@linkcode abort} or {@linkcode close}. Bytes of a read already under way are discarded.
   */
  freeze(port: number): void {
    const pair = this.#pairs.get(port);
    if (pair) pair.frozen = true;
  }

  /**
   * Stops accepting, cuts every connection, and waits until all of it is released.
   *
   * @param drainMs How long to let connections pass on what the server already sent (its
   * last answers, when it was shut down first) before they are cut. Frozen ones are not
   * waited for.
   */
  async close(drainMs = 0): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    await this.#accepting;
    await Promise.all(this.#pending);
    let pairs = [...this.#pairs.values()];
    if (drainMs > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(pairs.filter((pair) => !pair.frozen).map((pair) => pair.toClient)),
        new Promise((resolve) => timer = setTimeout(resolve, drainMs)),
      ]);
      clearTimeout(timer);
      pairs = [...this.#pairs.values()];
    }
    for (const pair of pairs) closePair(pair);
    await Promise.all(pairs.map((pair) => pair.done));
  }

  async #accept(): Promise<void> {
    for (;;) {
      let inbound: Deno.Conn;
      try {
        inbound = await this.#listener.accept();
      } catch {
        return; // the listener was closed
      }
      const connecting = this.#connect(inbound);
      this.#pending.add(connecting);
      connecting.finally(() => this.#pending.delete(connecting));
    }
  }

  async #connect(inbound: Deno.Conn): Promise<void> {
    let outbound: Deno.Conn;
    try {
      outbound = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
    } catch {
      inbound.close();
      return;
    }
    if (this.#closed) {
      inbound.close();
      outbound.close();
      return;
    }
    const port = (outbound.localAddr as Deno.NetAddr).port;
    const pair: Pair = {
      inbound,
      outbound,
      released: Promise.withResolvers(),
      clientEnded: Promise.withResolvers(),
      toClient: Promise.resolve(),
      closed: false,
      frozen: false,
      done: Promise.resolve(),
    };
    this.#pairs.set(port, pair);
    // A frozen pair stops reading: that is not the client ending.
    const fromClient = copy(inbound, outbound, pair).then(() => {
      if (!pair.frozen) pair.clientEnded.resolve();
    });
    pair.toClient = copy(outbound, inbound, pair);
    pair.done = Promise.all([fromClient, pair.toClient])
      .then(async () => {
        if (pair.frozen) await pair.released.promise;
        closePair(pair);
        this.#pairs.delete(port);
      });
  }
}

async function copy(from: Deno.Conn, to: Deno.Conn, pair: Pair): Promise<void> {
  const buffer = new Uint8Array(BUFFER_SIZE);
  try {
    while (!pair.frozen) {
      const n = await from.read(buffer);
      if (n === null) {
        // A frozen pair passes nothing on, not even the end.
        if (!pair.frozen) await to.closeWrite();
        return;
      }
      let offset = 0;
      while (offset < n && !pair.frozen) offset += await to.write(buffer.subarray(offset, n));
    }
  } catch {
    // One side was cut or reset: the pair is closed below.
  }
}

function closePair(pair: Pair): void {
  if (pair.closed) return;
  pair.closed = true;
  pair.released.resolve();
  pair.clientEnded.resolve();
  for (const conn of [pair.inbound, pair.outbound]) {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}
