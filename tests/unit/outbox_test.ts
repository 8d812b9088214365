// The send queue: what goes out together, in which pieces, in which order, and when.
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { Outbox } from "../../src/connection/_outbox.ts";
import type { Transport } from "../../src/transport/transport.ts";
import { ConnectionClosedError } from "../../mod.ts";

/** Records every batch; `send` answers what `answer` says (undefined: taken at once). */
class RecordingTransport implements Transport {
  readonly name = "WebSockets";
  readonly features = { inherentKeepAlive: false, statefulReconnect: false };
  readonly batches: (string | Uint8Array)[][] = [];
  answer: () => Promise<void> | undefined = () => undefined;
  send(frames: readonly (string | Uint8Array)[], size: number): Promise<void> | undefined {
    assert.equal(size, frames.reduce((n, f) => n + f.length, 0), "size is the batch's length");
    this.batches.push([...frames]);
    return this.answer();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  get text(): string {
    return this.batches.map((b) => b.join("")).join("");
  }
}

function setup(): { outbox: Outbox; transport: RecordingTransport } {
  const transport = new RecordingTransport();
  return { outbox: new Outbox(transport), transport };
}

const RESOLVED = Promise.resolve();
const record = (i: number) => `{"type":2,"invocationId":"1","item":"${i}"}\x1e`;

test("Outbox: a lone frame goes out within a few microtasks, with no timer", async () => {
  const { outbox, transport } = setup();
  outbox.push("a\x1e");
  assert.equal(transport.batches.length, 0, "sent synchronously: nothing could join it");
  for (let i = 0; i < 8 && transport.batches.length === 0; i++) await null;
  assert.deepEqual(transport.batches, [["a\x1e"]]);
  await outbox.written;
});

test("Outbox: a producer awaiting each push (like `await subject.next()`) is coalesced", async () => {
  const { outbox, transport } = setup();
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    outbox.push(record(i));
    await RESOLVED;
  }
  await outbox.written;
  const expected = Array.from({ length: n }, (_, i) => record(i)).join("");
  assert.equal(transport.text, expected, "every record, in order");
  // 20 000 records of ~45 characters are ~900 KB: batches of up to the 64 KB cap. One batch
  // per record would be 20 000.
  assert.ok(transport.batches.length < 100, `${transport.batches.length} frames for ${n} records`);
});

test("Outbox: a producer behind an async wrapper (more hops per item) is coalesced too", async () => {
  const { outbox, transport } = setup();
  const next = async (i: number) => {
    outbox.push(record(i));
    await RESOLVED;
  };
  for (let i = 0; i < 5_000; i++) await next(i);
  await outbox.written;
  assert.equal(transport.text, Array.from({ length: 5_000 }, (_, i) => record(i)).join(""));
  assert.ok(transport.batches.length < 50, `${transport.batches.length} frames for 5 000 records`);
});

test("Outbox: backpressure is set while the transport asks to wait", async () => {
  const { outbox, transport } = setup();
  const drained = Promise.withResolvers<void>();
  transport.answer = () => drained.promise;
  outbox.push("a\x1e");
  const written = outbox.written;
  let done = false;
  written.then(() => done = true);
  for (let i = 0; i < 8 && transport.batches.length === 0; i++) await null;
  assert.equal(transport.batches.length, 1);
  assert.ok(outbox.backpressure, "a producer that can wait must see the pressure");
  await null;
  assert.equal(done, false, "written waits for the transport");
  drained.resolve();
  await written;
  await null;
  assert.equal(outbox.backpressure, undefined);
});

test("Outbox: close fails what was queued with ConnectionClosedError", async () => {
  const { outbox, transport } = setup();
  outbox.push("a\x1e");
  const written = outbox.written;
  outbox.close();
  await assert.rejects(written, ConnectionClosedError);
  for (let i = 0; i < 8; i++) await null;
  assert.equal(transport.batches.length, 0, "nothing goes out after close");
});

/** Microtask hops until the transport got a new batch. */
async function hopsUntilSent(transport: RecordingTransport): Promise<number> {
  const before = transport.batches.length;
  let hops = 0;
  while (transport.batches.length === before) {
    await null;
    hops++;
    assert.ok(hops < 100, "never sent");
  }
  return hops;
}

test("Outbox: a batch cut at the 64 KB cap leaves one flush chain, not two", async () => {
  const fresh = setup();
  fresh.outbox.push("a\x1e");
  const alone = await hopsUntilSent(fresh.transport);

  const { outbox, transport } = setup();
  const big = "x".repeat(40_000) + "\x1e";
  outbox.push(big);
  outbox.push(big); // over the cap: sent at once, while the first flush chain is still queued
  assert.equal(transport.batches.length, 1);
  outbox.push("a\x1e");
  // With two chains, each hop counted twice and the lone frame left early.
  assert.equal(await hopsUntilSent(transport), alone);
  assert.deepEqual(transport.batches[1], ["a\x1e"]);
});

test("Outbox: a transport that rejects fails the batch's writers; nothing is unhandled", async () => {
  const { outbox, transport } = setup();
  const failure = new Error("POST failed");
  transport.answer = () => Promise.reject(failure);
  outbox.push("a\x1e");
  outbox.push("b\x1e");
  await assert.rejects(outbox.written, (e: unknown) => e === failure);
  await null;
  assert.equal(outbox.backpressure, undefined, "the failed wait does not linger as pressure");
});
