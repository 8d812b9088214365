// Stateful reconnect's sequence handling (SequenceState) against a model: operations decoded
// from the input bytes (keep, acknowledge, replay, accept, sequence, ackDue), seeded with the
// operations of a recorded stateful session.
import { ProtocolError } from "../../src/errors.ts";
import { SequenceState } from "../../src/connection/_stateful.ts";
import { check, concat, corpus, mutate, type Rng, type Target } from "./_util.ts";

/** The recorded session as operations: a keep per sent call, an accept per numbered message. */
function seedOf(frames: string[], binary: boolean): Uint8Array {
  const ops: number[] = [binary ? 1 : 0, 40];
  for (let i = 0; i < 15; i++) ops.push(0, 20 + i * 7); // the calls the recorder sent
  for (const frame of frames) {
    for (const record of frame.split("\x1e").slice(0, -1)) {
      const m = JSON.parse(record) as { type?: number; sequenceId?: number };
      if (m.type === undefined) continue;
      if (m.type >= 1 && m.type <= 5) ops.push(3, 0);
      else if (m.type === 8) ops.push(1, m.sequenceId! & 0xff);
      else if (m.type === 9) ops.push(4, 0);
    }
  }
  ops.push(5, 0, 2, 0, 4, 1, 3, 0, 3, 0, 6, 3, 1, 200, 2, 0);
  return Uint8Array.from(ops);
}
const recorded = corpus("stateful.json") as string[];
const seeds = [seedOf(recorded, false), seedOf(recorded, true)];

export const statefulTarget: Target = {
  name: "stateful",
  input(rng: Rng) {
    return mutate(rng, rng.pick(seeds), seeds);
  },
  run(input) {
    const binary = (input[0] & 1) === 1;
    const limit = 1 + (input[1] ?? 0) * 8;
    const state = new SequenceState(limit);
    // The model: kept frames with their ids; the receive counters.
    const kept: { id: number; frame: string | Uint8Array }[] = [];
    let nextId = 1;
    let received = 0;
    let processed = 0;
    let acked = 0;
    // After a replay, Acks up to its last id free nothing until one past it (see acknowledge).
    let replayEnd = 0;
    let counter = 0;
    const frame = (length: number): string | Uint8Array => {
      counter++;
      if (binary) return Uint8Array.from({ length }, (_, i) => (counter + i) & 0xff);
      return String.fromCharCode(0x41 + (counter % 26)).repeat(length);
    };
    let size = 0;
    const keep = (length: number) => {
      const f = frame(length);
      state.keep(f);
      kept.push({ id: nextId++, frame: f });
      size += length;
    };
    const bytes = () => size;
    for (let pos = 2; pos + 1 < input.length; pos += 2) {
      const op = input[pos] % 7;
      const arg = input[pos + 1];
      switch (op) {
        case 0:
          keep(arg);
          break;
        case 6: // many frames: chunks of 256 are sealed
          // At most 4 096 kept: each replay checks them all against the model, and the
          // scaling check (below) covers the large sizes.
          for (let i = 0; i < arg * 4 && kept.length < 4096; i++) keep(1 + (i % 5));
          break;
        case 1: { // acknowledge around the kept range
          const first = kept[0]?.id ?? nextId;
          const id = first - 2 + (arg % (kept.length + 4));
          state.acknowledge(id);
          if (id <= replayEnd) break;
          replayEnd = 0;
          let drop = 0;
          while (drop < kept.length && kept[drop].id <= id) size -= kept[drop++].frame.length;
          kept.splice(0, drop);
          break;
        }
        case 2: {
          const r = state.replay();
          const expectedId = kept[0]?.id ?? nextId;
          check(
            r.sequenceId === expectedId,
            `replay: Sequence ${r.sequenceId}, expected ${expectedId}`,
          );
          check(r.count === kept.length, `replay: ${r.count} messages, expected ${kept.length}`);
          replayEnd = expectedId + kept.length - 1;
          const got = binary ? concat(r.frames as Uint8Array[]) : (r.frames as string[]).join("");
          const want = binary
            ? concat(kept.map((k) => k.frame as Uint8Array))
            : kept.map((k) => k.frame as string).join("");
          check(
            typeof got === "string"
              ? got === want
              : got.length === want.length && got.every((b, i) => b === (want as Uint8Array)[i]),
            "replay: the frames differ from those kept",
          );
          break;
        }
        case 3: {
          const ok = state.accept();
          const want = ++received > processed;
          if (want) processed = received;
          check(ok === want, `accept: ${ok}, expected ${want}`);
          break;
        }
        case 4: {
          const id = processed + 1 - (arg % 8) + (arg % 16 === 15 ? 9 : 0);
          let threw: unknown;
          try {
            state.sequence(id);
          } catch (e) {
            threw = e;
          }
          if (id > processed + 1) {
            check(
              threw instanceof ProtocolError,
              `Sequence ${id} after ${processed}: no ProtocolError`,
            );
          } else {
            check(threw === undefined, `Sequence ${id} after ${processed} threw ${threw}`);
            received = id - 1;
          }
          break;
        }
        default: {
          const always = (arg & 1) === 1;
          const due = state.ackDue(always);
          const want = processed === 0 || (!always && processed === acked) ? undefined : processed;
          if (want !== undefined) acked = processed;
          check(due === want, `ackDue: ${due}, expected ${want}`);
        }
      }
      check(state.full === (bytes() >= limit), `full: ${state.full} with ${bytes()} of ${limit}`);
    }
  },
  scale(n) {
    // n frames kept, acknowledged one by one: linear, not a rescan per Ack.
    return () => {
      const s = new SequenceState(1 << 30);
      for (let i = 0; i < n; i++) s.keep("x");
      for (let i = 1; i <= n; i++) s.acknowledge(i);
      s.replay();
    };
  },
};
