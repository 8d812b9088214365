/**
 * Records the fuzzers' seed corpus from the ASP.NET Core interop hub (tests/interop/server):
 * negotiate answers, handshake responses, JSON and MessagePack frames over WebSockets, a
 * Server-Sent Events body as it arrived in chunks, Long Polling answers (JSON and MessagePack),
 * and the frames of a stateful reconnect session. Run once; the files in ./corpus are committed.
 *
 * ```sh
 * tools/deno.sh run -A tests/fuzz/record.ts
 * ```
 *
 * @module
 */
import { startInteropServer } from "../interop/_server.ts";
import { JsonHubProtocol } from "../../src/protocol/json.ts";
import { MessagePackHubProtocol } from "../../msgpack.ts";
import { type HubMessage, MessageType } from "../../src/protocol/messages.ts";
import { toHex } from "./_util.ts";

const OUT = new URL("./corpus/", import.meta.url);
const RS = "\x1e";

/** The calls each session makes: every value shape the test hub has. */
const CALLS: HubMessage[] = [
  { type: MessageType.Invocation, invocationId: "1", target: "Echo", arguments: ["hello"] },
  { type: MessageType.Invocation, invocationId: "2", target: "Add", arguments: [2, 40] },
  { type: MessageType.Invocation, invocationId: "3", target: "GetLargeString", arguments: [40] },
  {
    type: MessageType.Invocation,
    invocationId: "4",
    target: "EchoPerson",
    arguments: [{
      name: "Ann",
      age: 41,
      born: "2000-01-02T03:04:05Z",
      tags: ["a", "b"],
      address: { street: "Main", city: "X" },
    }],
  },
  { type: MessageType.Invocation, invocationId: "5", target: "GetDate", arguments: [] },
  { type: MessageType.Invocation, invocationId: "6", target: "GetBytes", arguments: [12] },
  { type: MessageType.Invocation, invocationId: "7", target: "GetLongs", arguments: [] },
  { type: MessageType.Invocation, invocationId: "8", target: "GetOuter", arguments: [] },
  { type: MessageType.Invocation, invocationId: "9", target: "Nest", arguments: [4] },
  {
    type: MessageType.Invocation,
    invocationId: "10",
    target: "ThrowHubException",
    arguments: ["nope"],
  },
  {
    type: MessageType.Invocation,
    invocationId: "11",
    target: "Echo",
    arguments: [{ s: 'é漢😀\n"\\', n: -1.5, b: true, z: null, a: [1, [2, [3]]] }],
  },
  { type: MessageType.StreamInvocation, invocationId: "12", target: "Counter", arguments: [5, 0] },
  { type: MessageType.Invocation, target: "SendToCaller", arguments: ["notify", "x"] },
  { type: MessageType.Invocation, invocationId: "13", target: "NoSuchMethod", arguments: [] },
  { type: MessageType.Ping },
];

const CALLS_MSGPACK: HubMessage[] = CALLS.map((m) =>
  m.type === MessageType.Invocation && m.target === "EchoPerson"
    ? {
      ...m,
      arguments: [{
        Name: "Ann",
        Age: 41,
        Born: new Date(Date.UTC(2000, 0, 2)),
        Tags: ["a"],
        Address: null,
      }],
    }
    : m
);

async function save(name: string, data: unknown): Promise<void> {
  await Deno.writeTextFile(new URL(name, OUT), JSON.stringify(data, null, 1) + "\n");
  console.log(`wrote corpus/${name}`);
}

async function negotiate(base: string, path: string, query = "negotiateVersion=1") {
  const response = await fetch(`${base}${path}/negotiate?${query}`, { method: "POST" });
  const text = await response.text();
  return { text, body: JSON.parse(text) as Record<string, unknown> };
}

/** Collects frames until `done` says so or `ms` passes. */
function collectWs(
  url: string,
  handshake: string,
  send: (string | Uint8Array)[],
  binary: boolean,
  ms = 1500,
): Promise<(string | Uint8Array)[]> {
  const frames: (string | Uint8Array)[] = [];
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  return new Promise((resolve) => {
    ws.onopen = () => {
      ws.send(handshake);
      for (const s of send) ws.send(s);
    };
    ws.onmessage = (e) => {
      frames.push(typeof e.data === "string" ? e.data : new Uint8Array(e.data));
    };
    const timer = setTimeout(() => ws.close(), ms);
    ws.onclose = () => {
      clearTimeout(timer);
      resolve(frames);
    };
    void binary;
  });
}

async function main(): Promise<void> {
  await Deno.mkdir(OUT, { recursive: true });
  await using server = await startInteropServer({ disconnectTimeoutMs: 2_000 });
  if (!server) throw new Error("dotnet is needed to record the corpus");
  const base = server.url;
  const ws = base.replace(/^http/, "ws");
  const json = new JsonHubProtocol();
  const msgpack = new MessagePackHubProtocol();

  // Negotiate answers.
  const negotiates = [
    (await negotiate(base, "/hub")).text,
    (await negotiate(base, "/hub", "")).text,
    (await negotiate(base, "/hub-stateful", "negotiateVersion=1&useStatefulReconnect=true")).text,
    (await negotiate(base, "/hub-sse-lp")).text,
    (await negotiate(base, "/hub-lp")).text,
    (await negotiate(base, "/redirect")).text,
    (await negotiate(base, "/negotiate-error")).text,
  ];
  await save("negotiate.json", negotiates);

  // Handshakes and JSON frames over WebSockets.
  const handshakes: string[] = [];
  let token = (await negotiate(base, "/hub")).body.connectionToken as string;
  const jsonFrames = await collectWs(
    `${ws}/hub?id=${token}`,
    '{"protocol":"json","version":1}' + RS,
    CALLS.map((m) => json.encode(m)),
    false,
  );
  handshakes.push(jsonFrames[0] as string);
  token = (await negotiate(base, "/hub")).body.connectionToken as string;
  const refused = await collectWs(
    `${ws}/hub?id=${token}`,
    '{"protocol":"nope","version":1}' + RS,
    [],
    false,
  );
  handshakes.push(...refused.map((f) => typeof f === "string" ? f : new TextDecoder().decode(f)));
  token = (await negotiate(base, "/hub")).body.connectionToken as string;
  const mpFrames = await collectWs(
    `${ws}/hub?id=${token}`,
    '{"protocol":"messagepack","version":1}' + RS,
    CALLS_MSGPACK.map((m) => msgpack.encode(m)),
    true,
  );
  handshakes.push(new TextDecoder().decode(mpFrames[0] as Uint8Array));
  await save("handshake.json", handshakes);
  await save("json.json", jsonFrames);
  await save("msgpack.json", mpFrames.map((f) => toHex(f as Uint8Array)));

  // Server-Sent Events: the body's chunks as they arrived.
  token = (await negotiate(base, "/hub-sse-lp")).body.connectionToken as string;
  const abort = new AbortController();
  const sse = await fetch(`${base}/hub-sse-lp?id=${token}`, {
    headers: { accept: "text/event-stream" },
    signal: abort.signal,
  });
  const chunks: string[] = [];
  const reading = (async () => {
    try {
      for await (const chunk of sse.body!) chunks.push(toHex(chunk));
    } catch { /* aborted */ }
  })();
  const post = (path: string, body: string) =>
    fetch(`${base}${path}?id=${token}`, { method: "POST", body }).then((r) => r.body?.cancel());
  await post("/hub-sse-lp", '{"protocol":"json","version":1}' + RS);
  for (const m of CALLS) await post("/hub-sse-lp", json.encode(m));
  await new Promise((r) => setTimeout(r, 1000));
  abort.abort();
  await reading;
  await save("sse.json", chunks);

  // Long Polling answers, JSON and MessagePack.
  const polls: { format: string; status: number; body: string }[] = [];
  for (
    const [format, protocol, calls] of [["Text", json, CALLS], [
      "Binary",
      msgpack,
      CALLS_MSGPACK,
    ]] as const
  ) {
    token = (await negotiate(base, "/hub-lp")).body.connectionToken as string;
    const poll = async () => {
      const r = await fetch(`${base}/hub-lp?id=${token}&_=${Date.now()}`);
      const body = new Uint8Array(await r.arrayBuffer());
      polls.push({ format, status: r.status, body: toHex(body) });
      return r.status;
    };
    await poll();
    const hs = `{"protocol":"${protocol.name}","version":1}` + RS;
    await fetch(`${base}/hub-lp?id=${token}`, { method: "POST", body: hs }).then((r) =>
      r.body?.cancel()
    );
    await poll();
    for (const m of calls) {
      await fetch(`${base}/hub-lp?id=${token}`, {
        method: "POST",
        body: (protocol as { encode(m: HubMessage): string | Uint8Array<ArrayBuffer> }).encode(m),
      }).then((r) => r.body?.cancel());
    }
    await new Promise((r) => setTimeout(r, 300));
    await poll();
    await fetch(`${base}/hub-lp?id=${token}`, { method: "DELETE" }).then((r) => r.body?.cancel());
    await poll();
  }
  await save("long_polling.json", polls);

  // Stateful reconnect: the frames of a version 2 session (Acks and numbered messages).
  const stateful = await negotiate(
    base,
    "/hub-stateful-bench",
    "negotiateVersion=1&useStatefulReconnect=true",
  );
  const statefulFrames = await collectWs(
    `${ws}/hub-stateful-bench?id=${stateful.body.connectionToken}`,
    '{"protocol":"json","version":2}' + RS,
    CALLS.map((m) => json.encode(m)),
    false,
    2500,
  );
  await save("stateful.json", statefulFrames);
}

if (import.meta.main) await main();
