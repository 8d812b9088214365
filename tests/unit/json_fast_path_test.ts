// The JSON fast path for StreamItem and Completion records: it must take the canonical shapes and
// must never answer differently from JSON.parse (differential tests, fixed cases and mutations).
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { readHotRecord } from "../../src/protocol/_json_fast_path.ts";
import { JsonHubProtocol, type Logger, MessageType } from "../../mod.ts";

const HOT = [
  '{"type":2,"invocationId":"1","item":0}',
  '{"type":2,"invocationId":"1","item":-0}',
  '{"type":2,"invocationId":"17","item":123456789012345}',
  '{"type":2,"invocationId":"17","item":-42}',
  '{"type":2,"invocationId":"a b","item":"text with spaces, {braces} and \u00e9\u{1F600}"}',
  '{"type":2,"invocationId":"1","item":""}',
  '{"type":2,"invocationId":"1","item":"esc\\"aped\\n"}',
  '{"type":2,"invocationId":"1","item":1.5e3}',
  '{"type":2,"invocationId":"1","item":1234567890123456789}',
  '{"type":2,"invocationId":"1","item":{"a":[1,2,{"b":null}],"c":"}"}}',
  '{"type":2,"invocationId":"1","item":[1,"2",true]}',
  '{"type":2,"invocationId":"1","item":null}',
  '{"type":2,"invocationId":"1","item":false}',
  '{"type":2,"invocationId":"1","item": 7 }',
  '{"type":3,"invocationId":"9","result":3}',
  '{"type":3,"invocationId":"9","result":{"x":"y"}}',
  '{"type":3,"invocationId":"9","result":null}',
];

const COLD = [
  // Other shapes: the full parser (and its validation) must see them.
  '{"type":3,"invocationId":"9","error":"boom"}',
  '{"type":3,"invocationId":"9","result":1,"error":"both"}',
  '{"type":3,"invocationId":"9"}',
  '{"type":2,"invocationId":"1","item":1,"extra":2}',
  '{"type":2,"invocationId":"1","headers":{},"item":1}',
  '{"invocationId":"1","type":2,"item":1}',
  '{"type":2, "invocationId":"1","item":1}',
  '{"type":2,"invocationId":"a\\"b","item":1}',
  '{"type":2,"invocationId":"1","item":1} ',
  '{"type":23,"invocationId":"1","item":1}',
  '{"type":1,"invocationId":"1","item":1}',
  '{"type":6}',
  // Malformed: the fast path must not accept what JSON.parse rejects.
  '{"type":2,"invocationId":"1","item":01}',
  '{"type":2,"invocationId":"1","item":1.}',
  '{"type":2,"invocationId":"1","item":"raw\ttab"}',
  '{"type":2,"invocationId":"1","item":"unterminated}',
  '{"type":2,"invocationId":"1","item":}',
  '{"type":2,"invocationId":"1","item":1 2}',
  '{"type":2,"invocationId":"1","item":undefined}',
  '{"type":2,"invocationId":"1","item":-}',
  '{"type":2,"invocationId":"1","item":"a"b"}',
  '{"type":2,"invocationId":"1\n","item":1}',
];

function parsesTo(record: string): unknown {
  try {
    return JSON.parse(record);
  } catch {
    return "<invalid>";
  }
}

/** The fast path answers undefined, or exactly what JSON.parse gives (-0 included). */
function assertAgrees(record: string): boolean {
  const fast = readHotRecord(`x${record}\x1e`, 1, record.length + 1);
  if (fast === undefined) return false;
  const full = parsesTo(record);
  assert.notEqual(full, "<invalid>", `fast path accepted invalid JSON: ${record}`);
  assert.deepStrictEqual(fast, full, record);
  return true;
}

test("JSON fast path: takes every canonical StreamItem and Completion-with-result", () => {
  for (const record of HOT) assert.ok(assertAgrees(record), `not taken: ${record}`);
});

test("JSON fast path: leaves every other shape and every malformed record to JSON.parse", () => {
  for (const record of COLD) assert.equal(assertAgrees(record), false, `taken: ${record}`);
});

test("JSON fast path: 20 000 random mutations of hot records never disagree with JSON.parse", () => {
  // A fixed-seed generator: a failure is reproducible.
  let seed = 0x2545f491;
  const random = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const alphabet = '{}[]",:\\ 0123456789-.eE+tfnulr"x\u00e9\t\n';
  let taken = 0;
  for (let i = 0; i < 20_000; i++) {
    let record = HOT[random(HOT.length)];
    for (let edits = 1 + random(3); edits > 0; edits--) {
      const at = random(record.length + 1);
      const c = alphabet[random(alphabet.length)];
      switch (random(3)) {
        case 0:
          record = record.slice(0, at) + c + record.slice(at);
          break;
        case 1:
          record = record.slice(0, at) + record.slice(at + 1);
          break;
        default:
          record = record.slice(0, at) + c + record.slice(at + 1);
      }
    }
    if (assertAgrees(record)) taken++;
  }
  // Mutations of the value keep many records on the fast path: both branches were exercised.
  assert.ok(taken > 1_000, `only ${taken} mutated records took the fast path`);
});

test("JSON fast path: a decoder gives the same messages as before, in order", () => {
  const logger: Logger = { log() {} };
  const decoder = new JsonHubProtocol().createDecoder({ maxMessageSize: 1 << 20, logger });
  const frame = [...HOT, '{"type":6}', '{"type":3,"invocationId":"9","error":"boom"}']
    .map((record) => record + "\x1e").join("");
  const messages = decoder.decode(frame);
  assert.deepStrictEqual(messages, [
    ...HOT.map((record) => JSON.parse(record)),
    { type: MessageType.Ping },
    { type: MessageType.Completion, invocationId: "9", error: "boom" },
  ]);
});
