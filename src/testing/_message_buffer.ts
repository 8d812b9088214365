// The hub's side of stateful reconnect for one connection, as ASP.NET Core's MessageBuffer
// (src/SignalR/common/Shared/MessageBuffer.cs) does it: the numbering of the messages each way,
// the buffer of sent messages until the client acks them, the Sequence to send on reattach, and
// the duplicate filter on receive.
import { type HubMessage, MessageType } from "../protocol/messages.ts";

/** Whether a message is numbered: ASP.NET Core's `HubInvocationMessage`s. */
export function isNumbered(type: number): boolean {
  return type === MessageType.Invocation || type === MessageType.StreamItem ||
    type === MessageType.Completion || type === MessageType.StreamInvocation ||
    type === MessageType.CancelInvocation;
}

/** The text ASP.NET Core throws when a client's Sequence is ahead of what it received. */
export const SEQUENCE_AHEAD = "Sequence ID greater than amount of messages we've received.";

interface Sent {
  readonly id: number;
  readonly frame: string | Uint8Array;
  readonly size: number;
}

/** Sequence numbers, buffer and acks of one stateful connection. */
export class MessageBuffer {
  readonly limit: number;
  // Sent, not acked yet, oldest first (from #head).
  #sent: Sent[] = [];
  #head = 0;
  #bytes = 0;
  #total = 0;
  // Receiving: the id the next numbered message gets, the newest id processed, the newest acked.
  #current = 1;
  #latest = 0;
  #lastAcked = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes sent and not acked. */
  get bufferedBytes(): number {
    return this.#bytes;
  }

  /** Messages sent so far (the id of the newest). */
  get sentCount(): number {
    return this.#total;
  }

  /** The newest id received and processed (0: none yet). */
  get latestReceived(): number {
    return this.#latest;
  }

  /** Numbers and keeps a sent message; returns its id. */
  add(frame: string | Uint8Array): number {
    const id = ++this.#total;
    const size = typeof frame === "string" ? utf8Length(frame) : frame.byteLength;
    this.#sent.push({ id, frame, size });
    this.#bytes += size;
    return id;
  }

  /** The client processed everything up to `sequenceId`: forget those. */
  ack(sequenceId: number): void {
    const sent = this.#sent;
    let head = this.#head;
    while (head < sent.length && sent[head].id <= sequenceId) this.#bytes -= sent[head++].size;
    if (head === sent.length) {
      this.#sent = [];
      this.#head = 0;
    } else if (head > 1024 && head * 2 > sent.length) {
      this.#sent = sent.slice(head);
      this.#head = 0;
    } else this.#head = head;
  }

  /** What reattach sends first: the oldest unacked id, or the next id when none is buffered. */
  get sequenceId(): number {
    return this.#head < this.#sent.length ? this.#sent[this.#head].id : this.#total + 1;
  }

  /** The unacked frames, oldest first, to replay after the Sequence. */
  *frames(): Iterable<string | Uint8Array> {
    for (let i = this.#head; i < this.#sent.length; i++) yield this.#sent[i].frame;
  }

  /**
   * ASP.NET Core's `ShouldProcessMessage`: a Sequence resets the receive counter (throwing when
   * it is ahead of it); a numbered message already processed is a duplicate (false). Messages
   * that come before the client's Sequence on a reattached transport are counted as any other,
   * as the shipped code does.
   */
  shouldProcess(message: HubMessage): boolean {
    if (message.type === MessageType.Sequence) {
      if (message.sequenceId > this.#current) throw new Error(SEQUENCE_AHEAD);
      this.#current = message.sequenceId;
      return true;
    }
    if (!isNumbered(message.type)) return true;
    const id = this.#current++;
    if (id <= this.#latest) return false;
    this.#latest = id;
    return true;
  }

  /**
   * The Ack the 1 s timer sends, if anything new arrived since the last one; it counts as sent
   * even when it is lost with a dropped transport, as on ASP.NET Core (which therefore does not
   * repeat it after a reattach until something new arrives).
   */
  takeAck(): number | undefined {
    if (this.#lastAcked >= this.#latest) return undefined;
    this.#lastAcked = this.#latest;
    return this.#latest;
  }
}

/** The UTF-8 length of a string, without encoding it. */
function utf8Length(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) length += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      length += 2; // a surrogate pair: 4 bytes for 2 code units
      i++;
    } else length += 2;
  }
  return length;
}
