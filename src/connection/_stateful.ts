// Stateful reconnect's bookkeeping for one server connection across its transports: the
// sequence numbers of both directions, the frames sent but not yet acknowledged (kept for a
// replay), and the duplicate filter for what the server replays.
//
// Numbered, on each side from 1: Invocation, StreamItem, Completion, StreamInvocation and
// CancelInvocation. Ping, Close, Ack and Sequence are not.
import { ProtocolError } from "../errors.ts";
import { MessageType } from "../protocol/messages.ts";
import type { Transport, TransportReceiver } from "../transport/transport.ts";

/** Whether a message of this type carries a sequence number. */
export function isNumbered(type: number): boolean {
  return type >= MessageType.Invocation && type <= MessageType.CancelInvocation;
}

/** What the connection layer needs to reattach, given by whoever connected the first transport. */
export interface StatefulOptions {
  /** Bytes (characters for JSON) sent but not acknowledged before sends wait. */
  readonly bufferSize: number;
  /** Connects the same transport to the same server connection again (fresh token, no negotiate). */
  reattach(receiver: TransportReceiver, signal: AbortSignal): Promise<Transport>;
  /** Whether the server no longer knows the connection (it answers 404). */
  gone(signal: AbortSignal): Promise<boolean>;
}

type Frame = string | Uint8Array;

/**
 * Kept frames joined into one: a second of uploads is hundreds of thousands of small strings,
 * which, kept alive until the Ack, would all be promoted and collected in the old generation.
 * One string per chunk and a number per message cost a fraction of that.
 */
interface Chunk {
  readonly data: Frame;
  /** Where each message ends in `data`. */
  readonly ends: number[];
  /** The first message not yet acknowledged. */
  head: number;
}

/** Frames joined into a chunk once this many are waiting. */
const CHUNK = 256;

export class SequenceState {
  readonly #limit: number;
  // Sent and not acknowledged, oldest first: sealed chunks, then the frames of the open one.
  // #firstId is the id of the oldest kept message.
  #chunks: Chunk[] = [];
  #chunkHead = 0;
  #open: Frame[] = [];
  #openHead = 0;
  #firstId = 1;
  #bytes = 0;
  /**
   * After a reattach, the last id of the replay: Acks up to it are not trusted until the server
   * acknowledges something past it.
   */
  #replayEnd = 0;
  // Received: the id of the last numbered message seen, and the highest one handed up.
  #received = 0;
  #processed = 0;
  #acked = 0;
  /** After a reattach, until the server's Sequence: everything else is ignored. */
  waitingForSequence = false;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Unacknowledged bytes reached the limit: sends wait. */
  get full(): boolean {
    return this.#bytes >= this.#limit;
  }

  /** Keeps a numbered frame that is being sent. */
  keep(frame: Frame): void {
    this.#open.push(frame);
    this.#bytes += frame.length;
    if (this.#open.length - this.#openHead >= CHUNK) this.#seal();
  }

  #seal(): void {
    const frames = this.#open;
    const from = this.#openHead;
    this.#open = [];
    this.#openHead = 0;
    if (from === frames.length) return;
    const ends: number[] = [];
    let end = 0;
    for (let i = from; i < frames.length; i++) ends.push(end += frames[i].length);
    const data = typeof frames[from] === "string"
      ? (from === 0 ? frames : frames.slice(from)).join("")
      : joinBytes(frames as Uint8Array[], from, end);
    this.#chunks.push({ data, ends, head: 0 });
  }

  /** The server processed everything up to `id`: those frames are no longer kept. */
  acknowledge(id: number): void {
    // ASP.NET Core checks a Sequence against the count of the replay it is reading, not against
    // what it has processed: an Ack it sends while still reading our replay, trusted, would make
    // our next Sequence (after another cut) "greater than amount of messages we've received". Such
    // Acks free nothing; the first one past the replay does (a new message is let through for it).
    if (id <= this.#replayEnd) return;
    this.#replayEnd = 0;
    const chunks = this.#chunks;
    while (this.#firstId <= id && this.#chunkHead < chunks.length) {
      const chunk = chunks[this.#chunkHead];
      const take = Math.min(id - this.#firstId + 1, chunk.ends.length - chunk.head);
      const start = chunk.head === 0 ? 0 : chunk.ends[chunk.head - 1];
      chunk.head += take;
      this.#bytes -= chunk.ends[chunk.head - 1] - start;
      this.#firstId += take;
      if (chunk.head === chunk.ends.length) chunks[this.#chunkHead++] = EMPTY;
    }
    if (this.#chunkHead > 64 && this.#chunkHead * 2 > chunks.length) {
      this.#chunks = chunks.slice(this.#chunkHead);
      this.#chunkHead = 0;
    }
    const open = this.#open;
    while (this.#firstId <= id && this.#openHead < open.length) {
      this.#bytes -= open[this.#openHead].length;
      open[this.#openHead++] = "";
      this.#firstId++;
    }
  }

  /** What to send after a reattach: the Sequence id, then every frame still kept, in order. */
  replay(): { sequenceId: number; frames: Frame[]; count: number } {
    this.#seal();
    const frames: Frame[] = [];
    let count = 0;
    for (let i = this.#chunkHead; i < this.#chunks.length; i++) {
      const { data, ends, head } = this.#chunks[i];
      const start = head === 0 ? 0 : ends[head - 1];
      frames.push(start === 0 ? data : data.slice(start));
      count += ends.length - head;
    }
    this.#replayEnd = this.#firstId + count - 1;
    return { sequenceId: this.#firstId, frames, count };
  }

  /**
   * A numbered message arrived; `false` when the server replayed one already handed up (drop
   * it).
   */
  accept(): boolean {
    if (++this.#received <= this.#processed) return false;
    this.#processed = this.#received;
    return true;
  }

  /**
   * The server's Sequence after a reattach: its next message has this id.
   *
   * @throws {ProtocolError} When it skips messages never received.
   */
  sequence(id: number): void {
    if (id > this.#processed + 1) {
      throw new ProtocolError(
        `Stateful reconnect: the server resumes at message ${id}, but only ${this.#processed} were received; messages were lost.`,
      );
    }
    this.#received = id - 1;
    this.waitingForSequence = false;
  }

  /** The id to acknowledge, when something arrived since the last Ack (or `always`). */
  ackDue(always = false): number | undefined {
    if (this.#processed === 0 || (!always && this.#processed === this.#acked)) return undefined;
    this.#acked = this.#processed;
    return this.#processed;
  }
}

const EMPTY: Chunk = { data: "", ends: [], head: 0 };

function joinBytes(frames: readonly Uint8Array[], from: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (let i = from; i < frames.length; i++) {
    out.set(frames[i], offset);
    offset += frames[i].length;
  }
  return out;
}
