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

export class SequenceState {
  readonly #limit: number;
  // Sent and not acknowledged, oldest first, from #head on; #firstId is the id of #frames[#head].
  #frames: (string | Uint8Array)[] = [];
  #head = 0;
  #firstId = 1;
  #bytes = 0;
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

  /** Unacknowledged frames, for tests and logs. */
  get pending(): number {
    return this.#frames.length - this.#head;
  }

  /** Keeps a numbered frame that is being sent. */
  keep(frame: string | Uint8Array): void {
    this.#frames.push(frame);
    this.#bytes += frame.length;
  }

  /** The server processed everything up to `id`: those frames are no longer kept. */
  acknowledge(id: number): void {
    const frames = this.#frames;
    while (this.#firstId <= id && this.#head < frames.length) {
      this.#bytes -= frames[this.#head].length;
      frames[this.#head++] = "";
      this.#firstId++;
    }
    // Compact now and then, not on every Ack: shifting is linear in what is left.
    if (this.#head > 1024 && this.#head * 2 > frames.length) {
      this.#frames = frames.slice(this.#head);
      this.#head = 0;
    }
  }

  /** What to send after a reattach: the Sequence id, then every frame still kept, in order. */
  replay(): { sequenceId: number; frames: (string | Uint8Array)[] } {
    return { sequenceId: this.#firstId, frames: this.#frames.slice(this.#head) };
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
