// Fake fetches for the tests of negotiate and the HTTP client: one that answers each request
// with what the test says, and one that never answers.

/** One request the fake saw. */
export interface Call {
  url: string;
  init: RequestInit;
}

/** A fetch that records each request and answers it with `answer`. */
export function fakeFetch(answer: (call: Call, index: number) => Response | Promise<Response>) {
  const calls: Call[] = [];
  const fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    const call = { url: String(input), init: init ?? {} };
    calls.push(call);
    return Promise.resolve(answer(call, calls.length - 1));
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

/** A fetch whose response never comes; it rejects with the signal's reason, like fetch. */
export function hangingFetch() {
  const seen: AbortSignal[] = [];
  const fetch = ((_input: RequestInfo | URL, init?: RequestInit) => {
    const signal = init!.signal!;
    seen.push(signal);
    return new Promise<Response>((_, reject) => {
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
  }) as typeof globalThis.fetch;
  return { fetch, seen };
}
