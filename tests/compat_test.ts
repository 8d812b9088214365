// What users of @microsoft/signalr rely on, on TestHub: Observables (RxJS) uploaded as streams,
// the official texts for client results, and the timer properties.
import assert from "node:assert/strict";
import { Subject as RxSubject } from "npm:rxjs@7.8.2";
import { HubConnectionBuilder } from "../mod.ts";
import { TestHub } from "../testing.ts";

function connect(url: string) {
  return new HubConnectionBuilder().withUrl(url).configureLogging({ log() {} }).build();
}

Deno.test("an RxJS Subject argument is uploaded as a stream, never sent as data", async () => {
  const failure = Promise.withResolvers<string>();
  await using hub = await TestHub.serve({
    methods: {
      Join: async (separator: string, items: AsyncIterable<string>) =>
        (await Array.fromAsync(items)).join(separator),
      Watch: async (items: AsyncIterable<unknown>) => {
        try {
          for await (const _ of items);
          failure.resolve("no error");
        } catch (error) {
          failure.resolve((error as Error).message);
        }
      },
    },
  });
  await using connection = connect(hub.url);
  await connection.start();

  const subject = new RxSubject<string>();
  const joined = connection.invoke("Join", "-", subject);
  subject.next("a");
  subject.next("b");
  subject.complete();
  assert.equal(await joined, "a-b");
  const client = await hub.nextConnection();
  const call = client.received.find((m) => m.type === 1 && "target" in m && m.target === "Join");
  assert.ok(call && "streamIds" in call && call.streamIds?.length === 1, JSON.stringify(call));
  assert.deepEqual(call.arguments, ["-"]);

  const failing = new RxSubject<number>();
  await connection.send("Watch", failing);
  failing.next(1);
  failing.error(new Error("client gave up"));
  assert.match(await failure.promise, /client gave up/);
});

Deno.test("an uploaded Observable is unsubscribed when the server completes the call first", async () => {
  await using hub = await TestHub.serve({
    methods: {
      First: async (items: AsyncIterable<number>) => {
        for await (const item of items) return item;
      },
    },
  });
  await using connection = connect(hub.url);
  await connection.start();
  const subject = new RxSubject<number>();
  const first = connection.invoke("First", subject);
  subject.next(7);
  assert.equal(await first, 7);
  assert.equal(subject.observed, false);
  subject.next(8); // after the call: dropped, not sent
  subject.complete();
});
