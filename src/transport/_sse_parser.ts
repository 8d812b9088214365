// The event stream of Server-Sent Events (WHATWG HTML, "event stream interpretation"), read
// incrementally from a fetch body's chunks, which may cut a UTF-8 sequence, a line, or a CRLF.
// Only `data` matters to SignalR (ASP.NET Core writes `data: <records>\r\n\r\n`); `event`, `id`,
// `retry`, other fields and comments are read past and dropped.
//
// Whole lines inside one chunk are the fast path: found with two indexOf scans whose results are
// reused until passed, so each character is scanned at most twice, and a `data` line costs one
// slice, which is the payload. A line cut by a chunk boundary falls back to #partial: its data
// value is kept as pieces joined once at its end (a long event in many chunks stays linear), and
// any other line is dropped as it arrives instead of buffered.
import { ProtocolError } from "../errors.ts";

const LF = 0x0a;
const SPACE = 0x20;
const COLON = 0x3a;
const LOWER_D = 0x64;
const BOM = 0xfeff;

// What the last chunk ended in (#partial).
/** Nothing: the next character starts a line. */
const NONE = 0;
/** A line too short to tell: `#head` is a prefix of `data`. */
const HEAD = 1;
/** A `data` line: `#pieces` hold its value so far. */
const DATA = 2;
/** A comment or another field, read past to its end. */
const SKIP = 3;

/** Turns the bytes of an event stream into the data payloads of its events. */
export class SseParser {
  readonly #max: number;
  // The spec decodes with replacement, not failure: a bad byte becomes U+FFFD (and SignalR's
  // JSON parse then fails on it if it matters). The BOM is dropped here, not by the decoder:
  // Deno's (2.9) also drops one at the start of a later chunk when the chunks before it were
  // all ASCII.
  #decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  /** Nothing decoded yet: a BOM would be the stream's, and is not data. */
  #start = true;
  /** The data lines of the current event, joined by "\n"; undefined while it has none. */
  #data: string | undefined = undefined;
  /** The last chunk ended with a CR: an LF at the start of the next one is part of it. */
  #skipLF = false;
  #partial = NONE;
  #head = "";
  #pieces: string[] = [];
  #piecesLength = 0;
  /** The cut data line ended at its colon: a space starting the next chunk is not data. */
  #spacePending = false;

  /**
   * @param maxEventSize The largest data payload accepted, in UTF-16 code units.
   */
  constructor(maxEventSize: number) {
    this.#max = maxEventSize;
  }

  /**
   * Feeds one chunk of the body; returns the data payloads of the events it completed, in
   * order. Throws a {@linkcode ProtocolError} once an event's data exceeds the limit, even
   * before the event ends; that event, and any completed earlier in the same chunk, are lost,
   * and only {@linkcode SseParser.end} may follow.
   */
  push(chunk: Uint8Array): string[] {
    const text = this.#decoder.decode(chunk, { stream: true });
    const events: string[] = [];
    // A chunk may hold only the start of a UTF-8 sequence (or of the BOM): then nothing changes.
    if (text.length === 0) return events;
    let pos = 0;
    if (this.#start) {
      this.#start = false;
      if (text.charCodeAt(0) === BOM) pos = 1;
    } else if (this.#skipLF) {
      this.#skipLF = false;
      if (text.charCodeAt(0) === LF) pos = 1;
    }
    const length = text.length;
    // The next CR and LF at or after pos; `length` when there is none.
    let cr = -1;
    let lf = -1;
    while (pos < length) {
      if (cr < pos) {
        cr = text.indexOf("\r", pos);
        if (cr === -1) cr = length;
      }
      if (lf < pos) {
        lf = text.indexOf("\n", pos);
        if (lf === -1) lf = length;
      }
      const end = cr < lf ? cr : lf;
      if (end === length) {
        this.#keep(text, pos);
        break;
      }
      if (this.#partial === NONE) this.#line(text, pos, end, events);
      else this.#finish(text, pos, end, events);
      if (end === lf) pos = end + 1;
      else if (end + 1 === length) {
        this.#skipLF = true;
        break;
      } else pos = lf === end + 1 ? end + 2 : end + 1;
    }
    return events;
  }

  /**
   * The body ended: an event not ended by a blank line is discarded, as the spec says. The
   * parser is then ready for a new stream.
   */
  end(): void {
    this.#decoder = new TextDecoder("utf-8", { ignoreBOM: true });
    this.#start = true;
    this.#data = undefined;
    this.#skipLF = false;
    this.#reset();
  }

  /** One whole line, `text.slice(start, end)`, without its line end. */
  #line(text: string, start: number, end: number, events: string[]): void {
    if (start === end) {
      if (this.#data !== undefined) {
        events.push(this.#data);
        this.#data = undefined;
      }
      return;
    }
    // `data` alone is a data line with an empty value; `datax` is another field.
    if (text.charCodeAt(start) !== LOWER_D || !text.startsWith("data", start)) return;
    let from = start + 4;
    if (from < end) {
      if (text.charCodeAt(from) !== COLON) return;
      from++;
      if (from < end && text.charCodeAt(from) === SPACE) from++;
    }
    this.#append(text.slice(from, end));
  }

  /** The end of a line begun in an earlier chunk: `text.slice(start, end)` is its rest. */
  #finish(text: string, start: number, end: number, events: string[]): void {
    const partial = this.#partial;
    if (partial === HEAD) {
      const line = this.#head + text.slice(start, end);
      this.#reset();
      this.#line(line, 0, line.length, events);
    } else if (partial === DATA) {
      if (this.#spacePending && start < end && text.charCodeAt(start) === SPACE) start++;
      const rest = text.slice(start, end);
      const value = this.#pieces.length === 0 ? rest : this.#pieces.join("") + rest;
      this.#reset();
      this.#append(value);
    } else {
      this.#reset();
    }
  }

  /** The chunk ends inside a line: `text.slice(start)` is its part in this chunk. */
  #keep(text: string, start: number): void {
    switch (this.#partial) {
      case SKIP:
        return;
      case DATA:
        if (this.#spacePending) {
          this.#spacePending = false;
          if (text.charCodeAt(start) === SPACE) start++;
        }
        if (start < text.length) this.#addPiece(text.slice(start));
        return;
      case HEAD: {
        const line = this.#head + text.slice(start);
        this.#partial = NONE;
        return this.#begin(line, 0);
      }
      case NONE:
        return this.#begin(text, start);
    }
  }

  /** Sorts out a cut line, `text.slice(start)`, from its start. */
  #begin(text: string, start: number): void {
    if (text.startsWith("data:", start)) {
      this.#partial = DATA;
      let from = start + 5;
      if (from === text.length) this.#spacePending = true;
      else {
        if (text.charCodeAt(from) === SPACE) from++;
        if (from < text.length) this.#addPiece(text.slice(from));
      }
    } else if (text.length - start <= 4 && "data".startsWith(text.slice(start))) {
      this.#partial = HEAD;
      this.#head = text.slice(start);
    } else {
      this.#partial = SKIP;
    }
  }

  #addPiece(piece: string): void {
    this.#pieces.push(piece);
    this.#piecesLength += piece.length;
    // Checked while the line grows, so that a stream that never ends a line cannot fill memory.
    const size = this.#data === undefined ? 0 : this.#data.length + 1;
    if (size + this.#piecesLength > this.#max) this.#tooLarge();
  }

  #append(value: string): void {
    if (this.#data === undefined) {
      if (value.length > this.#max) this.#tooLarge();
      this.#data = value;
    } else {
      if (this.#data.length + 1 + value.length > this.#max) this.#tooLarge();
      this.#data += "\n" + value;
    }
  }

  #reset(): void {
    this.#partial = NONE;
    this.#head = "";
    if (this.#pieces.length !== 0) this.#pieces = [];
    this.#piecesLength = 0;
    this.#spacePending = false;
  }

  #tooLarge(): never {
    throw new ProtocolError(
      `A Server-Sent Event's data exceeds the maximum message size of ${this.#max} characters.`,
    );
  }
}
