// Stateful reconnect against ASP.NET Core (`AllowStatefulReconnects = true`, /hub-stateful in
// StatefulHub.cs), through a relay that cuts the live WebSocket connection: a two-way exchange
// cut many times loses, duplicates and reorders nothing and keeps its connection id; a reattach
// the server refuses (it forgot the connection) becomes an automatic reconnect; over Long Polling
// the option is ignored.
//
// Around ASP.NET Core 10's faults (PROTOCOL.md): the upload is completed only after the last cut
// (the server would mishandle replayed items of an upload it already completed), and the buffer
// is left at its default size (the exchange never waits for buffer space, where a lost Ack would
// stall the official client).
import "../_guard.ts";
import assert from "node:assert/strict";
import {
  ConnectionClosedError,
  type HubConnection,
  HubConnectionState,
  LogLevel,
  Subject,
} from "../../mod.ts";
import { RecordingLogger, signal, within } from "../_util.ts";
import { CuttingRelay } from "./_cutter.ts";
import { type InteropServer, startInteropServer } from "./_server.ts";
import {
  builderOn,
  selectedTransports,
  selectedVariants,
  startOn,
  type Variant,
  variantName,
} from "./_transports.ts";

/** Cuts per exchange. */
const CUTS = 24;
/** Messages of each kind per round, each way. */
const BATCH = 20;
/** Bound of each wait for progress. */
const WAIT_MS = 10_000;

interface Report {
  connectionId: string;
  connects: number;
  calls: string[];
  uploaded: number[];
  pumped: number;
}

/** The hub's Report in either protocol's member names (camelCase in JSON, C# in MessagePack). */
async function report(connection: HubConnection): Promise<Report> {
  const raw = await connection.invoke<Record<string, unknown>>("Report");
  const get = (name: string) => raw[name] ?? raw[name[0].toUpperCase() + name.slice(1)];
  return {
    connectionId: get("connectionId") as string,
    connects: get("connects") as number,
    calls: get("calls") as string[],
    uploaded: get("uploaded") as number[],
    pumped: get("pumped") as number,
  };
}

/** A count that callbacks raise and a test can wait on (no polling). */
class Counter {
  value = 0;
  #waiters: { at: number; fire: () => void }[] = [];
  add(n = 1): void {
    this.value += n;
    this.#waiters = this.#waiters.filter((w) => {
      if (this.value < w.at) return true;
      w.fire();
      return false;
    });
  }
  /** Resolves once the count reached `at`. */
  reach(at: number, what: string): Promise<void> {
    if (this.value >= at) return Promise.resolve();
    const { promise, fire } = signal();
    this.#waiters.push({ at, fire });
    return within(promise, WAIT_MS, `${what} (at ${this.value}, waiting for ${at})`);
  }
}

/** `promise`, with its rejection marked handled: a test that fails first leaves none dangling. */
function kept<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

Deno.test("interop: stateful reconnect", async (t) => {
  await using server = await startInteropServer();
  if (!server) return;
  const port = Number(new URL(server.url).port);
  const webSockets = selectedVariants().filter((v) => v.transport === "WebSockets");

  for (const variant of webSockets) {
    await t.step(`${variantName(variant)}: ${CUTS} cuts in a two-way exchange`, async () => {
      await exchange(variant, port);
    });
  }

  if (webSockets.length > 0) {
    // A server that forgets a connection half a second after its transport dropped.
    await using forgetful = await startInteropServer({ disconnectTimeoutMs: 500 });
    for (const variant of webSockets) {
      await t.step(`${variantName(variant)}: reattach refused → automatic reconnect`, async () => {
        await refused(variant, forgetful!);
      });
    }
  }

  if (selectedTransports().includes("LongPolling")) {
    await t.step("LongPolling: the option is ignored", async () => {
      const logger = new RecordingLogger();
      const variant: Variant = { transport: "LongPolling", protocol: "json" };
      await using connection = await startOn(
        builderOn(variant, `${server.url}/hub-stateful-lp`, {}, logger)
          .withStatefulReconnect().build(),
        variant,
      );
      assert.equal(await connection.invoke("Echo", 7), 7);
      assert.ok(
        logger.entries.some((e) =>
          e.level === LogLevel.Information && /Stateful reconnect needs WebSockets/.test(e.message)
        ),
        logger.at(LogLevel.Debug).join("\n"),
      );
    });
  }
});

/**
 * One connection, rounds of messages both ways, the live connection cut in each round but the
 * last once that round's traffic is under way. Client → server: `send("Note", i)`,
 * `invoke("Echo", i)` and an upload item i; server → client: a Feed stream item and a `Tick(i)`
 * invocation for each i (`Pump`), and a `Square(r)` client result that is answered only after
 * the round's cut.
 */
async function exchange(variant: Variant, port: number): Promise<void> {
  await using relay = new CuttingRelay(port);
  const logger = new RecordingLogger();
  await using connection = await startOn(
    builderOn(variant, `${relay.url}/hub-stateful`, {}, logger).withStatefulReconnect().build(),
    variant,
  );
  const id = connection.connectionId;
  assert.ok(id);

  const suspended = new Counter();
  const resumed = new Counter();
  connection.onsuspended(() => suspended.add());
  connection.onresumed(() => resumed.add());
  let reconnecting = 0;
  connection.onreconnecting(() => reconnecting++);
  const closed = signal<Error | undefined>();
  connection.onclose((error) => closed.fire(error));

  const ticks: number[] = [];
  const ticked = new Counter();
  connection.on("Tick", (i) => {
    ticks.push(i as number);
    ticked.add();
  });
  // Square(r) is answered once round r's cut is done: a client result in flight at each cut.
  const asked = new Counter();
  const answers: PromiseWithResolvers<void>[] = [];
  const answer = (r: number) => answers[r] ??= Promise.withResolvers<void>();
  const squares: number[] = [];
  connection.on("Square", async (r) => {
    squares.push(r as number);
    asked.add();
    await answer(r as number).promise;
    return (r as number) ** 2;
  });

  const fed: number[] = [];
  const feeding = kept((async () => {
    for await (const i of connection.stream<number>("Feed")) fed.push(i);
  })());
  const upload = new Subject<number>();
  const uploaded = kept(connection.invoke<number>("Upload", upload));

  const sends: Promise<void>[] = [];
  const echoes: Promise<number>[] = [];
  const pumps: Promise<void>[] = [];
  const asks: Promise<number>[] = [];
  const started = performance.now();
  const rounds = CUTS + 1;
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < BATCH; j++) {
      const i = r * BATCH + j;
      sends.push(kept(connection.send("Note", i)));
      echoes.push(kept(connection.invoke<number>("Echo", i)));
      upload.next(i);
    }
    pumps.push(kept(connection.invoke("Pump", BATCH)));
    asks.push(kept(connection.invoke<number>("Ask", r)));
    if (r === CUTS) break;
    // Cut once the round is under way: in even rounds with half its Ticks here (the rest, stream
    // items, Echo results in flight), in odd ones once Square(r) arrived (all its Ticks came
    // first), the next round's messages just written.
    if (r % 2 === 0) await ticked.reach(r * BATCH + BATCH / 2, `round ${r}: half its Ticks`);
    else await asked.reach(r + 1, `round ${r}: Square(${r})`);
    assert.equal(await relay.cutWebSockets(), 1, `round ${r}: one live WebSocket to cut`);
    answer(r).resolve();
    await suspended.reach(r + 1, `round ${r}: onsuspended`);
  }
  answer(CUTS).resolve();
  const total = rounds * BATCH;
  await within(Promise.all(sends), WAIT_MS, "sends");
  assert.deepEqual(await within(Promise.all(echoes), WAIT_MS, "echoes"), range(total));
  await within(Promise.all(pumps), WAIT_MS, "pumps");
  assert.deepEqual(
    await within(Promise.all(asks), WAIT_MS, "asks"),
    range(rounds).map((r) => r * r),
  );
  const cutsDone = performance.now();

  // The cuts are over: now the upload and the feed may end.
  upload.complete();
  assert.equal(await within(uploaded, WAIT_MS, "upload result"), total);
  await connection.invoke("EndFeed");
  await within(feeding, WAIT_MS, "feed end");

  assert.deepEqual(ticks, range(total), "Ticks: each once, in order");
  assert.deepEqual(fed, range(total), "Feed items: each once, in order");
  assert.deepEqual(squares, range(rounds), "Square calls: each once, in order");
  const seen = await report(connection);
  assert.deepEqual(
    seen.calls,
    range(total).flatMap((i) => [`n${i}`, `e${i}`]),
    "server: Note and Echo calls each once, in order",
  );
  assert.deepEqual(seen.uploaded, range(total), "server: upload items each once, in order");
  assert.equal(seen.pumped, total);
  assert.equal(seen.connects, 1, "server: one OnConnectedAsync");
  assert.equal(seen.connectionId, id);
  assert.equal(connection.connectionId, id, "the connection id never changed");

  assert.equal(relay.cuts, CUTS);
  await resumed.reach(CUTS, "the last onresumed");
  assert.equal(suspended.value, CUTS);
  assert.equal(resumed.value, CUTS);
  assert.equal(reconnecting, 0);
  assert.equal(connection.state, HubConnectionState.Connected);
  const replayed = logger.at(LogLevel.Information)
    .map((m) => /Reattached .*; (\d+) unacknowledged/.exec(m)?.[1])
    .filter((n) => n !== undefined)
    .reduce((sum, n) => sum + Number(n), 0);
  assert.ok(replayed > 0, "some messages were sent again after a cut");
  assert.deepEqual(logger.at(LogLevel.Warning), []);

  await connection.stop();
  assert.equal(await closed.promise, undefined);
  console.log(
    `  ${CUTS} cuts, ${total} messages of each kind each way, ${replayed} replayed by the client, ` +
      `${(cutsDone - started).toFixed(0)} ms`,
  );
}

/**
 * The live connection is cut while the server is out of reach; meanwhile the server forgets the
 * connection (its DisconnectTimeout is short). Once it is in reach again, the reattach is
 * answered 404: the connection ends, the automatic reconnect takes over (new connection id), and
 * the calls that were pending fail with a ConnectionClosedError.
 */
async function refused(variant: Variant, server: InteropServer): Promise<void> {
  await using relay = new CuttingRelay(Number(new URL(server.url).port));
  const logger = new RecordingLogger();
  await using connection = await startOn(
    builderOn(variant, `${relay.url}/hub-stateful`, {}, logger)
      .withStatefulReconnect()
      .withAutomaticReconnect([0, 100, 500])
      .build(),
    variant,
  );
  const id = connection.connectionId!;
  const suspended = signal<Error>();
  const reconnecting = signal<Error | undefined>();
  const reconnected = signal<string | undefined>();
  let resumed = 0;
  let closes = 0;
  connection.onsuspended((error) => suspended.fire(error));
  connection.onresumed(() => resumed++);
  connection.onreconnecting((error) => reconnecting.fire(error));
  connection.onreconnected((newId) => reconnected.fire(newId));
  connection.onclose(() => closes++);

  assert.equal(await connection.invoke("Echo", 1), 1);
  const held = connection.invoke("Hold");
  const feed = connection.stream<number>("Feed").getReader();
  const read = feed.read();
  held.catch(() => {});
  read.catch(() => {});

  relay.refuse = true;
  assert.equal(await relay.cutWebSockets(), 1);
  await within(suspended.promise, WAIT_MS, "onsuspended");
  // The server forgets the connection (DisconnectTimeout) while the client cannot reach it.
  const gone = await fetch(`${server.url}/hub-stateful-gone?id=${encodeURIComponent(id)}`, {
    method: "POST",
  });
  await gone.body?.cancel();
  assert.equal(gone.status, 200, "the server ended the connection");
  relay.refuse = false;

  await within(reconnecting.promise, WAIT_MS, "onreconnecting");
  const error = await within(held.then(() => undefined, (e: unknown) => e), WAIT_MS, "Hold");
  assert.ok(error instanceof ConnectionClosedError, String(error));
  await assert.rejects(within(read, WAIT_MS, "Feed"), ConnectionClosedError);
  const newId = await within(reconnected.promise, WAIT_MS, "onreconnected");
  assert.ok(newId && newId !== id, `a new connection id (${newId} after ${id})`);
  assert.equal(connection.connectionId, newId);
  assert.equal(resumed, 0);
  assert.equal(closes, 0);
  // The reconnect began because the server answered 404, not because the reattach window ended.
  assert.ok(
    error.cause instanceof Error && /no longer knows the connection/.test(error.cause.message),
    String(error.cause),
  );

  // The new connection is stateful too: a cut is survived, with the new id.
  const resumedAgain = signal();
  connection.onresumed(() => resumedAgain.fire());
  assert.equal(await relay.cutWebSockets(), 1);
  await within(resumedAgain.promise, WAIT_MS, "onresumed on the new connection");
  assert.equal(await connection.invoke("Echo", 2), 2);
  assert.equal(connection.connectionId, newId);
  assert.equal((await report(connection)).connects, 1);
}
