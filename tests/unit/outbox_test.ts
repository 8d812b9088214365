// The send queue: what goes out together, in which pieces, in which order, and when.
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { Outbox } from "../../src/connection/_outbox.ts";
import type { Transport } from "../../src/transport/transport.ts";
import { ConnectionClosedError } from "../../mod.ts";

/** Records every frame; `send` answers what `answer` says (undefined: taken at once). */
class RecordingTransport implements Transport {
  readonly sent: (string | Uint8Array)[] = [];
  answer: () => Promise<void> | undefined = () => undefined;
  connect(): Promise<void> {
    return Promise.resolve();
  }
  send(frame: string | Uint8Array): Promise<void> | undefined {
    this.sent.push(frame);
    return this.answer();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  get text(): string {
    return this.sent.join("");
  }
}

function setup(): { outbox: Outbox; transport: RecordingTransport } {
  const outbox = new Outbox();
  const transport = new RecordingTransport();
  outbox.attach(transport);
  return { outbox, transport };
}

const RESOLVED = Promise.resolve();
const record = (i: number) => `{"type":2,"invocationId":"1","item":"${i}"}\x1e`;

test("Outbox: a lone frame goes out within a few microtasks, with no timer", async () => {
  const { outbox, transport } = setup();
  outbox.push("a\x1e");
  assert.equal(transport.sent.length, 0, "sent synchronously: nothing could join it");
  for (let i = 0; i < 8 && transport.sent.length === 0; i++) await null;
  assert.deepEqual(transport.sent, ["a\x1e"]);
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
  // 20 000 records of ~45 characters are ~900 KB: 32 KB frames, and a few small batches where
  // the 64 KB cap cut a batch short. One frame per record would be 20 000.
  assert.ok(transport.sent.length < 100, `${transport.sent.length} frames for ${n} records`);
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
  assert.ok(transport.sent.length < 50, `${transport.sent.length} frames for 5 000 records`);
});

test("Outbox: a small batch is cut into frames of about 1 000 characters, in order", async () => {
  const { outbox, transport } = setup();
  const records = Array.from({ length: 64 }, (_, i) => record(i));
  for (const r of records) outbox.push(r);
  await outbox.written;
  assert.equal(transport.text, records.join(""));
  assert.ok(transport.sent.length > 1, "one frame over 1 KB stalls on Nagle + delayed ACK");
  for (const frame of transport.sent) assert.ok(frame.length <= 1_000, `${frame.length}`);
});

test("Outbox: a large batch goes out in 32 KB frames; a frame over the limit stays whole", async () => {
  const { outbox, transport } = setup();
  const big = "x".repeat(40_000) + "\x1e";
  const records = Array.from({ length: 500 }, (_, i) => record(i));
  for (const r of records.slice(0, 250)) outbox.push(r);
  outbox.push(big);
  for (const r of records.slice(250)) outbox.push(r);
  await outbox.written;
  assert.equal(transport.text, records.slice(0, 250).join("") + big + records.slice(250).join(""));
  assert.ok(transport.sent.includes(big), "the large frame is sent alone, not split");
  for (const frame of transport.sent) {
    if (frame !== big) assert.ok(frame.length <= 32 * 1024, `${frame.length}`);
  }
});

test("Outbox: binary frames are joined into one Uint8Array", async () => {
  const { outbox, transport } = setup();
  outbox.push(new Uint8Array([1, 2]));
  outbox.push(new Uint8Array([3]));
  await outbox.written;
  assert.deepEqual(transport.sent, [new Uint8Array([1, 2, 3])]);
});

test("Outbox: backpressure is set while the transport asks to wait", async () => {
  const { outbox, transport } = setup();
  const drained = Promise.withResolvers<void>();
  transport.answer = () => drained.promise;
  outbox.push("a\x1e");
  const written = outbox.written;
  let done = false;
  written.then(() => done = true);
  for (let i = 0; i < 8 && transport.sent.length === 0; i++) await null;
  assert.equal(transport.sent.length, 1);
  assert.ok(outbox.backpressure, "a producer that can wait must see the pressure");
  await null;
  assert.equal(done, false, "written waits for the transport");
  drained.resolve();
  await written;
  await null;
  assert.equal(outbox.backpressure, undefined);
});

test("Outbox: detach fails what was queued with ConnectionClosedError", async () => {
  const { outbox, transport } = setup();
  outbox.push("a\x1e");
  const written = outbox.written;
  outbox.detach();
  await assert.rejects(written, ConnectionClosedError);
  for (let i = 0; i < 8; i++) await null;
  assert.equal(transport.sent.length, 0, "nothing goes out after detach");
});
