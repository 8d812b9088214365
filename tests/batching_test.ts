// How the client's messages reach the socket: an awaited upload loop and a burst of invokes are
// batched into few WebSocket messages, without reordering or loss. Counted on the wire (a
// WebSocket constructor that records each send), never timed.
import "./_guard.ts";
import assert from "node:assert/strict";
import { type HubConnection, HubConnectionBuilder, LogLevel, Subject } from "../mod.ts";
import { TestHub } from "../testing.ts";

/** A WebSocket constructor that records the size of every message the client sends. */
function countingWebSocket(sizes: number[]): typeof WebSocket {
  return class extends WebSocket {
    override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
      sizes.push(typeof data === "string" ? data.length : (data as ArrayBufferView).byteLength);
      super.send(data);
    }
  };
}

/** A started connection whose sends after the handshake are recorded in `sizes`. */
async function connectCounting(url: string, sizes: number[]): Promise<HubConnection> {
  const connection = new HubConnectionBuilder()
    .withUrl(url, { WebSocket: countingWebSocket(sizes) })
    .configureLogging(LogLevel.None)
    .build();
  await connection.start();
  sizes.length = 0;
  return connection;
}

Deno.test("batching: 20 000 awaited subject.next() calls leave in few WebSocket messages, in order", async () => {
  await using hub = await TestHub.serve({
    methods: {
      Collect: async (items: AsyncIterable<number>) => {
        let count = 0;
        let inOrder = true;
        for await (const item of items) {
          if (item !== count) inOrder = false;
          count++;
        }
        return { count, inOrder };
      },
    },
  });
  const sizes: number[] = [];
  await using connection = await connectCounting(hub.url, sizes);

  const subject = new Subject<number>();
  const result = connection.invoke("Collect", subject);
  for (let i = 0; i < 20_000; i++) await subject.next(i);
  await subject.complete();
  assert.deepEqual(await result, { count: 20_000, inOrder: true });
  // One message per item would be 20 000 (the official client's way).
  assert.ok(sizes.length < 200, `${sizes.length} WebSocket messages for 20 000 items`);
});

Deno.test("batching: 64 invokes in one turn share messages of at most ~1 KB (no Nagle stall)", async () => {
  await using hub = await TestHub.serve({ methods: { Add: (a: number, b: number) => a + b } });
  const sizes: number[] = [];
  await using connection = await connectCounting(hub.url, sizes);

  const results = await Promise.all(
    Array.from({ length: 64 }, (_, i) => connection.invoke("Add", i, 1)),
  );
  assert.deepEqual(results, Array.from({ length: 64 }, (_, i) => i + 1));
  assert.ok(sizes.length > 1 && sizes.length < 64, `${sizes.length} messages for 64 invokes`);
  for (const size of sizes) assert.ok(size <= 1_000, `a message of ${size} characters`);
});
