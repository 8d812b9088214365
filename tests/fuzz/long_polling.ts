// Long Polling's response handling, through the real transport over a scripted fetch: the first
// poll (200 connects; 204 or an error status fails connect), then bodies (200: a frame, empty:
// poll again), the end (204, or an error status); the frames then go through the protocol's
// decoder. The bodies are recorded poll answers, mutated.
import { HttpError, ProtocolError, TransportClosedError } from "../../src/errors.ts";
import { HttpClient } from "../../src/http/_http_client.ts";
import { longPollingTransport } from "../../src/transport/_long_polling.ts";
import { JsonHubProtocol } from "../../src/protocol/json.ts";
import { MessagePackHubProtocol } from "../../msgpack.ts";
import {
  check,
  concat,
  corpus,
  cut,
  fromHex,
  mutate,
  quiet,
  type Rng,
  splits,
  type Target,
} from "./_util.ts";

interface Poll {
  format: "Text" | "Binary";
  status: number;
  body: string;
}
const polls = corpus("long_polling.json") as Poll[];
const bodies = {
  Text: polls.filter((p) => p.format === "Text" && p.body !== "").map((p) => fromHex(p.body)),
  Binary: polls.filter((p) => p.format === "Binary" && p.body !== "").map((p) => fromHex(p.body)),
};
const protocols = { Text: new JsonHubProtocol(), Binary: new MessagePackHubProtocol() };
const ERRORS = [400, 401, 403, 404, 409, 500, 502, 503, 599];

// The input: byte 0 the format and the script's shape, then the bodies, each behind a 2-byte
// length. Mutations change both.
function encode(format: number, statuses: number[], bodies: Uint8Array[]): Uint8Array {
  const parts: number[] = [format, statuses.length];
  for (let i = 0; i < statuses.length; i++) {
    parts.push(
      statuses[i] & 0xff,
      statuses[i] >> 8,
      bodies[i].length & 0xff,
      bodies[i].length >> 8,
    );
    parts.push(...bodies[i]);
  }
  return Uint8Array.from(parts);
}

interface Answer {
  status: number;
  body: Uint8Array;
  cuts: number[];
}

function decodeScript(input: Uint8Array, rng: Rng): { binary: boolean; answers: Answer[] } {
  const binary = (input[0] & 1) === 1;
  const answers: Answer[] = [];
  let pos = 2;
  const count = Math.min(input[1] ?? 0, 6);
  for (let i = 0; i < count && pos + 4 <= input.length; i++) {
    let status = input[pos] | (input[pos + 1] << 8);
    const length = input[pos + 2] | (input[pos + 3] << 8);
    pos += 4;
    const body = input.slice(pos, pos + length);
    pos += length;
    if (status < 200 || status > 599) status = 200 + (status % 400);
    answers.push({ status, body, cuts: splits(rng, body.length) });
  }
  // The script always ends: a 204 when it would not.
  const last = answers.at(-1);
  if (!last || last.status === 200 || last.status === 205 || last.status === 304) {
    answers.push({ status: 204, body: new Uint8Array(), cuts: [] });
  }
  return { binary, answers };
}

/** The answer as a Response whose body arrives in pieces cut at the answer's cut points. */
function response({ status, body, cuts }: Answer): Response {
  if (status === 204 || status === 205 || status === 304) return new Response(null, { status });
  const pieces = cut(body, cuts);
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = pieces.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(next);
    },
  });
  return new Response(stream, { status });
}

/** Known findings seen (printed by the runner). */
export const longPollingTarget: Target = {
  name: "long_polling",
  input(rng: Rng) {
    const format = rng.int(2);
    const source = format === 1 ? bodies.Binary : bodies.Text;
    const n = 1 + rng.int(4);
    const statuses = [rng.oneIn(10) ? rng.pick([204, ...ERRORS]) : 200];
    const chosen = [rng.oneIn(3) ? new Uint8Array() : rng.pick(source)];
    for (let i = 1; i < n; i++) {
      statuses.push(rng.oneIn(4) ? rng.pick([204, ...ERRORS]) : 200);
      chosen.push(rng.oneIn(5) ? new Uint8Array() : mutate(rng, rng.pick(source), source));
    }
    const input = encode(format, statuses, chosen);
    return rng.oneIn(4) ? mutate(rng, input, source) : input;
  },
  async run(input, rng) {
    const { binary, answers } = decodeScript(input, rng);
    let next = 0;
    const fetch = ((_url: RequestInfo | URL, init?: RequestInit) => {
      const method = init?.method ?? "GET";
      if (method !== "GET") return Promise.resolve(new Response(null, { status: 202 }));
      const answer = answers[next++];
      check(answer !== undefined, "polled again after the end");
      return Promise.resolve(response(answer));
    }) as typeof globalThis.fetch;
    const frames: (string | Uint8Array)[] = [];
    const closed = Promise.withResolvers<Error | undefined>();
    const connecting = longPollingTransport({ pollTimeout: 5_000 }).connect({
      url: "http://h/hub?id=t",
      transferFormat: binary ? "Binary" : "Text",
      headers: {},
      accessToken: undefined,
      receiver: { onFrame: (f) => frames.push(f), onClose: (e) => closed.resolve(e) },
      http: new HttpClient({ fetch, timeout: 5_000 }),
      signal: undefined,
      logger: quiet,
    });
    const first = answers[0];
    let transport;
    try {
      transport = await connecting;
    } catch (e) {
      check(first.status !== 200, `connect failed on a 200: ${e}`);
      check(
        first.status === 204
          ? e instanceof TransportClosedError
          : e instanceof HttpError && e.status === first.status,
        `connect failed with ${e} on a ${first.status}`,
      );
      return;
    }
    check(first.status === 200, `connected on a ${first.status}`);
    const error = await closed.promise;
    await transport.close(1_000);
    // Every 200 body up to the end, in order (in pieces as they arrived); nothing after it.
    const end = answers.findIndex((a) => a.status !== 200);
    const sent = answers.slice(0, end);
    if (binary) {
      const got = concat(frames as Uint8Array[]);
      const want = concat(sent.map((a) => a.body));
      check(
        got.length === want.length && got.every((b, i) => b === want[i]),
        "the frames differ from the 200 bodies",
      );
    } else {
      const got = (frames as string[]).join("");
      // One decoder for the connection, as the transport has: a character cut between two polls
      // is completed by the next, one left unfinished at the end is not delivered, and a U+FEFF
      // is data.
      const want = new TextDecoder("utf-8", { ignoreBOM: true }).decode(
        concat(sent.map((a) => a.body)),
        { stream: true },
      );
      check(
        got === want,
        `the frames ${JSON.stringify(got)} differ from the 200 bodies ${JSON.stringify(want)}`,
      );
    }
    check(frames.every((f) => f.length > 0), "an empty frame was delivered");
    const status = answers[end].status;
    check(
      status === 204
        ? error instanceof TransportClosedError
        : error instanceof HttpError && error.status === status,
      `ended with ${error} after a ${status}`,
    );
    // And the frames through the decoder: messages or a ProtocolError.
    const decoder = protocols[binary ? "Binary" : "Text"].createDecoder({
      maxMessageSize: 1 << 16,
      logger: quiet,
    });
    try {
      for (const f of frames) decoder.decode(f);
    } catch (e) {
      check(e instanceof ProtocolError, `the decoder threw ${e}, not a ProtocolError`);
    }
  },
};
