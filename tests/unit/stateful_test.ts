// Stateful reconnect in the connection layer (src/connection/_connection.ts, _stateful_link.ts
// and _stateful.ts), over fake transports: numbering, the replay buffer and its backpressure,
// Acks, the reattach (Sequence, replay, duplicates dropped), and the ways it ends.
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import {
  ConnectionClosedError,
  type HubMessage,
  MessageType,
  ProtocolError,
  TransportClosedError,
} from "../../mod.ts";
import {
  Connection,
  type ConnectionEnd,
  type ConnectionEvents,
} from "../../src/connection/_connection.ts";
import type { StatefulOptions } from "../../src/connection/_stateful.ts";
import { enableStateful } from "../../src/connection/_stateful_link.ts";
import { JsonHubProtocol } from "../../src/protocol/json.ts";
import type {
  Transport,
  TransportFeatures,
  TransportReceiver,
} from "../../src/transport/transport.ts";

const RS = "\x1e";
const protocol = new JsonHubProtocol();

class FakeTransport implements Transport {
  readonly name = "WebSockets";
  readonly features: TransportFeatures = { inherentKeepAlive: true, statefulReconnect: true };
  readonly sent: HubMessage[] = [];
  closed = false;
  #decoder = protocol.createDecoder({ maxMessageSize: 1 << 20, logger: { log() {} } });
  readonly receiver: TransportReceiver;
  constructor(receiver: TransportReceiver) {
    this.receiver = receiver;
  }
  send(frames: readonly (string | Uint8Array)[]): Promise<void> | undefined {
    for (const frame of frames) {
      if (typeof frame === "string" && frame.includes('"protocol"')) continue;
      this.sent.push(...this.#decoder.decode(frame));
    }
    return undefined;
  }
  close(): Promise<void> {
    this.closed = true;
    this.receiver.onClose(undefined);
    return Promise.resolve();
  }
  /** The server writes these messages. */
  deliver(...messages: HubMessage[]): void {
    this.receiver.onFrame(messages.map((m) => protocol.encode(m)).join(""));
  }
  /** The network drops the transport. */
  drop(): void {
    this.closed = true;
    this.receiver.onClose(new Error("connection reset"));
  }
  sentOf(type: number): HubMessage[] {
    return this.sent.filter((m) => m.type === type);
  }
}

/** One macrotask: the outbox has flushed what was queued. */
function flushed(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function invocation(n: number): HubMessage {
  return { type: MessageType.Invocation, target: "Take", arguments: [n] };
}

function item(n: number): HubMessage {
  return { type: MessageType.StreamItem, invocationId: "1", item: n };
}

interface Harness {
  connection: Connection;
  transports: FakeTransport[];
  received: HubMessage[];
  ends: ConnectionEnd[];
  suspended: Error[];
  resumed: PromiseWithResolvers<void>;
  /** Lets the next reattach attempt connect (or fail with `error`). */
  allowReattach(error?: Error): void;
  gone: boolean;
  attempts: number;
  /** What the server sends on the new transport before the client's reattach returns. */
  greeting: HubMessage[];
}

async function statefulConnection(
  bufferSize = 1 << 20,
  withHandshake: HubMessage[] = [],
): Promise<Harness> {
  const connection = new Connection({
    protocol,
    logger: { log() {} },
    logMessageContent: false,
    maxMessageSize: 1 << 20,
    keepAliveInterval: 15_000,
    serverTimeout: 30_000,
    closeTimeout: 100,
  });
  const transports: FakeTransport[] = [];
  // What the next reattach attempts do, in order; an attempt waits while this is empty.
  const outcomes: (Error | undefined)[] = [];
  let waiting: (() => void) | undefined;
  const h: Harness = {
    connection,
    transports,
    received: [],
    ends: [],
    suspended: [],
    resumed: Promise.withResolvers<void>(),
    allowReattach(error?: Error) {
      outcomes.push(error);
      waiting?.();
    },
    gone: false,
    attempts: 0,
    greeting: [],
  };
  const options: StatefulOptions = {
    bufferSize,
    async reattach(receiver, signal) {
      h.attempts++;
      while (outcomes.length === 0) {
        const turn = Promise.withResolvers<void>();
        waiting = turn.resolve;
        const onAbort = () => turn.resolve();
        signal.addEventListener("abort", onAbort, { once: true });
        await turn.promise;
        signal.removeEventListener("abort", onAbort);
        signal.throwIfAborted();
      }
      const error = outcomes.shift();
      if (error) throw error;
      const transport = new FakeTransport(receiver);
      transports.push(transport);
      if (h.greeting.length > 0) transport.deliver(...h.greeting);
      return transport;
    },
    gone: () => Promise.resolve(h.gone),
  };
  enableStateful(connection, options);
  const first = new FakeTransport(connection);
  transports.push(first);
  const answered = connection.handshake(first, 1_000, new AbortController().signal, 2);
  first.receiver.onFrame("{}" + RS + withHandshake.map((m) => protocol.encode(m)).join(""));
  await answered;
  const events: ConnectionEvents = {
    onMessage: (m) => h.received.push(m),
    onClose: (end) => h.ends.push(end),
    onSuspended: (error) => h.suspended.push(error),
    onResumed: () => h.resumed.resolve(),
  };
  connection.attach(events);
  return h;
}

test("stateful: the handshake asks for version 2", async () => {
  const connection = new Connection({
    protocol,
    logger: { log() {} },
    logMessageContent: false,
    maxMessageSize: 1 << 20,
    keepAliveInterval: 15_000,
    serverTimeout: 30_000,
    closeTimeout: 100,
  });
  const requests: string[] = [];
  const transport: Transport = {
    name: "WebSockets",
    features: { inherentKeepAlive: true, statefulReconnect: true },
    send(frames) {
      requests.push(frames.join(""));
      queueMicrotask(() => connection.onFrame("{}" + RS));
      return undefined;
    },
    close() {
      connection.onClose(undefined);
      return Promise.resolve();
    },
  };
  await connection.handshake(transport, 1_000, new AbortController().signal, 2);
  assert.deepEqual(requests, ['{"protocol":"json","version":2}' + RS]);
  await connection.stop();
});

test("stateful: a drop suspends, the reattach sends Sequence and replays what was not acked", async () => {
  const h = await statefulConnection();
  const [first] = h.transports;
  for (let n = 1; n <= 4; n++) h.connection.send(invocation(n));
  h.connection.send({ type: MessageType.Ping }); // not numbered, not kept
  await Promise.resolve();
  first.deliver({ type: MessageType.Ack, sequenceId: 2 });
  // Queued when the transport drops: its write still succeeds, since the replay sends it.
  const written = h.connection.write(invocation(5));
  first.drop();
  await written;
  assert.equal(h.suspended.length, 1);
  assert.match(h.suspended[0].message, /connection reset/);
  assert.equal(h.ends.length, 0);
  // Sent while suspended: kept, sent after the replay.
  h.connection.send(invocation(6));
  h.allowReattach();
  await h.resumed.promise;
  const second = h.transports[1];
  await flushed();
  assert.deepEqual(second.sent, [
    { type: MessageType.Sequence, sequenceId: 3 },
    invocation(3),
    invocation(4),
    invocation(5),
    invocation(6),
  ]);
  await h.connection.stop();
});

test("stateful: after a reattach, nothing counts before the server's Sequence; replays are dropped", async () => {
  const h = await statefulConnection();
  const [first] = h.transports;
  first.deliver(item(1), item(2), item(3));
  first.drop();
  h.allowReattach();
  await h.resumed.promise;
  const second = h.transports[1];
  // Before the Sequence: ignored. Then the server replays from 2: 2 and 3 are duplicates.
  second.deliver(
    item(99),
    { type: MessageType.Sequence, sequenceId: 2 },
    item(2),
    item(3),
    item(4),
  );
  assert.deepEqual(h.received, [item(1), item(2), item(3), item(4)]);
  // Our last Ack is repeated after the server's Sequence, whatever was sent before the cut.
  await flushed();
  assert.deepEqual(second.sentOf(MessageType.Ack), [{ type: MessageType.Ack, sequenceId: 3 }]);
  await h.connection.stop();
});

test("stateful: a Sequence past what was received is fatal, and may reconnect", async () => {
  const h = await statefulConnection();
  h.transports[0].deliver(item(1));
  h.transports[0].drop();
  h.allowReattach();
  await h.resumed.promise;
  h.transports[1].deliver({ type: MessageType.Sequence, sequenceId: 5 });
  assert.equal(h.ends.length, 1);
  assert.ok(h.ends[0].error instanceof ProtocolError);
  assert.match(h.ends[0].error.message, /resumes at message 5, but only 1 were received/);
  assert.equal(h.ends[0].allowReconnect, true);
  await h.connection.closed;
});

test("stateful: a full buffer holds sends in order and releases them as Acks arrive", async () => {
  const frameSize = protocol.encode(invocation(1)).length;
  const h = await statefulConnection(frameSize * 2);
  const [first] = h.transports;
  const writes = [1, 2, 3, 4].map((n) => h.connection.write(invocation(n)));
  h.connection.send(invocation(5));
  assert.ok(h.connection.backpressure, "senders are asked to wait");
  await Promise.all(writes.slice(0, 2));
  let third = false;
  writes[2].then(() => third = true);
  await flushed();
  assert.equal(third, false);
  assert.deepEqual(first.sentOf(MessageType.Invocation), [invocation(1), invocation(2)]);
  const room = h.connection.backpressure!;
  first.deliver({ type: MessageType.Ack, sequenceId: 2 });
  await writes[2];
  await writes[3];
  assert.deepEqual(first.sentOf(MessageType.Invocation).length, 4);
  first.deliver({ type: MessageType.Ack, sequenceId: 4 });
  await room;
  await flushed();
  assert.deepEqual(first.sentOf(MessageType.Invocation), [1, 2, 3, 4, 5].map(invocation));
  assert.equal(h.connection.backpressure, undefined);
  await h.connection.stop();
});

test("stateful: a full buffer whose Ack was lost in the cut lets one new message through", async () => {
  const frameSize = protocol.encode(invocation(1)).length;
  const h = await statefulConnection(frameSize * 2);
  h.connection.send(invocation(1));
  h.connection.send(invocation(2));
  const held = h.connection.write(invocation(3));
  h.transports[0].drop(); // the server's Ack for 1 and 2 never arrives
  h.allowReattach();
  await h.resumed.promise;
  await held;
  const second = h.transports[1];
  await flushed();
  assert.deepEqual(second.sent, [
    { type: MessageType.Sequence, sequenceId: 1 },
    invocation(1),
    invocation(2),
    invocation(3),
  ]);
  await h.connection.stop();
});

test("stateful: received messages are acknowledged about once a second, only when new", async () => {
  const h = await statefulConnection();
  const [first] = h.transports;
  first.deliver(item(1), item(2));
  const acked = Promise.withResolvers<void>();
  const send = first.send.bind(first);
  first.send = (frames) => {
    const result = send(frames);
    if (first.sentOf(MessageType.Ack).length > 0) acked.resolve();
    return result;
  };
  await acked.promise;
  assert.deepEqual(first.sentOf(MessageType.Ack), [{ type: MessageType.Ack, sequenceId: 2 }]);
  await h.connection.stop();
});

test("stateful: the server forgot the connection → closed, reconnect allowed, held sends fail", async () => {
  const frameSize = protocol.encode(invocation(1)).length;
  const h = await statefulConnection(frameSize);
  h.connection.send(invocation(1));
  const held = h.connection.write(invocation(2));
  h.transports[0].drop();
  h.gone = true;
  h.allowReattach(new Error("WebSocket upgrade refused"));
  await assert.rejects(held, ConnectionClosedError);
  assert.equal(h.ends.length, 1);
  assert.ok(h.ends[0].error instanceof TransportClosedError);
  assert.match(h.ends[0].error.message, /no longer knows the connection/);
  assert.equal(h.ends[0].allowReconnect, true);
  await h.connection.closed;
});

test("stateful: a failed reattach is tried again with backoff", async () => {
  const h = await statefulConnection();
  h.transports[0].drop();
  h.allowReattach(new Error("not yet"));
  h.allowReattach(new Error("not yet"));
  h.allowReattach();
  await h.resumed.promise;
  assert.equal(h.attempts, 3);
  await h.connection.stop();
});

test("stateful: stop() while reattaching ends at once, with no attempt left running", async () => {
  const h = await statefulConnection();
  h.transports[0].drop();
  await h.connection.stop();
  await h.connection.closed;
  assert.equal(h.ends.length, 0); // the owner's own stop is not reported back
  assert.throws(() => h.connection.send(invocation(1)), ConnectionClosedError);
});

test("stateful: what the server sends before the reattach returns is read after the resume", async () => {
  const h = await statefulConnection();
  h.transports[0].deliver(item(1), item(2));
  h.transports[0].drop();
  h.greeting = [{ type: MessageType.Sequence, sequenceId: 2 }, item(2), item(3)];
  h.allowReattach();
  await h.resumed.promise;
  assert.deepEqual(h.received, [item(1), item(2), item(3)]);
  h.transports[1].deliver(item(4));
  assert.deepEqual(h.received.at(-1), item(4));
  await h.connection.stop();
});

test("stateful: messages in the handshake response's frame are numbered too", async () => {
  const h = await statefulConnection(1 << 20, [item(1), item(2)]);
  h.transports[0].drop();
  h.allowReattach();
  await h.resumed.promise;
  // The server replays from 1: both were received with the handshake, so both are duplicates.
  h.transports[1].deliver({ type: MessageType.Sequence, sequenceId: 1 }, item(1), item(2), item(3));
  assert.deepEqual(h.received, [item(1), item(2), item(3)]);
  await h.connection.stop();
});

test("stateful: acks across the kept chunks, then a replay of exactly what is left", async () => {
  const h = await statefulConnection();
  const [first] = h.transports;
  for (let n = 1; n <= 600; n++) h.connection.send(invocation(n));
  await flushed();
  first.deliver({ type: MessageType.Ack, sequenceId: 300 });
  for (let n = 601; n <= 700; n++) h.connection.send(invocation(n));
  await flushed();
  first.deliver({ type: MessageType.Ack, sequenceId: 450 });
  first.drop();
  h.allowReattach();
  await h.resumed.promise;
  await flushed();
  const second = h.transports[1];
  assert.deepEqual(second.sent[0], { type: MessageType.Sequence, sequenceId: 451 });
  assert.deepEqual(second.sent.slice(1), range(451, 250).map(invocation));
  await h.connection.stop();
});

test("stateful: an Ack within the replay frees nothing until one past it (ASP.NET Core's Sequence check)", async () => {
  const h = await statefulConnection();
  for (let n = 1; n <= 5; n++) h.connection.send(invocation(n));
  await flushed();
  h.transports[0].drop();
  h.allowReattach();
  await h.resumed.promise;
  // The server acks 5 while it may still be reading the replay of 1..5.
  h.transports[1].deliver({ type: MessageType.Sequence, sequenceId: 1 }, {
    type: MessageType.Ack,
    sequenceId: 5,
  });
  h.resumed = Promise.withResolvers();
  h.transports[1].drop();
  h.allowReattach();
  await h.resumed.promise;
  await flushed();
  // Still from 1: a server that had read only part of the replay accepts it.
  assert.deepEqual(h.transports[2].sent[0], { type: MessageType.Sequence, sequenceId: 1 });
  h.transports[2].deliver({ type: MessageType.Sequence, sequenceId: 1 });
  h.connection.send(invocation(6));
  await flushed();
  h.transports[2].deliver({ type: MessageType.Ack, sequenceId: 6 }); // past the replay: trusted
  h.resumed = Promise.withResolvers();
  h.transports[2].drop();
  h.allowReattach();
  await h.resumed.promise;
  await flushed();
  assert.deepEqual(h.transports[3].sent, [{ type: MessageType.Sequence, sequenceId: 7 }]);
  await h.connection.stop();
});

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}
