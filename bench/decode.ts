/**
 * Decoding alone, in one process: the messages of the replayed stream (`Counter(200000, 0)` as
 * ASP.NET Core writes it, 1 504 or 25 items per message) decoded round after round by each
 * decoder, with no connection, dispatch or stream around it:
 *
 * - ours: `JsonHubProtocol` and `MessagePackHubProtocol` decoders (`createDecoder().decode`);
 * - official: `@microsoft/signalr` 10.0.11's `JsonHubProtocol.parseMessages` and
 *   `@microsoft/signalr-protocol-msgpack` 10.0.11's `MessagePackHubProtocol.parseMessages`;
 * - generic: each message decoded by one `@msgpack/msgpack` 3.1.3 `Decoder`, in place (what
 *   bench/_bare.ts does).
 *
 * `deno run -A --lock=deno.lock bench/decode.ts [--per 1504] [--rounds 20]`. Prints CPU ns per
 * item for the first round (cold: V8 has not compiled the decoder yet) and the median of the last
 * half of the rounds (steady state), each decoder in a fresh process.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpuMicros, median } from "./_measure.ts";
import { jsonMessages, messagePackMessages } from "./_replay.ts";
import { OFFICIAL_MSGPACK_SPECIFIER, OFFICIAL_SPECIFIER } from "./_official.ts";

const ITEMS = 200_000;
const DECODERS = [
  "ours-json",
  "ours-msgpack",
  "official-json",
  "official-msgpack",
  "generic-msgpack",
] as const;
type DecoderName = typeof DECODERS[number];

/** A function that decodes every message once and returns how many hub messages it got. */
async function decoderOf(name: DecoderName): Promise<(frames: unknown[]) => number> {
  const logger = { log() {} };
  switch (name) {
    case "ours-json": {
      const { JsonHubProtocol } = await import("../mod.ts");
      const decoder = new JsonHubProtocol().createDecoder({ maxMessageSize: 1 << 30, logger });
      return (frames) => count(frames, (f) => decoder.decode(f as string).length);
    }
    case "ours-msgpack": {
      const { MessagePackHubProtocol } = await import("../msgpack.ts");
      const decoder = new MessagePackHubProtocol().createDecoder({
        maxMessageSize: 1 << 30,
        logger,
      });
      return (frames) => count(frames, (f) => decoder.decode(f as Uint8Array).length);
    }
    case "official-json": {
      const specifier: string = OFFICIAL_SPECIFIER;
      const { JsonHubProtocol } = await import(specifier);
      const protocol = new JsonHubProtocol();
      return (frames) => count(frames, (f) => protocol.parseMessages(f, logger).length);
    }
    case "official-msgpack": {
      const specifier: string = OFFICIAL_MSGPACK_SPECIFIER;
      const { MessagePackHubProtocol } = await import(specifier);
      const protocol = new MessagePackHubProtocol();
      // It takes an ArrayBuffer (a socket's message); every recorded message has its own.
      return (frames) =>
        count(frames, (f) => protocol.parseMessages((f as Uint8Array).buffer, logger).length);
    }
    case "generic-msgpack": {
      const { Decoder } = await import("@msgpack/msgpack");
      const decoder = new Decoder();
      return (frames) =>
        count(frames, (f) => {
          const bytes = f as Uint8Array;
          let n = 0;
          for (let pos = 0; pos < bytes.length;) {
            let length = 0;
            let shift = 0;
            let byte: number;
            do {
              byte = bytes[pos++];
              length |= (byte & 0x7f) << shift;
              shift += 7;
            } while (byte & 0x80);
            if ((decoder.decode(bytes.subarray(pos, pos + length)) as unknown[]).length) n++;
            pos += length;
          }
          return n;
        });
    }
  }
}

function count(frames: unknown[], decode: (frame: unknown) => number): number {
  let n = 0;
  for (let i = 0; i < frames.length; i++) n += decode(frames[i]);
  return n;
}

/** One decoder's rounds, in this process: CPU ns per item of each round. */
async function run(name: DecoderName, per: number, rounds: number): Promise<number[]> {
  const decode = await decoderOf(name);
  const json = name.endsWith("json");
  const out: number[] = [];
  for (let round = 0; round < rounds; round++) {
    // A new invocation id each round, as a new stream would have.
    const id = String(round % 10);
    const frames = json ? jsonMessages(id, ITEMS, per) : messagePackMessages(id, ITEMS, per);
    const cpu0 = cpuMicros();
    const n = decode(frames);
    out.push((cpuMicros() - cpu0) * 1000 / ITEMS);
    if (n !== ITEMS + 1) throw new Error(`${name}: ${n} messages, expected ${ITEMS + 1}`);
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs({
    args: Deno.args,
    options: {
      per: { type: "string", default: "1504" },
      rounds: { type: "string", default: "20" },
      decoder: { type: "string" },
    },
  });
  const per = Number(args.values.per);
  const rounds = Number(args.values.rounds);
  if (args.values.decoder) {
    // A child: one decoder.
    const result = await run(args.values.decoder as DecoderName, per, rounds);
    console.log(`RESULT ${JSON.stringify(result)}`);
    return;
  }
  console.log(
    `decoding ${ITEMS} stream items, ${per} per message, ${rounds} rounds, one process per ` +
      `decoder: CPU ns per item`,
  );
  console.log("| decoder | first round | median of the last half |\n|---|---:|---:|");
  for (const name of DECODERS) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--node-modules-dir=none",
        `--lock=${new URL("../deno.lock", import.meta.url).pathname}`,
        new URL(import.meta.url).pathname,
        "--decoder",
        name,
        "--per",
        String(per),
        "--rounds",
        String(rounds),
      ],
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(output.stdout);
    const line = text.split("\n").findLast((l) => l.startsWith("RESULT "));
    if (!output.success || !line) {
      console.log(`| ${name} | failed | ${new TextDecoder().decode(output.stderr).trim()} |`);
      continue;
    }
    const ns = JSON.parse(line.slice("RESULT ".length)) as number[];
    console.log(
      `| ${name} | ${ns[0].toFixed(0)} | ${median(ns.slice(Math.floor(rounds / 2))).toFixed(0)} |`,
    );
  }
}

if (import.meta.main) await main();
