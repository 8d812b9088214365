// A typed connection against the real ASP.NET Core hub: the interfaces mirror the C# TestHub
// (tests/interop/server/TestHub.cs) as each hub protocol shows it, so a drift between them fails
// here. On each transport with each hub protocol.
import "../_guard.ts";
import assert from "node:assert/strict";
import { type HubConnection, Subject } from "../../mod.ts";
import { signal, within } from "../_util.ts";
import { startInteropServer } from "./_server.ts";
import { builderOn, forEachVariant, startOn, type Variant } from "./_transports.ts";

/** C# `Person` under JSON: members camel-cased, DateTime as an ISO string. */
interface JsonPerson {
  name: string;
  age: number;
  born: string;
  tags: string[];
  address: { street: string; city: string } | null;
}

/** C# `Person` under MessagePack: the C# member names, DateTime as a Date. */
interface MessagePackPerson {
  Name: string;
  Age: number;
  Born: Date;
  Tags: string[];
  Address: { Street: string; City: string } | null;
}

/** What a protocol makes of the C# types: `Person`, `MixedUploadResult`, `DateTime`. */
interface Shapes {
  person: unknown;
  mixed: unknown;
  date: unknown;
}

interface JsonShapes extends Shapes {
  person: JsonPerson;
  mixed: { prefix: string; a: number[]; middle: number; b: number[] };
  date: string;
}

interface MessagePackShapes extends Shapes {
  person: MessagePackPerson;
  mixed: { Prefix: string; A: number[]; Middle: number; B: number[] };
  date: Date;
}

/** TestHub.cs, as seen from the client, with the C# types as the protocol writes them. */
interface TestHubServer<S extends Shapes> {
  Add(a: number, b: number): number;
  GetProtocol(): string;
  EchoPerson(p: S["person"]): S["person"];
  /** A Date argument goes as an ISO string in JSON, as a timestamp in MessagePack. */
  EchoDate(d: Date): S["date"];
  SendMessage(user: string, message: string): Promise<void>;
  Counter(count: number, delay: number): AsyncIterable<number>;
  UploadCollect(stream: AsyncIterable<string>): Promise<string[]>;
  UploadMixed(
    prefix: string,
    a: AsyncIterable<number>,
    middle: number,
    b: AsyncIterable<number>,
  ): S["mixed"];
  AskClient(method: string, arg: unknown): unknown;
}

interface TestHubClient {
  ReceiveMessage(user: string, message: string): void;
  Triple(n: number): number;
}

Deno.test("interop: typed hub", async (t) => {
  await using server = await startInteropServer();
  if (!server) return;
  await forEachVariant(t, async (_, variant) => {
    const builder = builderOn(variant, `${server.url}/hub`);
    if (variant.protocol === "json") {
      await using connection = builder.build<TestHubServer<JsonShapes>, TestHubClient>();
      await typed(connection, variant);
      const person = await connection.invoke("EchoPerson", {
        name: "Ada",
        age: 36,
        born: "1815-12-10T00:00:00Z",
        tags: [],
        address: null,
      });
      assert.equal(person.age, 37);
      assert.equal(person.born, "1815-12-11T00:00:00Z");
      const date: string = await connection.invoke("EchoDate", new Date(0));
      assert.equal(date, "1970-01-01T00:00:00Z");
      const mixed = await connection.invoke(
        "UploadMixed",
        "p",
        ReadableStream.from([1, 2]),
        3,
        gen(),
      );
      assert.deepEqual(mixed, { prefix: "p", a: [1, 2], middle: 3, b: [4] });
    } else {
      await using connection = builder.build<TestHubServer<MessagePackShapes>, TestHubClient>();
      await typed(connection, variant);
      const person = await connection.invoke("EchoPerson", {
        Name: "Ada",
        Age: 36,
        Born: new Date("1815-12-10T00:00:00Z"),
        Tags: [],
        Address: null,
      });
      assert.equal(person.Age, 37);
      assert.equal(person.Born.toISOString(), "1815-12-11T00:00:00.000Z");
      const date: Date = await connection.invoke("EchoDate", new Date(0));
      assert.equal(date.getTime(), 0);
      const mixed = await connection.invoke(
        "UploadMixed",
        "p",
        ReadableStream.from([1, 2]),
        3,
        gen(),
      );
      assert.deepEqual(mixed, { Prefix: "p", A: [1, 2], Middle: 3, B: [4] });
    }
  });
});

async function* gen() {
  yield 4;
}

/** What is the same under both protocols. */
async function typed<S extends Shapes>(
  connection: HubConnection<TestHubServer<S>, TestHubClient>,
  variant: Variant,
) {
  const received = signal<string>();
  connection.on(
    "ReceiveMessage",
    (user, message) => received.fire(`${user.toUpperCase()}:${message}`),
  );
  connection.on("Triple", (n) => n * 3);
  await startOn(connection, variant);
  assert.equal(await connection.invoke("GetProtocol"), variant.protocol);

  const sum: number = await connection.invoke("Add", 40, 2);
  assert.equal(sum, 42);
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
  assert.equal(await connection.invoke("AskClient", "Triple", 5), 15);
}
