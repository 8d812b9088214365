// The TCP relay of TestHub on Node and Bun (node:net): the same job as _tcp_relay.ts does on
// Deno. It can cut a connection without a WebSocket close frame (the client sees close code
// 1006) and freeze one (a peer that hung: nothing read or passed on, yet connected).
import { connect, createServer, type Server, type Socket } from "node:net";
import type { Cutter } from "./_server_transport.ts";

interface Pair {
  readonly inbound: Socket;
  readonly outbound: Socket;
  readonly released: PromiseWithResolvers<void>;
  readonly clientEnded: PromiseWithResolvers<void>;
  toClient: Promise<void>;
  closed: boolean;
  frozen: boolean;
  done: Promise<void>;
}

/** Relays every accepted TCP connection to a target port on 127.0.0.1. */
export class NodeTcpRelay implements Cutter {
  readonly #server: Server;
  readonly #target: number;
  readonly #pairs = new Map<number, Pair>();
  readonly #pending = new Set<Promise<void>>();
  #closed = false;

  private constructor(server: Server, target: number) {
    this.#server = server;
    this.#target = target;
  }

  /** Listens on 127.0.0.1, a free port, relaying to `target`. */
  static async open(target: number): Promise<NodeTcpRelay> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    const relay = new NodeTcpRelay(server, target);
    server.on("connection", (inbound) => {
      const connecting = relay.#connect(inbound);
      relay.#pending.add(connecting);
      connecting.finally(() => relay.#pending.delete(connecting));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return relay;
  }

  /** The port clients connect to. */
  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  abort(port: number): Promise<void> {
    const pair = this.#pairs.get(port);
    if (!pair) return Promise.resolve();
    closePair(pair);
    return pair.done;
  }

  clientEnded(port: number): Promise<void> {
    return this.#pairs.get(port)?.clientEnded.promise ?? new Promise(() => {});
  }

  freeze(port: number): void {
    const pair = this.#pairs.get(port);
    if (!pair || pair.frozen) return;
    pair.frozen = true;
    pair.inbound.unpipe(pair.outbound);
    pair.outbound.unpipe(pair.inbound);
    pair.inbound.pause();
    pair.outbound.pause();
  }

  /** Stops accepting, lets connections drain for up to `drainMs`, then cuts every one. */
  async close(drainMs = 0): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
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
    await stopped;
  }

  async #connect(inbound: Socket): Promise<void> {
    inbound.on("error", () => {});
    const outbound = connect({ host: "127.0.0.1", port: this.#target, allowHalfOpen: true });
    outbound.on("error", () => {});
    const connected = await new Promise<boolean>((resolve) => {
      outbound.once("connect", () => resolve(true));
      outbound.once("close", () => resolve(false));
    });
    if (!connected || this.#closed) {
      inbound.destroy();
      outbound.destroy();
      return;
    }
    const port = outbound.localPort!;
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
    const fromClient = ended(inbound).then(() => {
      if (!pair.frozen) pair.clientEnded.resolve();
    });
    pair.toClient = ended(outbound).then(() => finished(inbound));
    pair.done = Promise.all([fromClient, pair.toClient]).then(async () => {
      if (pair.frozen) await pair.released.promise;
      closePair(pair);
      await Promise.all([closed(inbound), closed(outbound)]);
      this.#pairs.delete(port);
    });
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.resume();
  }
}

/** Resolves when a socket's readable side has ended (its peer's end), or it was closed. */
function ended(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.readableEnded || socket.destroyed) return resolve();
    socket.once("end", () => resolve());
    socket.once("close", () => resolve());
  });
}

/** Resolves when all that was written to a socket has been flushed after its end, or it closed. */
function finished(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.writableFinished || socket.destroyed) return resolve();
    socket.once("finish", () => resolve());
    socket.once("close", () => resolve());
  });
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.closed) return resolve();
    socket.once("close", () => resolve());
  });
}

function closePair(pair: Pair): void {
  if (pair.closed) return;
  pair.closed = true;
  pair.released.resolve();
  pair.clientEnded.resolve();
  pair.inbound.destroy();
  pair.outbound.destroy();
}
