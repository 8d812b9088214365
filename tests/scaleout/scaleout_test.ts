// Scale-out against the real parts (tests/scaleout/_cluster.ts): two ASP.NET Core instances with
// a Redis backplane behind haproxy with cookie affinity, on each transport with each hub protocol.
// What a client must do there: send the affinity cookie back on every request (Server-Sent Events
// and Long Polling use several HTTP requests per connection, and an instance knows only its own
// connections), reach clients on the other instance through the backplane, come back to the same
// instance when a stateful reconnect reattaches, and move to the other instance when its own dies
// (the affinity cookie then names a dead server: haproxy redispatches and sets a new one).
import "../_guard.ts";
import assert from "node:assert/strict";
import {
  ConnectionClosedError,
  HttpError,
  type HubConnection,
  HubConnectionState,
  type WebSocketConstructor,
} from "../../mod.ts";
import { RecordingLogger, signal, within } from "../_util.ts";
import { CuttingRelay } from "../interop/_cutter.ts";
import {
  builderOn,
  selectedVariants,
  startOn,
  type Variant,
  variantName,
} from "../interop/_transports.ts";
import { type Cluster, startCluster } from "./_cluster.ts";

/** Bound of every wait for something that normally takes milliseconds (a loaded CI machine). */
const WAIT_MS = 10_000;
/** Bound of a move to the other instance: a reconnect through haproxy's retries. */
const MOVE_MS = 20_000;
/** Calls that must all land on one instance. */
const CALLS = 20;
/** Opens tried to land a connection on a given instance (roundrobin alternates: 2 suffice). */
const OPENS = 10;
/** Automatic reconnect delays: quick, and more attempts than haproxy needs to notice a death. */
const RECONNECT_DELAYS = [0, 200, 500, 1000, 1000, 1000, 1000, 1000, 1000, 1000];

/**
 * The client's log (printed with TEST_LOG=1): the failed starts and reconnect attempts these
 * tests cause on purpose would fill the output with warnings.
 */
const logger = new RecordingLogger();

/** `promise`, with its rejection marked handled: a test that fails first leaves none dangling. */
function kept<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
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
  reach(at: number, what: string, ms = WAIT_MS): Promise<void> {
    if (this.value >= at) return Promise.resolve();
    const { promise, fire } = signal();
    this.#waiters.push({ at, fire });
    return within(promise, ms, `${what} (at ${this.value}, waiting for ${at})`);
  }
}

/** The first value a handler gets, as a promise bounded by {@link WAIT_MS}. */
function next<T>(connection: HubConnection, method: string, what: string): Promise<T[]> {
  const { promise, fire } = signal<T[]>();
  const off = connection.on(method, (...args) => {
    off();
    fire(args as T[]);
  });
  return within(promise, WAIT_MS, what);
}

const instanceOf = (connection: HubConnection) =>
  within(connection.invoke<string>("GetInstance"), WAIT_MS, "GetInstance");

/**
 * A started connection through haproxy that landed on `instance` (new connections alternate
 * between the instances: the ones that land elsewhere are stopped).
 */
async function openOn(variant: Variant, url: string, instance: string): Promise<HubConnection> {
  for (let i = 0; i < OPENS; i++) {
    const connection = builderOn(variant, url, {}, logger)
      .withAutomaticReconnect(RECONNECT_DELAYS).build();
    await startOn(connection, variant);
    if (await instanceOf(connection) === instance) return connection;
    await connection.stop();
  }
  throw new Error(`no connection landed on instance ${instance} in ${OPENS} opens`);
}

/** `fetch` without the `Cookie` header: a client whose cookie jar does not exist. */
const fetchWithoutCookies: typeof fetch = (input, init) => {
  const headers = new Headers(init?.headers);
  headers.delete("Cookie");
  return fetch(input, { ...init, headers });
};

/** The runtime's WebSocket, minus the `Cookie` header of the upgrade request. */
const WebSocketWithoutCookies: WebSocketConstructor = class extends WebSocket {
  constructor(url: string, options?: string | string[] | { headers?: Record<string, string> }) {
    if (options && typeof options === "object" && !Array.isArray(options)) {
      const headers = { ...options.headers };
      for (const name of Object.keys(headers)) {
        if (name.toLowerCase() === "cookie") delete headers[name];
      }
      options = { headers };
    }
    // Deno's constructor takes `{ headers }` as its second argument.
    super(url, options as string[]);
  }
};

Deno.test("scale-out: two instances, a Redis backplane, haproxy with cookie affinity", async (t) => {
  await using cluster = await startCluster();
  if (!cluster) return;
  const hub = `${cluster.url}/hub`;
  const variants = selectedVariants();

  await t.step("every transport works through haproxy, on one instance", async (t) => {
    for (const variant of variants) {
      await t.step(variantName(variant), async () => {
        await using connection = await startOn(builderOn(variant, hub).build(), variant);
        const id = connection.connectionId;
        const instance = await instanceOf(connection);
        assert.ok(["a", "b"].includes(instance), instance);
        assert.equal(await connection.invoke("Add", 2, 3), 5);
        assert.deepEqual(await connection.invoke("Echo", { n: [1, "x"] }), { n: [1, "x"] });
        const items: number[] = [];
        for await (const i of connection.stream<number>("Counter", 5, 0)) items.push(i);
        assert.deepEqual(items, [0, 1, 2, 3, 4]);
        // Each call is a request of its own on Server-Sent Events and Long Polling (a POST),
        // and Long Polling polls again after each result: all of them reach the instance that
        // holds the connection, or it would answer 404.
        const seen = await Promise.all(
          Array.from({ length: CALLS }, () => connection.invoke<string>("GetInstance")),
        );
        for (let i = 0; i < CALLS; i++) seen.push(await instanceOf(connection));
        assert.deepEqual(new Set(seen), new Set([instance]));
        assert.equal(connection.connectionId, id);
        assert.equal(connection.state, HubConnectionState.Connected);
      });
    }
  });

  await t.step("without the cookie the next request reaches the other instance", async (t) => {
    // haproxy alternates between the instances (roundrobin, one thread) for requests without
    // its cookie, and only this client's requests pass through it during the step: negotiate
    // lands on one instance, the transport's first request (the event stream's GET, the first
    // poll, the WebSocket upgrade) on the other, which does not know the connection token and
    // answers 404. With the cookie (the step above) every request goes where negotiate went.
    for (const variant of variants) {
      await t.step(variantName(variant), async () => {
        const connection = builderOn(variant, hub, {
          fetch: fetchWithoutCookies,
          WebSocket: WebSocketWithoutCookies,
        }, logger).build();
        const error = await within(
          connection.start().then(() => undefined, (e: unknown) => e),
          WAIT_MS,
          "start without cookies",
        );
        assert.equal(connection.state, HubConnectionState.Disconnected);
        if (variant.transport === "WebSockets") {
          // A refused upgrade is a WebSocket error event, not an HTTP response the client could
          // read (browsers do not tell its status; Deno puts it in the message).
          assert.ok(error instanceof Error, String(error));
          assert.ok(!(error instanceof HttpError), String(error));
          assert.match(error.message, /Invalid status code: 404/);
        } else {
          assert.ok(error instanceof HttpError, String(error));
          assert.equal(error.status, 404);
        }
      });
    }
  });

  await t.step("Clients.All and groups reach the other instance's clients", async (t) => {
    for (const variant of variants) {
      await t.step(variantName(variant), async () => {
        await using alice = await openOn(variant, hub, "a");
        await using bob = await openOn(variant, hub, "b");
        const group = `g-${crypto.randomUUID()}`;
        // Each also gets what it sends itself.
        for (const c of [alice, bob]) {
          c.on("GroupMessage", () => {});
          c.on("ReceiveMessage", () => {});
        }
        await alice.invoke("JoinGroup", group);
        await bob.invoke("JoinGroup", group);

        const toBob = next<string>(bob, "GroupMessage", "the group message on b");
        await alice.invoke("SendToGroup", group, "from a");
        assert.deepEqual(await toBob, [group, "from a"]);

        const toAlice = next<string>(alice, "ReceiveMessage", "the broadcast on a");
        await bob.invoke("SendMessage", "bob", "from b");
        assert.deepEqual(await toAlice, ["bob", "from b"]);

        // A group one left no longer reaches it, across instances too.
        await bob.invoke("LeaveGroup", group);
        const toAliceAgain = next<string>(alice, "GroupMessage", "the group message on a");
        let bobGot = 0;
        bob.on("GroupMessage", () => bobGot++);
        await bob.invoke("SendToGroup", group, "from b to the group");
        assert.deepEqual(await toAliceAgain, [group, "from b to the group"]);
        // The broadcast after it is on the same backplane channel as the group message: once
        // it reached bob, the group message would have too.
        const last = next<string>(bob, "ReceiveMessage", "the last broadcast on b");
        await alice.invoke("SendMessage", "alice", "last");
        await last;
        assert.equal(bobGot, 0);
      });
    }
  });

  await t.step("POST /scaleout/broadcast reaches both instances' clients", async () => {
    // The endpoint of the load benchmark (bench/scaleout.ts): Tick(seq, sentAtUnixMs) to all.
    const variant: Variant = { transport: "WebSockets", protocol: "json" };
    await using onA = await openOn(variant, hub, "a");
    await using onB = await openOn(variant, hub, "b");
    const COUNT = 5;
    const ticks = [onA, onB].map((connection) => {
      const seqs: number[] = [];
      const counter = new Counter();
      const sentAts: unknown[] = [];
      connection.on("Tick", (seq, sentAt) => {
        seqs.push(seq as number);
        sentAts.push(sentAt);
        counter.add();
      });
      return { seqs, sentAts, counter };
    });
    const response = await fetch(
      `${cluster.instance("a").url}/scaleout/broadcast?count=${COUNT}&intervalMs=10`,
      { method: "POST", signal: AbortSignal.timeout(WAIT_MS) },
    );
    await response.body?.cancel();
    assert.equal(response.status, 202);
    const sent = Date.now();
    for (const { seqs, sentAts, counter } of ticks) {
      await counter.reach(COUNT, "the Ticks");
      assert.deepEqual(seqs, [0, 1, 2, 3, 4]);
      // Unix milliseconds of this very run (one clock: all on loopback).
      for (const at of sentAts) assert.ok(Math.abs((at as number) - sent) < 60_000, String(at));
    }
  });

  const webSockets = variants.filter((v) => v.transport === "WebSockets");
  if (webSockets.length > 0) {
    await t.step("stateful reconnect: the reattach returns to the same instance", async (t) => {
      for (const variant of webSockets) {
        await t.step(variantName(variant), () => stateful(variant, cluster));
      }
    });
  }

  // Last: these take instances down.
  await t.step("an instance killed (SIGKILL): its clients move to the other", async () => {
    // A crash: the kernel resets the instance's TCP connections, haproxy cannot connect to it
    // any more; nothing is closed gracefully.
    await using moved = await death(variants, cluster, "a", "b", false);
    // Back up: a client that moved must now carry b's cookie (haproxy set it when it
    // redispatched), or its requests would go back to a, which does not know its connection.
    await cluster.instance("a").start();
    await cluster.instance("a").seen("UP");
    for (const connection of moved.connections) {
      for (let i = 0; i < 4; i++) assert.equal(await instanceOf(connection), "b");
      assert.equal(await connection.invoke("Add", 1, 1), 2);
    }
  });

  await t.step("an instance stopped gracefully: its clients move to the other", async () => {
    // ASP.NET Core's shutdown: it stops listening and closes its connections.
    await using _moved = await death(variants, cluster, "b", "a", true);
  });
});

/**
 * Stateful reconnect through a relay in front of haproxy that cuts the WebSocket connection: the
 * reattach carries the cookie, so haproxy takes it to the instance that holds the connection
 * (the other would refuse the token and the client would fall back to a new connection: a new
 * id). Messages sent around each cut all arrive once, in order.
 */
async function stateful(variant: Variant, cluster: Cluster): Promise<void> {
  const CUTS = 4;
  const BATCH = 20;
  await using relay = new CuttingRelay(Number(new URL(cluster.url).port));
  await using connection = await startOn(
    builderOn(variant, `${relay.url}/hub-stateful`).withStatefulReconnect().build(),
    variant,
  );
  const id = connection.connectionId;
  assert.ok(id);
  const instance = await instanceOf(connection);
  const resumed = new Counter();
  connection.onresumed(() => resumed.add());
  let reconnecting = 0;
  connection.onreconnecting(() => reconnecting++);
  const ticks: number[] = [];
  const ticked = new Counter();
  connection.on("Tick", (i) => {
    ticks.push(i as number);
    ticked.add();
  });

  for (let cut = 0; cut < CUTS; cut++) {
    // Cut in the middle of a batch of server → client messages, with calls in flight.
    const pump = kept(connection.invoke("Pump", BATCH));
    const echoes = Array.from({ length: 5 }, (_, i) => kept(connection.invoke("Echo", i)));
    await ticked.reach(cut * BATCH + BATCH / 2, "half the batch");
    assert.equal(await relay.cutWebSockets(), 1);
    await resumed.reach(cut + 1, "the reattach");
    await within(pump, WAIT_MS, "Pump");
    assert.deepEqual(await within(Promise.all(echoes), WAIT_MS, "Echo"), [0, 1, 2, 3, 4]);
    await ticked.reach((cut + 1) * BATCH, "the batch");
    assert.equal(await instanceOf(connection), instance);
  }
  assert.deepEqual(ticks, Array.from({ length: CUTS * BATCH }, (_, i) => i));
  assert.equal(connection.connectionId, id);
  assert.equal(reconnecting, 0);
  const report = await connection.invoke<Record<string, unknown>>("Report");
  // One connection on the server all along: reattached, never connected again.
  assert.equal(report.connectionId ?? report.ConnectionId, id);
  assert.equal(report.connects ?? report.Connects, 1);
}

/** Connections moved off a dead instance; stopping them all on dispose. */
interface Moved {
  readonly connections: HubConnection[];
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * One connection per variant on `victim`, each with a call pending and a handler registered,
 * and a witness on `survivor`; then `end(victim)`. Each connection must reconnect (automatic
 * reconnect) to `survivor` with a new connection id, its pending call and stream failed with a
 * ConnectionClosedError, its handler still called afterwards. The victim is stopped gracefully
 * or killed.
 */
async function death(
  variants: readonly Variant[],
  cluster: Cluster,
  victim: string,
  survivor: string,
  graceful: boolean,
): Promise<Moved> {
  const hub = `${cluster.url}/hub`;
  const connections: HubConnection[] = [];
  const moved: Moved = {
    connections,
    async [Symbol.asyncDispose]() {
      await Promise.all(connections.map((c) => c.stop()));
    },
  };
  try {
    const witness = await openOn({ transport: "WebSockets", protocol: "json" }, hub, survivor);
    connections.push(witness);
    witness.on("ReceiveMessage", () => {});

    const clients = [];
    for (const variant of variants) {
      const reconnecting = signal<Error | undefined>();
      const reconnects = new Counter();
      const closed = signal<Error | undefined>();
      const received: string[] = [];
      const receivedOne = new Counter();
      const connection = await openOn(variant, hub, victim);
      connection.onreconnecting((error) => reconnecting.fire(error));
      connection.onreconnected(() => reconnects.add());
      connection.onclose((error) => closed.fire(error));
      connection.on("ReceiveMessage", (_user, message) => {
        received.push(message as string);
        receivedOne.add();
      });
      connections.push(connection);
      // Running when the instance dies: a stream with an item every half second, and a call
      // the server would answer after a minute. (The hub runs one invocation per connection at
      // a time, a stream's only until it starts: the stream goes first.)
      const stream = connection.stream<number>("Counter", 1000, 500);
      const reader = stream.getReader();
      const first = kept(reader.read());
      // Reads on until the stream fails (it would end only after 500 s).
      const streaming = kept(first.then(async () => {
        while (!(await reader.read()).done);
        throw new Error("the stream ended");
      }));
      const pending = kept(connection.invoke("SlowEcho", "late", 60_000));
      clients.push({
        variant,
        connection,
        id: connection.connectionId,
        first,
        streaming,
        pending,
        reconnecting,
        reconnects,
        closed,
        received,
        receivedOne,
      });
    }
    // The streams run on the instance.
    for (const c of clients) {
      assert.deepEqual(await within(c.first, WAIT_MS, "the first item"), { value: 0, done: false });
    }

    const instance = cluster.instance(victim);
    await within(graceful ? instance.stop() : instance.kill(), WAIT_MS, `${victim} to end`);

    for (const c of clients) {
      const name = variantName(c.variant);
      const closedFirst = c.closed.promise.then((e) => {
        throw new Error(`${name}: closed instead of reconnecting: ${e}`);
      });
      kept(closedFirst);
      const error = await within(
        Promise.race([c.reconnecting.promise, closedFirst]),
        WAIT_MS,
        `${name}: onreconnecting`,
      );
      assert.ok(error instanceof Error, `${name}: ${error}`);
      // The call and the stream cut off by the death fail with the connection's error, at once.
      await within(
        assert.rejects(c.pending, ConnectionClosedError),
        WAIT_MS,
        `${name}: the pending call`,
      );
      await within(
        assert.rejects(c.streaming, ConnectionClosedError),
        WAIT_MS,
        `${name}: the stream`,
      );
      // Reconnected on the survivor: haproxy takes a request whose cookie names a dead server
      // to another one (redispatch) and sets that one's cookie. During a graceful shutdown,
      // though, ASP.NET Core closes its connections (ApplicationStopping) before it stops
      // listening, and haproxy still sees it up: a reconnect in between can land on the dying
      // instance again (its cookie says so), and is closed again. The client then reconnects
      // once more; that it ends on the survivor is what counts. A killed instance is never
      // returned to: the first reconnect lands on the survivor.
      let reconnected = 0;
      for (let k = 1; reconnected === 0; k++) {
        if (k > 4) assert.fail(`${name}: not on ${survivor} after ${k - 1} reconnects`);
        await Promise.race([c.reconnects.reach(k, `${name}: onreconnected`, MOVE_MS), closedFirst]);
        const where = await instanceOf(c.connection).catch(() => "gone again");
        if (where === survivor) reconnected = k;
      }
      if (graceful === false) assert.equal(reconnected, 1, `${name}: reconnects`);
      assert.equal(c.connection.state, HubConnectionState.Connected);
      assert.ok(c.connection.connectionId, name);
      assert.notEqual(c.connection.connectionId, c.id, `${name}: a new connection id`);
    }

    // The handlers registered before the death get a broadcast sent after it, on each client,
    // from the witness (through the backplane: none of them shares its connection).
    await witness.invoke("SendMessage", "witness", `after ${victim}`);
    for (const c of clients) {
      await c.receivedOne.reach(1, `${variantName(c.variant)}: the broadcast after the move`);
      assert.deepEqual(c.received, [`after ${victim}`]);
    }
    return moved;
  } catch (error) {
    await moved[Symbol.asyncDispose]();
    throw error;
  }
}
