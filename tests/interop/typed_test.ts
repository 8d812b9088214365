// A typed connection against the real ASP.NET Core hub: the interfaces mirror the C# TestHub
// (tests/interop/server/TestHub.cs), so a drift between them fails here. On each transport.
import assert from "node:assert/strict";
import { Subject, type TransportName } from "../../mod.ts";
import { signal, within } from "../_util.ts";
import { startInteropServer } from "./_server.ts";
import { builderOn, forEachTransport, startOn } from "./_transports.ts";

interface Person {
  name: string;
  age: number;
  born: string;
  tags: string[];
  address: { street: string; city: string } | null;
}

/** TestHub.cs, as seen from the client (C# names camel-cased by the JSON protocol). */
interface TestHubServer {
  Add(a: number, b: number): number;
  EchoPerson(p: Person): Person;
  SendMessage(user: string, message: string): Promise<void>;
  Counter(count: number, delay: number): AsyncIterable<number>;
  UploadCollect(stream: AsyncIterable<string>): Promise<string[]>;
  UploadMixed(
    prefix: string,
    a: AsyncIterable<number>,
    middle: number,
    b: AsyncIterable<number>,
  ): { prefix: string; a: number[]; middle: number; b: number[] };
  AskClient(method: string, arg: unknown): unknown;
}

interface TestHubClient {
  ReceiveMessage(user: string, message: string): void;
  Triple(n: number): number;
}

Deno.test("interop: typed hub", async (t) => {
  await using server = await startInteropServer();
  if (!server) return;
  await forEachTransport(t, (_, transport) => typed(transport, `${server.url}/hub`));
});

async function typed(transport: TransportName, hubUrl: string) {
  await using connection = builderOn(transport, hubUrl).build<TestHubServer, TestHubClient>();
  const received = signal<string>();
  connection.on(
    "ReceiveMessage",
    (user, message) => received.fire(`${user.toUpperCase()}:${message}`),
  );
  connection.on("Triple", (n) => n * 3);
  await startOn(connection, transport);

  const sum: number = await connection.invoke("Add", 40, 2);
  assert.equal(sum, 42);
  const person = await connection.invoke("EchoPerson", {
    name: "Ada",
    age: 36,
    born: "1815-12-10T00:00:00Z",
    tags: [],
    address: null,
  });
  assert.equal(person.age, 37);
  await connection.send("SendMessage", "ada", "hi");
  assert.equal(await within(received.promise, 5000, "ReceiveMessage"), "ADA:hi");

  let total = 0;
  for await (const n of connection.stream("Counter", 5, 0)) total += n;
  assert.equal(total, 10);

  const subject = new Subject<string>();
  const collected = connection.invoke("UploadCollect", subject);
  await subject.next("x");
  await subject.complete();
  assert.deepEqual(await collected, ["x"]);
  const mixed = await connection.invoke(
    "UploadMixed",
    "p",
    ReadableStream.from([1, 2]),
    3,
    (async function* () {
      yield 4;
    })(),
  );
  assert.deepEqual(mixed, { prefix: "p", a: [1, 2], middle: 3, b: [4] });
  assert.equal(await connection.invoke("AskClient", "Triple", 5), 15);
}
