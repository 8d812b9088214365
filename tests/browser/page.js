// The browser test's scenarios, run by tests/browser_test.ts through `page.evaluate` on a page
// served from another origin than the hub. Imports the bundle (`deno bundle` of mod.ts and
// msgpack.ts, /bundle/*.js) through the import map in index.html, as a user's page would.
import { HttpTransportType, HubConnectionBuilder, Subject } from "@signalrcore/client";
import { MessagePackHubProtocol } from "@signalrcore/client/msgpack";

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function same(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  check(a === e, `${what}: got ${a}, expected ${e}`);
}

/**
 * Start; invoke; a server stream with for await and with subscribe; uploads from a Subject and a
 * ReadableStream; a client result; stop. Returns what the connection reported.
 */
async function scenario({ url, transport, protocol }) {
  const builder = new HubConnectionBuilder()
    .withUrl(url, {
      transport: HttpTransportType[transport],
      withCredentials: true,
    });
  if (protocol === "messagepack") {
    builder.withHubProtocol(new MessagePackHubProtocol());
  }
  const connection = builder.build();
  connection.on("Triple", (x) => x * 3);
  let closed;
  let used;
  const onclose = new Promise((resolve) => connection.onclose(resolve));
  await connection.start();
  try {
    used = connection.transport;
    same(await connection.invoke("GetProtocol"), protocol, "protocol");
    same(await connection.invoke("Add", 2, 3), 5, "Add");
    same(await connection.invoke("Echo", { text: "héllo 😀", n: [1, 2] }), {
      text: "héllo 😀",
      n: [1, 2],
    }, "Echo");

    const items = [];
    for await (const item of connection.stream("Counter", 5, 1)) {
      items.push(item);
    }
    same(items, [0, 1, 2, 3, 4], "for await Counter");

    const subscribed = await new Promise((resolve, reject) => {
      const got = [];
      connection.stream("ChannelCounter", 4, 1).subscribe({
        next: (item) => got.push(item),
        complete: () => resolve(got),
        error: reject,
      });
    });
    same(subscribed, [0, 1, 2, 3], "subscribe ChannelCounter");

    const subject = new Subject();
    const fromSubject = connection.invoke("UploadCollect", subject);
    for (const item of ["a", "b", "c"]) {
      await subject.next(item);
    }
    subject.complete();
    same(await fromSubject, ["a", "b", "c"], "upload from a Subject");

    // Not ReadableStream.from: Chromium does not have it.
    const readable = new ReadableStream({
      start(controller) {
        controller.enqueue("x");
        controller.enqueue("y");
        controller.close();
      },
    });
    same(
      await connection.invoke("UploadCollect", readable),
      ["x", "y"],
      "upload from a stream",
    );

    same(
      await connection.invoke("AskClient", "Triple", 14),
      42,
      "client result",
    );
  } finally {
    await connection.stop();
    closed = await onclose;
  }
  same(connection.state, "Disconnected", "state after stop");
  check(closed === undefined, `onclose after stop got an error: ${closed}`);
  return { transport: used };
}

/** /authhub with `accessTokenFactory`; returns WhoAmI's answer. */
async function auth({ url, transport, token }) {
  const connection = new HubConnectionBuilder()
    .withUrl(url, {
      transport: HttpTransportType[transport],
      accessTokenFactory: () => token,
    })
    .build();
  await connection.start();
  try {
    return await connection.invoke("WhoAmI");
  } finally {
    await connection.stop();
  }
}

/** The stateful connection between statefulStart and statefulAfterCut. */
let live;

/**
 * Stateful reconnect on /hub-stateful, through the test's relay: the client asks, the server
 * agrees, the connection works. Returns the connection id the hub saw and the one the client
 * has; the connection stays open for the test to cut.
 */
async function statefulStart({ url }) {
  const connection = new HubConnectionBuilder()
    .withUrl(url, { transport: HttpTransportType.WebSockets })
    .withStatefulReconnect()
    .build();
  const suspended = [];
  const resumed = new Promise((resolve) => connection.onresumed(resolve));
  connection.onsuspended((error) => suspended.push(String(error)));
  await connection.start();
  live = { connection, suspended, resumed };
  same(await connection.invoke("Echo", 7), 7, "Echo");
  return { seen: await connection.invoke("GetConnectionId"), id: connection.connectionId };
}

/**
 * After the test cut the WebSocket: a call made now is answered once the client reattached to
 * the same server connection. Returns how often it was suspended and the ids, then stops.
 */
async function statefulAfterCut() {
  const { connection, suspended, resumed } = live;
  live = undefined;
  let timer;
  try {
    const echoed = connection.invoke("Echo", 8);
    await Promise.race([
      resumed,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("not resumed within 10 s")), 10_000);
      }),
    ]);
    same(await echoed, 8, "Echo during the cut");
    return {
      suspended: suspended.length,
      state: connection.state,
      seen: await connection.invoke("GetConnectionId"),
      id: connection.connectionId,
    };
  } finally {
    clearTimeout(timer);
    await connection.stop();
  }
}

let hidden;

/**
 * Connects over WebSockets with a 4 s keep-alive and records, by the page's clock, each Ping the
 * client sends, the connection's end, and the gaps of a control timer that re-arms itself every
 * second (the kind of chain Chrome throttles in a hidden tab).
 */
async function hiddenStart({ url }) {
  const pings = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (typeof data === "string" && data.includes('{"type":6}')) pings.push(performance.now());
    return send.call(this, data);
  };
  const control = { longest: 0, last: performance.now() };
  (function tick() {
    const now = performance.now();
    control.longest = Math.max(control.longest, now - control.last);
    control.last = now;
    setTimeout(tick, 1000);
  })();
  const connection = new HubConnectionBuilder()
    .withUrl(url, { transport: HttpTransportType.WebSockets })
    .withKeepAliveInterval(4000)
    .build();
  hidden = { connection, pings, control, closed: null, hiddenAt: null };
  connection.onclose((error) => hidden.closed = String(error));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") hidden.hiddenAt ??= performance.now();
  });
  await connection.start();
}

/** What hiddenStart recorded, in ms since the page was hidden. */
function hiddenReport() {
  const { connection, pings, control, closed, hiddenAt } = hidden;
  return {
    visibility: document.visibilityState,
    hiddenFor: hiddenAt === null ? 0 : performance.now() - hiddenAt,
    state: connection.state,
    closed,
    pingsSinceHidden: hiddenAt === null
      ? []
      : pings.filter((t) => t > hiddenAt).map((t) => Math.round(t - hiddenAt)),
    // The gap still open counts: a throttled timer may not have fired yet.
    longestControlGap: Math.round(
      Math.max(control.longest, performance.now() - control.last),
    ),
  };
}

globalThis.scenario = scenario;
globalThis.hiddenStart = hiddenStart;
globalThis.hiddenReport = hiddenReport;
globalThis.hiddenStop = () => hidden.connection.stop();
globalThis.statefulStart = statefulStart;
globalThis.statefulAfterCut = statefulAfterCut;
globalThis.auth = auth;
document.getElementById("status").textContent = "ready";
