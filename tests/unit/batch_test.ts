// How a transport turns a batch of encoded messages into frames or one body.
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { cut, join } from "../../src/transport/_batch.ts";

const record = (i: number) => `{"type":2,"invocationId":"1","item":"${i}"}\x1e`;
function pieces(frames: (string | Uint8Array)[], size: number, limit: number) {
  const out: (string | Uint8Array)[] = [];
  cut(frames, size, limit, (piece) => out.push(piece));
  return out;
}
const sizeOf = (frames: (string | Uint8Array)[]) => frames.reduce((n, f) => n + f.length, 0);

test("cut: pieces of at most the limit, in order, each holding whole messages", () => {
  const records = Array.from({ length: 64 }, (_, i) => record(i));
  const out = pieces(records, sizeOf(records), 1_000);
  assert.equal(out.join(""), records.join(""));
  assert.ok(out.length > 1);
  for (const piece of out) {
    assert.ok(piece.length <= 1_000, `${piece.length}`);
    assert.ok((piece as string).endsWith("\x1e"), "a piece ends on a message boundary");
  }
});

test("cut: a message over the limit stays whole; a batch under it is one piece", () => {
  const big = "x".repeat(40_000) + "\x1e";
  const frames = [record(1), big, record(2)];
  assert.deepEqual(pieces(frames, sizeOf(frames), 32 * 1024), [record(1), big, record(2)]);
  const small = [record(1), record(2)];
  assert.deepEqual(pieces(small, sizeOf(small), 1_000), [record(1) + record(2)]);
});

test("join: binary messages become one Uint8Array", () => {
  const frames = [new Uint8Array([1, 2]), new Uint8Array([3])];
  assert.deepEqual(join(frames, 0, 2, 3), new Uint8Array([1, 2, 3]));
  assert.deepEqual(pieces(frames, 3, 2), [new Uint8Array([1, 2]), new Uint8Array([3])]);
});
