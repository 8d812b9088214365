// SseParser: the event stream rules of the spec, chunk boundaries anywhere (even inside a UTF-8
// sequence or a CRLF), the size limit, linear cost for a long event, and a differential check
// against a plain per-line reference.
import "../_guard.ts";
import assert from "node:assert/strict";
import { test } from "./_sanitized.ts";
import { ProtocolError } from "../../mod.ts";
import { SseParser } from "../../src/transport/_sse_parser.ts";

const utf8 = new TextEncoder();
const BIG = 1 << 30;

type Chunk = string | Uint8Array | readonly number[];

function bytes(chunk: Chunk): Uint8Array {
  if (typeof chunk === "string") return utf8.encode(chunk);
  return chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk);
}

function concat(chunks: readonly Chunk[]): Uint8Array {
  const parts = chunks.map(bytes);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Each chunk's events, then end(). */
function pushEach(chunks: readonly Chunk[], max = BIG): string[][] {
  const parser = new SseParser(max);
  const out = chunks.map((chunk) => parser.push(bytes(chunk)));
  parser.end();
  return out;
}

/** All events of a stream fed in these chunks. */
function parse(chunks: readonly Chunk[], max = BIG): string[] {
  return pushEach(chunks, max).flat();
}

/** The stream cut at these byte offsets (ascending). */
function cut(stream: Uint8Array, at: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const to of [...at, stream.length]) {
    chunks.push(stream.subarray(from, to));
    from = to;
  }
  return chunks;
}

/** A fixed-seed generator (xorshift32): a failure is reproducible. */
function random(seed: number): (n: number) => number {
  return (n) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
}

function randomCuts(length: number, rand: (n: number) => number): number[] {
  const cuts: number[] = [];
  for (let at = 1 + rand(8); at < length; at += 1 + rand(rand(2) === 0 ? 3 : 40)) cuts.push(at);
  return cuts;
}

function assertTooLarge(fn: () => unknown): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ProtocolError, `expected ProtocolError, got ${error}`);
    assert.match(error.message, /exceeds the maximum message size of \d+ characters/);
    return true;
  });
}

test("SseParser: SignalR's shape, an opening comment then data: <record>\\r\\n\\r\\n", () => {
  const handshake = "{}\x1e";
  const ping = '{"type":6}\x1e';
  assert.deepEqual(
    pushEach([":\r\n", `data: ${handshake}\r\n\r\n`, `data: ${ping}\r\n\r\ndata: ${ping}\r\n\r\n`]),
    [[], [handshake], [ping, ping]],
  );
});

test("SseParser: a payload holding several records is one event, unchanged", () => {
  const records =
    '{"type":1,"target":"a","arguments":[1]}\x1e{"type":6}\x1e{"type":3,"invocationId":"1"}\x1e';
  assert.deepEqual(parse([`data: ${records}\r\n\r\n`]), [records]);
});

test("SseParser: multi-line data is joined by \\n, one trailing \\n removed", () => {
  assert.deepEqual(parse(["data: a\ndata: b\ndata:c\n\n"]), ["a\nb\nc"]);
  assert.deepEqual(parse(['data: {\r\ndata:  "x": 1\r\ndata: }\r\n\r\n']), ['{\n "x": 1\n}']);
});

test("SseParser: one optional space after the colon is removed, no more", () => {
  assert.deepEqual(parse(["data:x\n\n", "data: x\n\n", "data:  x\n\n", "data: x \n\n"]), [
    "x",
    "x",
    " x",
    "x ",
  ]);
  assert.deepEqual(parse(["data: a: b\n\n"]), ["a: b"]);
  // The space cut off from its colon by a chunk boundary.
  assert.deepEqual(parse(["data:", " x\n\n", "data:", "  y\n\n", "data:", "\n\n"]), [
    "x",
    " y",
    "",
  ]);
});

test("SseParser: an empty data line (bare or with a colon) adds an empty line", () => {
  assert.deepEqual(parse(["data\n\n"]), [""]);
  assert.deepEqual(parse(["data:\n\n"]), [""]);
  assert.deepEqual(parse(["data: \n\n"]), [""]);
  assert.deepEqual(parse(["data\ndata\n\n"]), ["\n"]);
  assert.deepEqual(parse(["data: a\ndata\n\n"]), ["a\n"]);
  assert.deepEqual(parse(["data\ndata: a\n\n"]), ["\na"]);
});

test("SseParser: a blank line without data is no event", () => {
  assert.deepEqual(parse(["\n\n\r\n\r\r", "\n"]), []);
});

test("SseParser: lines end with LF, CR or CRLF, mixed in one stream", () => {
  assert.deepEqual(parse(["data: a\ndata: b\n\n"]), ["a\nb"]);
  assert.deepEqual(parse(["data: a\rdata: b\r\r"]), ["a\nb"]);
  assert.deepEqual(parse(["data: a\r\ndata: b\r\n\r\n"]), ["a\nb"]);
  assert.deepEqual(parse(["data: a\rdata: b\ndata: c\r\n\rdata: d\n\r\n"]), ["a\nb\nc", "d"]);
  // LF CR is two line ends, not one.
  assert.deepEqual(parse(["data: a\n\rdata: b\n\n"]), ["a", "b"]);
});

test("SseParser: a CR at the end of a chunk and the LF starting the next are one line end", () => {
  assert.deepEqual(pushEach(["data: a\r", "\ndata: b\r", "\n\r", "\n"]), [[], [], ["a\nb"], []]);
  // Chunks that decode to nothing between them change nothing.
  assert.deepEqual(parse(["data: a\r", "", "\ndata: b\r\n\r\n"]), ["a\nb"]);
  assert.deepEqual(parse(["data: \xe9\r", [0x0a, 0xc3], [0xa9, 0x0d, 0x0a, 0x0d, 0x0a]]), [
    "\xe9",
  ]);
  assert.deepEqual(
    parse(["data: a\r", [0x0a, ...utf8.encode("data: "), 0xc3], [0xa9, 0x0a, 0x0a]]),
    [
      "a\n\xe9",
    ],
  );
  // A CR ending a chunk is a line end by itself: what follows it is not held back.
  assert.deepEqual(pushEach(["data: a\r", "\r", "data: b\r", "data: c\r", "\r"]), [
    [],
    ["a"],
    [],
    [],
    ["b\nc"],
  ]);
});

test("SseParser: an event is returned by the push that ends it", () => {
  assert.deepEqual(pushEach(["data: a\n", "\ndata: b\n\nda", "ta: c\n", "\n"]), [
    [],
    ["a", "b"],
    [],
    ["c"],
  ]);
});

test("SseParser: a BOM is removed at the start of the stream only", () => {
  assert.deepEqual(parse(["\ufeffdata: a\n\n"]), ["a"]);
  assert.deepEqual(parse([[0xef], [0xbb], [0xbf, ...utf8.encode("data: a\n\n")]]), ["a"]);
  // A second BOM is part of the first line's name: not a data line.
  assert.deepEqual(parse(["\ufeff\ufeffdata: a\n\n"]), []);
  assert.deepEqual(parse(["data: a\n\n", "\ufeffdata: b\n\n"]), ["a"]);
  // After ASCII chunks too (Deno's own decoder drops this one).
  assert.deepEqual(parse(["data: a\n", "\n", "\ufeffdata: b\n\n"]), ["a"]);
  assert.deepEqual(parse(["data: \ufeff\n\n"]), ["\ufeff"]);
  // Empty chunks before it do not use up the start of the stream.
  assert.deepEqual(parse(["", [0xef, 0xbb], [], [0xbf], "data: a\n\n"]), ["a"]);
  assert.deepEqual(parse(["data: \ufeffb\n\n"]), ["\ufeffb"]);
  // end() starts a new stream, which may have its own BOM.
  const parser = new SseParser(BIG);
  assert.deepEqual(parser.push(utf8.encode("\ufeffdata: a\n\n")), ["a"]);
  parser.end();
  assert.deepEqual(parser.push(utf8.encode("\ufeffdata: b\n\n")), ["b"]);
  parser.end();
});

test("SseParser: comments and unknown fields are ignored, whatever their length", () => {
  const long = "x".repeat(10_000);
  assert.deepEqual(
    parse([`: hi\ndata: a\n:\nfoo: bar\nfoo\n${long}\n:${long}\ndatax: y\nData: z\ndat\nd\n\n`]),
    ["a"],
  );
  // The same, cut everywhere: fields that only start like `data` are still not data.
  assert.deepEqual(parse(["da", "tax: y\nd", "a", "t\nda", "ta", "x\n", "dat", "a: a\n\n"]), ["a"]);
  assert.deepEqual(parse([":", long, "\n: da", "ta: x\n\n"]), []);
  // Ignored lines are not kept: a limit smaller than them does not trip.
  assert.deepEqual(parse([`: ${long}`, long, `\nfoo: ${long}\n`, "data: ok\n\n"], 2), ["ok"]);
});

test("SseParser: event, id and retry fields are ignored", () => {
  assert.deepEqual(parse(["event: message\nid: 7\nretry: 1000\ndata: a\n\n"]), ["a"]);
  assert.deepEqual(parse(["event: ping\n\nid: 1\n\nretry: 5\n\n"]), []);
  assert.deepEqual(parse(["data: a\nevent: x\nid\ndata: b\n\n"]), ["a\nb"]);
});

test("SseParser: an event not ended by a blank line is discarded at end(), which resets", () => {
  const parser = new SseParser(BIG);
  assert.deepEqual(parser.push(utf8.encode("data: a\n\ndata: b\n")), ["a"]);
  parser.end();
  // Nothing of the old stream is left: not its data, not a cut line, not a pending CR.
  assert.deepEqual(parser.push(utf8.encode("\n")), []);
  assert.deepEqual(parser.push(utf8.encode("data: c")), []);
  parser.end();
  assert.deepEqual(parser.push(utf8.encode(" d\n\n")), []);
  assert.deepEqual(parser.push(utf8.encode("data: e\r")), []);
  parser.end();
  assert.deepEqual(parser.push(utf8.encode("\ndata: f\n\n")), ["f"]);
  assert.deepEqual(parser.push(new Uint8Array([0xe2, 0x82])), []);
  parser.end();
  assert.deepEqual(parser.push(utf8.encode("data: g\n\n")), ["g"]);
  parser.end();
});

test("SseParser: a UTF-8 character cut across chunks, at every byte", () => {
  const text = "data: \xe9\u20ac\u{1F600}\u4e2d\n\n";
  const stream = utf8.encode(text);
  for (let at = 1; at < stream.length; at++) {
    assert.deepEqual(parse(cut(stream, [at])), ["\xe9\u20ac\u{1F600}\u4e2d"], `cut at ${at}`);
  }
  assert.deepEqual(parse([...stream].map((b) => [b])), ["\xe9\u20ac\u{1F600}\u4e2d"]);
});

test("SseParser: invalid UTF-8 becomes U+FFFD, as the spec decodes", () => {
  const stream = concat(["data: a", [0xff], "b", [0xc3], "c\n\n"]);
  assert.deepEqual(parse([stream]), ["a\ufffdb\ufffdc"]);
  assert.deepEqual(parse([...stream].map((b) => [b])), ["a\ufffdb\ufffdc"]);
});

const SAMPLE = concat([
  "\ufeff:\r\n",
  "data: {}\x1e\r\n\r\n",
  "data: first\ndata:second\rdata\r\ndata:  third\n\n",
  ": comment\r\nevent: x\rid: 1\nretry: 10\r\nfoo\ndatax: no\r\n\r\n",
  "data: \xe9\u20ac\u{1F600} and \ufeff\r\rdata:\r\n\r\n",
  "data: a: b\r\n",
  "\r\n\n\r",
  'data: {"type":1,"target":"t","arguments":["\u4e2d"]}\x1e{"type":6}\x1e\r\n\r\n',
  "data: discarded",
]);
const SAMPLE_EVENTS = [
  "{}\x1e",
  "first\nsecond\n\n third",
  "\xe9\u20ac\u{1F600} and \ufeff",
  "",
  "a: b",
  '{"type":1,"target":"t","arguments":["\u4e2d"]}\x1e{"type":6}\x1e',
];

test("SseParser: the sample stream in one chunk", () => {
  assert.deepEqual(parse([SAMPLE]), SAMPLE_EVENTS);
});

test("SseParser: the sample stream cut at every byte position, and byte by byte", () => {
  for (let at = 1; at < SAMPLE.length; at++) {
    assert.deepEqual(parse(cut(SAMPLE, [at])), SAMPLE_EVENTS, `cut at ${at}`);
  }
  for (let at = 1; at + 1 < SAMPLE.length; at++) {
    assert.deepEqual(parse(cut(SAMPLE, [at, at + 1])), SAMPLE_EVENTS, `cut at ${at}, ${at + 1}`);
  }
  assert.deepEqual(parse([...SAMPLE].map((b) => [b])), SAMPLE_EVENTS);
});

test("SseParser: the sample stream in 2 000 random chunkings", () => {
  const rand = random(0x5eed5);
  for (let i = 0; i < 2000; i++) {
    const cuts = randomCuts(SAMPLE.length, rand);
    assert.deepEqual(parse(cut(SAMPLE, cuts)), SAMPLE_EVENTS, `cuts ${cuts}`);
  }
});

test("SseParser: data up to maxEventSize is accepted, one more code unit throws", () => {
  assert.deepEqual(parse(["data: 12345\n\n"], 5), ["12345"]);
  assertTooLarge(() => parse(["data: 123456\n\n"], 5));
  // The joining \n counts; the removed trailing one does not.
  assert.deepEqual(parse(["data: 12\ndata: 34\n\n"], 5), ["12\n34"]);
  assertTooLarge(() => parse(["data: 12\ndata: 345\n\n"], 5));
  assert.deepEqual(parse(["data\ndata\n\n"], 1), ["\n"]);
  assertTooLarge(() => parse(["data\ndata\ndata\n\n"], 1));
  // Code units, not characters or bytes: an emoji is two.
  assert.deepEqual(parse(["data: \u{1F600}\n\n"], 2), ["\u{1F600}"]);
  assertTooLarge(() => parse(["data: \u{1F600}\n\n"], 1));
  // The limit is per event.
  assert.deepEqual(parse(["data: 12345\n\ndata: 12345\n\n"], 5), ["12345", "12345"]);
});

test("SseParser: an event growing across chunks throws as soon as it is too large", () => {
  const parser = new SseParser(10);
  assert.deepEqual(parser.push(utf8.encode("data: 01234")), []);
  assert.deepEqual(parser.push(utf8.encode("56789")), []);
  // No line end yet: the line alone is already too large.
  assertTooLarge(() => parser.push(utf8.encode("a")));
  parser.end();

  // Earlier data lines of the event count too.
  const lines = new SseParser(10);
  assert.deepEqual(lines.push(utf8.encode("data: 01234\ndata:")), []);
  assert.deepEqual(lines.push(utf8.encode(" 5678")), []);
  assertTooLarge(() => lines.push(utf8.encode("9")));
  lines.end();

  // The space after the colon, cut off by a chunk boundary, is not counted.
  assert.deepEqual(parse(["data:", " ", "0123456789", "\n\n"], 10), ["0123456789"]);
});

test("SseParser: a 1 MB event in 1 000-byte chunks is scanned in linear time", () => {
  const size = 1_000_000;
  const stream = utf8.encode(`data: ${"x".repeat(size)}\r\n\r\n`);
  const chunks = cut(
    stream,
    Array.from({ length: Math.floor(stream.length / 1000) }, (_, i) => (i + 1) * 1000),
  );
  const indexOf = String.prototype.indexOf;
  const join = Array.prototype.join;
  let scanned = 0;
  let joined = 0;
  let events: string[];
  String.prototype.indexOf = function (this: string, search: string, from = 0): number {
    const found = indexOf.call(this, search, from);
    scanned += (found === -1 ? this.length : found + search.length) - from;
    return found;
  };
  Array.prototype.join = function (this: unknown[], separator?: string): string {
    const text = join.call(this, separator);
    joined += text.length;
    return text;
  };
  try {
    events = parse(chunks, size);
  } finally {
    String.prototype.indexOf = indexOf;
    Array.prototype.join = join;
  }
  assert.equal(events.length, 1);
  assert.equal(events[0].length, size);
  assert.ok(events[0] === "x".repeat(size));
  // Two scans (CR and LF) of each character; rescanning what is kept would be ~500 times more.
  assert.ok(scanned > 0 && scanned <= 2 * stream.length + 16, `scanned ${scanned}`);
  // The pieces are joined once, at the end of the line.
  assert.ok(joined <= size, `joined ${joined}`);
});

// The differential check: a reference that follows the spec line by line on the whole stream.

const TOO_LARGE = Symbol("too large");

function reference(stream: Uint8Array, max: number): string[] | typeof TOO_LARGE {
  // Decoding in one go: one leading BOM dropped, bad bytes replaced.
  const lines = new TextDecoder().decode(stream).split(/\r\n|\r|\n/);
  const tail = lines.pop()!;
  const events: string[] = [];
  let data = "";
  const field = (line: string): [string, string] => {
    const colon = line.indexOf(":");
    if (colon === -1) return [line, ""];
    const value = line.slice(colon + 1);
    return [line.slice(0, colon), value.startsWith(" ") ? value.slice(1) : value];
  };
  for (const line of lines) {
    if (line === "") {
      if (data !== "") events.push(data.slice(0, -1));
      data = "";
    } else if (!line.startsWith(":")) {
      const [name, value] = field(line);
      if (name === "data") data += value + "\n";
      if (data.length - 1 > max) return TOO_LARGE;
    }
  }
  // A data line cut by the end of the stream must not have exceeded the limit while arriving.
  if (tail.startsWith("data:") && data.length + field(tail)[1].length > max) return TOO_LARGE;
  return events;
}

const NAMES = [
  "data",
  "data",
  "data",
  "data",
  "dat",
  "datax",
  "Data",
  "event",
  "id",
  "retry",
  "foo",
  "",
];
const VALUE_PARTS: Chunk[] = [
  "a",
  "hello",
  " ",
  ":",
  "\xe9",
  "\u{1F600}",
  "\ufeff",
  '{"type":1}\x1e',
  [0xff],
  [0xc3, 0x41],
];
const ENDS = ["\n", "\r", "\r\n"];

function randomStream(rand: (n: number) => number): Uint8Array {
  const parts: Chunk[] = [];
  const bom = rand(8);
  if (bom === 0) parts.push("\ufeff");
  if (bom === 1) parts.push("\ufeff\ufeff");
  const lines = rand(20);
  for (let i = 0; i <= lines; i++) {
    const kind = rand(10);
    if (kind < 3) {
      parts.push(""); // a blank line
    } else if (kind === 3) {
      parts.push(":");
      for (let n = rand(3); n > 0; n--) parts.push(VALUE_PARTS[rand(VALUE_PARTS.length)]);
    } else {
      parts.push(NAMES[rand(NAMES.length)]);
      const colon = rand(4);
      if (colon > 0) parts.push(colon === 1 ? ":" : colon === 2 ? ": " : ":  ");
      if (colon > 0) {
        for (let n = rand(4); n > 0; n--) parts.push(VALUE_PARTS[rand(VALUE_PARTS.length)]);
      }
    }
    if (i < lines || rand(2) === 0) parts.push(ENDS[rand(ENDS.length)]);
  }
  return concat(parts);
}

test("SseParser: matches a per-line reference over 5 000 random streams and chunkings", () => {
  const rand = random(0xc0ffee);
  let events = 0;
  let tooLarge = 0;
  for (let i = 0; i < 5000; i++) {
    const stream = randomStream(rand);
    const max = rand(3) === 0 ? rand(12) : BIG;
    const expected = reference(stream, max);
    const cuts = rand(4) === 0 ? [] : randomCuts(stream.length, rand);
    const parser = new SseParser(max);
    const got: string[] = [];
    let threw: unknown;
    try {
      for (const chunk of cut(stream, cuts)) got.push(...parser.push(chunk));
    } catch (error) {
      threw = error;
    }
    parser.end();
    const where = `stream ${
      JSON.stringify(new TextDecoder().decode(stream))
    }, max ${max}, cuts ${cuts}`;
    if (expected === TOO_LARGE) {
      tooLarge++;
      assert.ok(threw instanceof ProtocolError, `expected ProtocolError: ${where}`);
    } else {
      events += expected.length;
      assert.equal(threw, undefined, where);
      assert.deepEqual(got, expected, where);
    }
  }
  // The grammar exercised both outcomes, with real events.
  assert.ok(events > 2000 && tooLarge > 200, `${events} events, ${tooLarge} too large`);
});
