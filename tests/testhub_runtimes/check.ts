// Run by tests/testhub_runtimes_test.ts on Node and Bun (and runnable by hand:
// `node tests/testhub_runtimes/check.ts`, `bun tests/testhub_runtimes/check.ts`): starts a
// TestHub in this process and connects the client to it, both from the TypeScript sources, over
// WebSockets, Server-Sent Events and Long Polling, with JSON and MessagePack: invoke, a server
// stream, an upload, a client result, a server-side close, a cut connection. Prints one
// "ok <what>" line per check and "done" at the end; throws on the first failure.
import { HttpTransportType, HubConnectionBuilder, Subject } from "../../mod.ts";
import { MessagePackHubProtocol } from "../../msgpack.ts";
import { TestHub } from "../../testing.ts";

function assertEqual(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
console.log(`runtime ${runtime}`);

// No `await using`: Node 22 does not have it.
const hub = await TestHub.serve({
  methods: {
    Echo: (x: unknown) => x,
    Counter: async function* (count: number) {
      for (let i = 0; i < count; i++) yield i;
    },
    Sum: async (items: AsyncIterable<number>) => {
      let sum = 0;
      for await (const item of items) sum += item;
      return sum;
    },
    AskClient: async (_x: unknown, context) => await context.client.invoke("Question", 20),
  },
  protocols: [new MessagePackHubProtocol()],
});

const transports = {
  WebSockets: HttpTransportType.WebSockets,
  ServerSentEvents: HttpTransportType.ServerSentEvents,
  LongPolling: HttpTransportType.LongPolling,
} as const;

for (const [name, transport] of Object.entries(transports)) {
  for (const msgpack of name === "ServerSentEvents" ? [false] : [false, true]) {
    const label = `${name}${msgpack ? " MessagePack" : " JSON"}`;
    const builder = new HubConnectionBuilder().withUrl(hub.url, { transport });
    if (msgpack) builder.withHubProtocol(new MessagePackHubProtocol());
    const connection = builder.build();
    connection.on("Question", (n: number) => n + 22);
    const arrived = hub.nextConnection();
    await connection.start();
    const server = await arrived;
    assertEqual(server.transport, name, `${label}: the hub's transport`);
    assertEqual(await connection.invoke("Echo", { a: [1, "b"] }), { a: [1, "b"] }, label);
    console.log(`ok ${label} invoke`);
    const items: number[] = [];
    for await (const n of connection.stream<number>("Counter", 5)) items.push(n);
    assertEqual(items, [0, 1, 2, 3, 4], `${label}: stream`);
    console.log(`ok ${label} stream`);
    const subject = new Subject<number>();
    const sum = connection.invoke("Sum", subject);
    for (let i = 1; i <= 4; i++) await subject.next(i);
    await subject.complete();
    assertEqual(await sum, 10, `${label}: upload`);
    console.log(`ok ${label} upload`);
    assertEqual(await connection.invoke("AskClient", 0), 42, `${label}: client result`);
    console.log(`ok ${label} client result`);
    // The hub closes the connection; then a cut one (a dropped TCP connection).
    const closed = new Promise<Error | undefined>((resolve) => connection.onclose(resolve));
    await server.close();
    await closed;
    console.log(`ok ${label} closed by the hub`);
    if (name === "WebSockets") {
      const second = new HubConnectionBuilder().withUrl(hub.url, { transport }).build();
      const next = hub.nextConnection();
      await second.start();
      const lost = new Promise<Error | undefined>((resolve) => second.onclose(resolve));
      await (await next).drop();
      const error = await lost;
      if (!error) throw new Error(`${label}: a cut connection closed without an error`);
      console.log(`ok ${label} cut`);
      await second.stop();
    }
    await connection.stop();
  }
}
await hub.close();
console.log("done");
