// One transport life (src/connection/_connection.ts) over a fake transport: what it buffers
// before its owner attaches, liveness, and bounded stops.
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { within } from "../_util.ts";
import { HandshakeError, type HubMessage, MessageType, ServerCloseError } from "../../mod.ts";
import {
  Connection,
  type ConnectionEnd,
  type ConnectionSettings,
} from "../../src/connection/_connection.ts";
import { JsonHubProtocol } from "../../src/protocol/json.ts";
import { MessagePackHubProtocol } from "../../msgpack.ts";
import type { Transport, TransportFeatures } from "../../src/transport/transport.ts";

const RS = "\x1e";

class FakeTransport implements Transport {
  readonly name = "LongPolling";
  readonly features: TransportFeatures;
  readonly sent: string[] = [];
  onSend: (text: string) => void = () => {};
  closeCalls: number[] = [];
  /** Set: close() waits for it (a peer that does not confirm). */
  confirmClose: Promise<void> | undefined;
  readonly receiver: Connection;
  constructor(receiver: Connection, inherentKeepAlive = false) {
    this.receiver = receiver;
    this.features = { inherentKeepAlive, statefulReconnect: false };
  }
  send(frames: readonly (string | Uint8Array)[]): Promise<void> | undefined {
    const text = frames.join("");
    this.sent.push(text);
    this.onSend(text);
    return undefined;
  }
  async close(timeout: number): Promise<void> {
    this.closeCalls.push(timeout);
    if (this.confirmClose) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.confirmClose,
        new Promise<void>((resolve) => timer = setTimeout(resolve, timeout)),
      ]);
      clearTimeout(timer);
    }
    this.receiver.onClose(undefined);
  }
}

function settings(overrides: Partial<ConnectionSettings> = {}): ConnectionSettings {
  return {
    protocol: new JsonHubProtocol(),
    logger: { log() {} },
    logMessageContent: false,
    maxMessageSize: 1 << 20,
    keepAliveInterval: 15_000,
    serverTimeout: 30_000,
    closeTimeout: 1_000,
    ...overrides,
  };
}

/** A connection past its handshake; `answer` is the server's first frame. */
async function handshaken(
  answer: string | Uint8Array,
  options: { inherentKeepAlive?: boolean; settings?: Partial<ConnectionSettings> } = {},
) {
  const connection = new Connection(settings(options.settings));
  const transport = new FakeTransport(connection, options.inherentKeepAlive);
  transport.onSend = (text) => {
    if (text.includes('"protocol"')) queueMicrotask(() => connection.onFrame(answer));
  };
  await connection.handshake(transport, 1_000, new AbortController().signal);
  return { connection, transport };
}

function recorder() {
  const messages: HubMessage[] = [];
  const ends: ConnectionEnd[] = [];
  return {
    messages,
    ends,
    events: {
      onMessage: (m: HubMessage) => messages.push(m),
      onClose: (e: ConnectionEnd) => ends.push(e),
    },
  };
}

test("Connection: what came with the handshake is held until attach, then the end", async () => {
  const { connection } = await handshaken(
    "{}" + RS + '{"type":1,"target":"A","arguments":[]}' + RS + '{"type":7,"error":"bye"}' + RS,
  );
  const { messages, ends, events } = recorder();
  assert.equal(messages.length, 0);
  connection.attach(events);
  assert.deepEqual(messages.map((m) => m.type), [MessageType.Invocation]);
  assert.equal(ends.length, 1);
  assert.ok(ends[0].error instanceof ServerCloseError);
  await connection.closed;
});

test("Connection: MessagePack messages in the handshake response's frame are read", async () => {
  const protocol = new MessagePackHubProtocol();
  const invocation: HubMessage = { type: MessageType.Invocation, target: "A", arguments: [1] };
  const head = new TextEncoder().encode("{}" + RS);
  const first = protocol.encode(invocation);
  const close = protocol.encode({ type: MessageType.Close, error: "bye" });
  const frame = new Uint8Array(head.length + first.length + close.length);
  frame.set(head);
  frame.set(first, head.length);
  frame.set(close, head.length + first.length);
  const { connection } = await handshaken(frame, { settings: { protocol } });
  const { messages, ends, events } = recorder();
  connection.attach(events);
  assert.deepEqual(messages, [invocation]);
  assert.equal(ends.length, 1);
  assert.ok(ends[0].error instanceof ServerCloseError);
  assert.match(ends[0].error.message, /bye/);
  await connection.closed;
});

test("Connection: a transport that keeps itself alive gets no pings", async () => {
  const alive = await handshaken("{}" + RS, {
    inherentKeepAlive: true,
    settings: { keepAliveInterval: 1, serverTimeout: 1_000_000 },
  });
  const pinging = await handshaken("{}" + RS, {
    settings: { keepAliveInterval: 1, serverTimeout: 1_000_000 },
  });
  alive.connection.attach(recorder().events);
  const pinged = Promise.withResolvers<void>();
  let pings = 0;
  pinging.transport.onSend = (text) =>
    text.includes('"type":6') && ++pings === 2 && pinged.resolve();
  pinging.connection.attach(recorder().events);
  // Both share the ticker: once the second has pinged from it (its first Ping goes out with
  // attach), the first has had its chances too.
  await pinged.promise;
  assert.deepEqual(alive.transport.sent.filter((t) => t.includes('"type":6')), []);
  await Promise.all([alive.connection.stop(), pinging.connection.stop()]);
});

test("Connection: a Ping goes out at attach, not a keep-alive interval later", async () => {
  // ASP.NET Core arms its client timeout at the first Ping it receives.
  const { connection, transport } = await handshaken("{}" + RS, {
    settings: { keepAliveInterval: 60_000, serverTimeout: 120_000 },
  });
  const pinged = Promise.withResolvers<void>();
  transport.onSend = (text) => text.includes('"type":6') && pinged.resolve();
  assert.equal(transport.sent.length, 1, "the handshake only, before attach");
  connection.attach(recorder().events);
  await within(pinged.promise, 5_000, "the first Ping");
  assert.deepEqual(transport.sent.slice(1), ['{"type":6}' + RS]);
  await connection.stop();
});

test("Connection: stop() sends Close, then closes within the bound even unconfirmed", async () => {
  const { connection, transport } = await handshaken("{}" + RS, { settings: { closeTimeout: 30 } });
  const { ends, events } = recorder();
  connection.attach(events);
  transport.confirmClose = new Promise(() => {}); // never
  await connection.stop();
  assert.ok(transport.sent.at(-1)!.includes('"type":7'));
  assert.equal(transport.closeCalls.length, 1);
  assert.ok(transport.closeCalls[0] <= 30);
  assert.deepEqual(ends, [], "the owner's own stop is not reported back to it");
  assert.throws(() => connection.send({ type: MessageType.Ping }), /closing/);
});

test("Connection: the transport closing during the handshake is a HandshakeError", async () => {
  const connection = new Connection(settings());
  const transport = new FakeTransport(connection);
  transport.onSend = () => queueMicrotask(() => connection.onClose(new Error("reset")));
  await assert.rejects(
    connection.handshake(transport, 1_000, new AbortController().signal),
    (e: unknown) => e instanceof HandshakeError && (e.cause as Error).message === "reset",
  );
});
