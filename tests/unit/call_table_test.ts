// The pending calls of a connection are a null-prototype object keyed by invocation id (not a
// Map, see src/_call_table.ts): ids the server sends that are names of Object.prototype members
// match nothing, and every pending call is still found, settled once, and failed by failAll.
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { CallTable } from "../../src/_call_table.ts";
import { NullLogger } from "../../src/logger.ts";
import { ConnectionClosedError } from "../../src/errors.ts";
import { MessageType } from "../../src/protocol/messages.ts";

function settled() {
  const results: unknown[] = [];
  return {
    results,
    call: {
      resolve: (value: unknown) => results.push(["resolved", value]),
      reject: (error: unknown) => results.push(["rejected", error]),
    },
  };
}

test("call table: a completion settles its call once; prototype names match nothing", () => {
  const table = new CallTable(new NullLogger());
  const a = settled();
  const id = table.nextId();
  table.addCall(id, a.call);
  for (const unknown of ["__proto__", "constructor", "toString", "hasOwnProperty", "1"]) {
    assert.equal(table.takeCall(unknown), undefined, unknown);
    table.completion({ type: MessageType.Completion, invocationId: unknown, result: 0 });
  }
  table.completion({ type: MessageType.Completion, invocationId: id, result: 42 });
  table.completion({ type: MessageType.Completion, invocationId: id, result: 43 });
  assert.deepEqual(a.results, [["resolved", 42]]);
  assert.equal(table.takeCall(id), undefined);
});

test("call table: a server id named __proto__ is an ordinary key", () => {
  const table = new CallTable(new NullLogger());
  const a = settled();
  table.addCall("__proto__", a.call);
  assert.equal(table.takeCall("constructor"), undefined);
  assert.equal(table.takeCall("__proto__"), a.call);
  assert.equal(table.takeCall("__proto__"), undefined);
});

test("call table: failAll rejects every pending call, after many come and go", () => {
  const table = new CallTable(new NullLogger());
  // Far more calls than are ever pending at once, as pipelined invokes do.
  for (let i = 0; i < 10_000; i++) {
    const id = table.nextId();
    table.addCall(id, settled().call);
    if (i >= 64) assert.ok(table.takeCall(String(i - 64)));
  }
  const left = Array.from({ length: 3 }, () => {
    const s = settled();
    table.addCall(table.nextId(), s.call);
    return s;
  });
  const cause = new Error("gone");
  table.failAll(cause, "The connection closed.");
  for (const s of left) {
    assert.equal(s.results.length, 1);
    const [how, error] = s.results[0] as [string, ConnectionClosedError];
    assert.equal(how, "rejected");
    assert.ok(error instanceof ConnectionClosedError);
    assert.equal(error.cause, cause);
  }
  assert.equal(table.takeCall("9999"), undefined);
});
