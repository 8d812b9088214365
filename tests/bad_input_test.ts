// Bad input from the server and misbehaving peers: each ends in a typed error with a clear
// message and the connection in a defined state, never a hang or an unhandled rejection.
import "./_guard.ts";
import assert from "node:assert/strict";
import {
  ConnectionClosedError,
  HandshakeError,
  type HubConnection,
  HubConnectionBuilder,
  HubConnectionState,
  HubError,
  type InvocationMessage,
  LogLevel,
  MessageType,
  ProtocolError,
} from "../mod.ts";
import { TestHub } from "../testing.ts";
import { bareHub, RecordingLogger } from "./_util.ts";

const RS = "\x1e";

function nextClose(connection: HubConnection): Promise<Error | undefined> {
  return new Promise((resolve) => connection.onclose(resolve));
}

Deno.test("malformed JSON: ProtocolError, pending calls rejected, no reconnect", async () => {
  await using hub = await TestHub.serve({ methods: { Wait: () => new Promise(() => {}) } });
  const logger = new RecordingLogger();
  const connection = new HubConnectionBuilder().withUrl(hub.url).withAutomaticReconnect([0])
    .configureLogging(logger).build();
  let reconnecting = 0;
  connection.onreconnecting(() => reconnecting++);
  await connection.start();
  const server = await hub.nextConnection();
  const pending = connection.invoke("Wait");
  await server.waitForMessage(MessageType.Invocation);
  const closed = nextClose(connection);
  await server.writeRaw('{"type":1,"target":' + RS);
  const error = await closed;
  assert.ok(error instanceof ProtocolError);
  assert.match(error.message, /not valid JSON/);
  await assert.rejects(
    pending,
    (e: unknown) => e instanceof ConnectionClosedError && e.cause === error,
  );
  assert.equal(connection.state, HubConnectionState.Disconnected);
  assert.equal(reconnecting, 0);
  assert.ok(logger.at(LogLevel.Error).some((m) => m.includes("not valid JSON")));
});

Deno.test("a partial record growing past maxReceiveMessageSize closes with ProtocolError", async () => {
  await using hub = await TestHub.serve();
  const connection = new HubConnectionBuilder()
    .withUrl(hub.url, { maxReceiveMessageSize: 1000 })
    .configureLogging(LogLevel.None).build();
  await connection.start();
  const server = await hub.nextConnection();
  const closed = nextClose(connection);
  await server.writeRaw('{"type":1,"target":"x","arguments":["' + "a".repeat(600));
  await server.writeRaw("a".repeat(600));
  const error = await closed;
  assert.ok(error instanceof ProtocolError);
  assert.match(error.message, /exceeds the receive limit of 1000/);
  assert.equal(connection.state, HubConnectionState.Disconnected);
});

Deno.test("odd but harmless input: unknown ids, unknown types and fields, split records", async () => {
  await using hub = await TestHub.serve({ methods: { Echo: (x: unknown) => x } });
  const logger = new RecordingLogger();
  await using connection = new HubConnectionBuilder().withUrl(hub.url).configureLogging(logger)
    .build();
  const got: unknown[] = [];
  const third = Promise.withResolvers<void>();
  connection.on("Note", (x) => {
    got.push(x);
    if (got.length === 3) third.resolve();
  });
  await connection.start();
  const server = await hub.nextConnection();
  await server.writeRaw(
    '{"type":3,"invocationId":"404","result":1}' + RS + // unknown id
      '{"type":2,"invocationId":"405","item":1}' + RS + // unknown stream
      '{"type":42,"whatever":true}' + RS + // a message type from the future
      '{"type":1,"target":"Note","arguments":[1],"extra":{"x":1}}' + RS + // unknown field
      '{"type":1,"target":"Note","arg',
  );
  await server.writeRaw('uments":[2]}' + RS + '{"type":1,"target":"Note","arguments":[3]}' + RS);
  await third.promise;
  assert.deepEqual(got, [1, 2, 3]);
  assert.equal(await connection.invoke("Echo", "fine"), "fine");
  assert.equal(connection.state, HubConnectionState.Connected);
  const warnings = logger.at(LogLevel.Warning);
  assert.ok(warnings.some((m) => m.includes("Completion for unknown invocation id '404'")));
  assert.ok(warnings.some((m) => m.includes("StreamItem for unknown invocation id '405'")));
  assert.ok(
    logger.entries.some((e) => e.level === LogLevel.Debug && /unknown type 42/.test(e.message)),
  );
});

Deno.test("Completions with both result and error, as Go servers write them: read as the official client reads them", async () => {
  // The hub's own answers come after ours (and are dropped as unknown ids).
  const gate = Promise.withResolvers<void>();
  await using hub = await TestHub.serve({ methods: { Wait: () => gate.promise } });
  await using connection = new HubConnectionBuilder().withUrl(hub.url)
    .configureLogging(LogLevel.None).build();
  await connection.start();
  const server = await hub.nextConnection();
  const shapes = [
    '"result":3,"error":""',
    '"result":3,"error":null',
    '"result":null,"error":"boom"',
  ];
  const calls = shapes.map(() => connection.invoke("Wait").then((r) => r, (e: Error) => e));
  const answered = new Set<string>();
  for (const fields of shapes) {
    const { invocationId } = await server.waitForMessage((m) =>
      m.type === MessageType.Invocation && !answered.has(m.invocationId!)
    ) as InvocationMessage;
    answered.add(invocationId!);
    await server.writeRaw(`{"type":3,"invocationId":"${invocationId}",${fields}}` + RS);
  }
  const [first, second, third] = await Promise.all(calls);
  assert.equal(first, 3);
  assert.equal(second, 3);
  assert.ok(third instanceof HubError && third.message === "boom", String(third));
  assert.equal(connection.state, HubConnectionState.Connected);
  gate.resolve();
});

Deno.test("handshake: refusal text, garbage, silence → HandshakeError, Disconnected", async (t) => {
  await using hub = await TestHub.serve();
  const attempt = async (handshakeTimeout = 5000) => {
    const connection = new HubConnectionBuilder().withUrl(hub.url)
      .withHandshakeTimeout(handshakeTimeout).configureLogging(LogLevel.None).build();
    const error = await connection.start().then(() => undefined, (e) => e);
    assert.equal(connection.state, HubConnectionState.Disconnected);
    return error;
  };
  await t.step("refusal", async () => {
    hub.faults.handshake = { error: "Nope, not today" };
    const error = await attempt();
    assert.ok(error instanceof HandshakeError);
    assert.equal(error.message, "Nope, not today");
  });
  await t.step("garbage", async () => {
    hub.faults.handshake = { raw: "<html>" + RS };
    const error = await attempt();
    assert.ok(error instanceof HandshakeError);
    assert.match(error.message, /not valid JSON/);
  });
  await t.step("silence", async () => {
    hub.faults.handshake = { ignore: true };
    const error = await attempt(100);
    assert.ok(error instanceof HandshakeError);
    assert.match(error.message, /did not answer the handshake within 100 ms/);
  });
  hub.faults.handshake = undefined;
});

Deno.test("keep-alive: an idle client pings; a busy one does not need to", async () => {
  await using hub = await TestHub.serve({ keepAliveInterval: 60_000 });
  await using connection = new HubConnectionBuilder().withUrl(hub.url).withKeepAliveInterval(50)
    .withServerTimeout(10_000).configureLogging(LogLevel.None).build();
  await connection.start();
  const server = await hub.nextConnection();
  const first = await server.waitForMessage(MessageType.Ping);
  assert.equal(first.type, MessageType.Ping);
  await server.waitForMessage((m) => m.type === MessageType.Ping && m !== first);
  assert.equal(connection.state, HubConnectionState.Connected);
});

Deno.test("a client result call in the same frame as the handshake response is answered", async () => {
  // A bare server: TestHub always answers the handshake in a frame of its own.
  const answered = Promise.withResolvers<unknown>();
  await using server = bareHub(
    (socket) =>
      socket.send(
        "{}" + RS + '{"type":1,"invocationId":"s1","target":"Ask","arguments":[20]}' + RS,
      ),
    (record) => {
      if (record.type === MessageType.Completion) answered.resolve(record);
    },
  );
  const connection = new HubConnectionBuilder().withUrl(server.url)
    .configureLogging(LogLevel.None).build();
  connection.on("Ask", (n: number) => n + 1);
  await connection.start();
  assert.deepEqual(await answered.promise, {
    type: MessageType.Completion,
    invocationId: "s1",
    result: 21,
  });
  await connection.stop();
});
