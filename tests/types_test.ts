// Type tests for typed hubs: `deno check` (and `deno test`, which checks first) fails if a
// right use stops compiling, or if a wrong use marked @ts-expect-error starts compiling.
import "./_guard.ts";
import assert from "node:assert/strict";
import {
  type HubConnection,
  HubConnectionBuilder,
  type HubStream,
  Subject,
  type UntypedHub,
} from "../mod.ts";

interface ChatServer {
  SendMessage(user: string, text: string): void;
  Add(a: number, b: number): Promise<number>;
  GetPerson(id: number): { name: string; born: string };
  Counter(count: number, delay: number): AsyncIterable<number>;
  Lines(): ReadableStream<string>;
  UploadCollect(items: AsyncIterable<string>): string[];
  UploadMixed(prefix: string, a: AsyncIterable<number>, middle: number): void;
}

interface ChatClient {
  ReceiveMessage(user: string, text: string): void;
  GetName(): string;
  Double(n: number): Promise<number>;
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
function expectType<T>(_value: T): void {}
function assertType<_Check extends true>(): void {}

// Never called: these lines only have to type-check (or fail to, where marked).
async function typedUses(connection: HubConnection<ChatServer, ChatClient>) {
  await connection.send("SendMessage", "me", "hi");
  const sum = await connection.invoke("Add", 1, 2);
  assertType<Equal<typeof sum, number>>();
  const person = await connection.invoke("GetPerson", 7);
  assertType<Equal<typeof person, { name: string; born: string }>>();
  const counter = connection.stream("Counter", 3, 10);
  assertType<Equal<typeof counter, HubStream<number>>>();
  for await (const n of counter) n.toFixed();
  const lines = connection.stream("Lines");
  assertType<Equal<typeof lines, HubStream<string>>>();

  // Uploads: Subject, ReadableStream or AsyncIterable of the parameter's item type.
  await connection.invoke("UploadCollect", new Subject<string>());
  await connection.invoke("UploadCollect", ReadableStream.from(["a"]));
  await connection.invoke(
    "UploadCollect",
    (async function* () {
      yield "a";
    })(),
  );
  await connection.send("UploadMixed", "p", new Subject<number>(), 3);

  // Options form.
  const viaOptions = await connection.invoke({ method: "Add", args: [1, 2], timeout: 1000 });
  assertType<Equal<typeof viaOptions, number>>();
  connection.stream({ method: "Counter", args: [1, 2], signal: AbortSignal.timeout(10) });
  await connection.send({ method: "SendMessage", args: ["a", "b"] });

  // Handlers: typed parameters; client results return the declared type.
  connection.on("ReceiveMessage", (user, text) => {
    assertType<Equal<typeof user, string>>();
    expectType<string>(text);
  });
  connection.on("GetName", () => "ada");
  connection.on("GetName", () => Promise.resolve("ada"));
  connection.on("Double", (n) => n * 2);
  connection.off("ReceiveMessage");

  // ---- wrong uses ----
  // @ts-expect-error unknown method name
  await connection.invoke("Nope");
  // @ts-expect-error wrong argument type
  await connection.invoke("Add", 1, "2");
  // @ts-expect-error wrong arity (too few)
  await connection.invoke("Add", 1);
  // @ts-expect-error wrong arity (too many)
  await connection.send("SendMessage", "a", "b", "c");
  // @ts-expect-error a non-stream method passed to stream
  connection.stream("Add", 1, 2);
  // @ts-expect-error the upload's item type must match
  await connection.invoke("UploadCollect", new Subject<number>());
  // @ts-expect-error options form with a wrong argument
  await connection.invoke({ method: "Add", args: [1, true] });
  // @ts-expect-error unknown client method
  connection.on("Nope", () => {});
  // @ts-expect-error wrong handler parameter type
  connection.on("ReceiveMessage", (user: number) => user);
  // @ts-expect-error a client result of the wrong type
  connection.on("GetName", () => 42);
  // @ts-expect-error a client result promise of the wrong type
  connection.on("Double", () => Promise.resolve("two"));
  // @ts-expect-error the result is a number, not a string
  const wrong: string = await connection.invoke("Add", 1, 2);
  void wrong;
}

async function untypedUses(connection: HubConnection) {
  assertType<Equal<typeof connection, HubConnection<UntypedHub, UntypedHub>>>();
  const anything = await connection.invoke("Whatever", 1, "two", { three: 3 });
  assertType<Equal<typeof anything, unknown>>();
  const sum = await connection.invoke<number>("Add", 1, 2);
  assertType<Equal<typeof sum, number>>();
  const stream = connection.stream("Counter", 1, 2);
  assertType<Equal<typeof stream, HubStream<unknown>>>();
  const numbers = connection.stream<number>("Counter", 1, 2);
  assertType<Equal<typeof numbers, HubStream<number>>>();
  connection.on("ReceiveMessage", (user, text) => {
    assertType<Equal<typeof user, unknown>>();
    void text;
  });
  connection.on("Double", (n: number) => n * 2);
  await connection.send({ method: "x", args: [1, "a"] as const });
  // @ts-expect-error unknown results are not usable without a check
  (await connection.invoke("Add", 1, 2)).toFixed();
}

Deno.test("typed hubs: build<Server, Client>() is a HubConnection at run time too", () => {
  const typed = new HubConnectionBuilder().withUrl("http://127.0.0.1:1/hub")
    .build<ChatServer, ChatClient>();
  const untyped = new HubConnectionBuilder().withUrl("http://127.0.0.1:1/hub").build();
  assert.equal(Object.getPrototypeOf(typed), Object.getPrototypeOf(untyped));
  assert.equal(typeof typedUses, "function");
  assert.equal(typeof untypedUses, "function");
});
