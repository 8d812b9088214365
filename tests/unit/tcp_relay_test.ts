// TcpRelay, the TCP hop in front of TestHub's server: relaying, abort, and freeze (a peer that
// hung), each releasing every socket and read.
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { TcpRelay } from "../../src/testing/_tcp_relay.ts";

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** A target that echoes every connection, logging what each received by its remote port. */
class EchoServer {
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly #served: Promise<void>[] = [];
  readonly #accepting: Promise<void>;
  /** What each connection received, by the remote port (the relay's outbound socket). */
  readonly received = new Map<number, string>();
  /** The remote ports whose connection ended (the relay passed the end on, or cut it). */
  readonly ended = new Set<number>();
  /** The open connections, by remote port. */
  readonly conns = new Map<number, Deno.Conn>();

  constructor() {
    this.#accepting = this.#accept();
  }

  get port(): number {
    return this.#listener.addr.port;
  }

  async close(): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    await Promise.all(this.#served);
  }

  async #accept(): Promise<void> {
    for await (const conn of this.#listener) this.#served.push(this.#serve(conn));
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const port = (conn.remoteAddr as Deno.NetAddr).port;
    this.received.set(port, "");
    this.conns.set(port, conn);
    const buffer = new Uint8Array(1024);
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        this.received.set(port, this.received.get(port) + text.decode(buffer.subarray(0, n)));
        await conn.write(buffer.subarray(0, n));
      }
    } catch {
      // cut by the relay
    } finally {
      this.ended.add(port);
      this.conns.delete(port);
      conn.close();
    }
  }
}

/** Connects through the relay and returns the client socket and its server-side port. */
async function open(relay: TcpRelay, server: EchoServer): Promise<[Deno.Conn, number]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: relay.port });
  const before = new Set(server.received.keys());
  await echo(conn, "hello");
  const port = [...server.received.keys()].find((p) => !before.has(p));
  assert.ok(port !== undefined);
  return [conn, port];
}

/** Writes `message` and reads its echo: a round trip through the relay. */
async function echo(conn: Deno.Conn, message: string): Promise<void> {
  await conn.write(utf8.encode(message));
  const buffer = new Uint8Array(message.length);
  let read = 0;
  while (read < message.length) {
    const n = await conn.read(buffer.subarray(read));
    assert.ok(n !== null, "the connection ended before the echo");
    read += n;
  }
  assert.equal(text.decode(buffer), message);
}

test("TcpRelay: freeze() forwards nothing either way, not even the end; abort() ends it", async () => {
  const server = new EchoServer();
  const relay = new TcpRelay(server.port);
  const [frozen, port] = await open(relay, server);
  const [other] = await open(relay, server);

  relay.freeze(port);
  let delivered = false;
  const reading = frozen.read(new Uint8Array(16)).then((n) => {
    delivered = n !== null;
    return n;
  }, () => null);
  // The relay's reads of both sides are under way: these bytes are read but not passed on.
  await frozen.write(utf8.encode("lost"));
  await frozen.closeWrite();
  await server.conns.get(port)!.write(utf8.encode("lost too"));
  await echo(other, "round trip");
  await echo(other, "and another");
  assert.equal(server.received.get(port), "hello", "nothing more reached the server");
  assert.equal(server.ended.has(port), false, "the client's end was not passed on");
  assert.equal(delivered, false, "nothing reached the client");

  // The frozen client's read stays pending until the relay cuts the connection.
  await relay.abort(port);
  assert.equal(await reading, null);
  await echo(other, "still relaying");

  frozen.close();
  other.close();
  await relay.close();
  await server.close();
  assert.ok(server.ended.has(port));
});

test("TcpRelay: close() releases a frozen connection whose reads are pending", async () => {
  const server = new EchoServer();
  const relay = new TcpRelay(server.port);
  const [frozen, port] = await open(relay, server);
  relay.freeze(port);
  // Nothing is written: both of the relay's reads of this pair are still pending.
  const reading = frozen.read(new Uint8Array(16)).catch(() => null);
  await relay.close();
  assert.equal(await reading, null);
  frozen.close();
  await server.close();
  assert.equal(server.received.get(port), "hello");
});

test("TcpRelay: freeze() and abort() of an unknown port do nothing", async () => {
  const server = new EchoServer();
  const relay = new TcpRelay(server.port);
  relay.freeze(1);
  await relay.abort(1);
  const [conn] = await open(relay, server);
  await echo(conn, "fine");
  conn.close();
  await relay.close();
  await server.close();
});
