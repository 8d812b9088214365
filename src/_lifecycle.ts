// A hub connection's state and who hears of its changes: the lifecycle callbacks (onclose,
// onreconnecting, onreconnected, onstatechange, onsuspended, onresumed) and waitForState.
// HubConnection changes the state only through transition(), which delivers changes in order: a
// callback that changes the state again has its change delivered after the current one.
import { describe } from "./errors.ts";
import type { HubConnectionStateChange, WaitForStateOptions } from "./hub_connection.ts";
import { HubConnectionState } from "./hub_connection_state.ts";
import { type Logger, LogLevel } from "./logger.ts";

interface Notice {
  readonly change: HubConnectionStateChange;
  readonly connectionId: string | undefined;
}

/** The state machine's state and its listeners. */
export class Lifecycle {
  readonly #logger: Logger;
  #state: HubConnectionState = HubConnectionState.Disconnected;
  // Made by the first subscriber: an idle connection keeps no empty lists.
  #onclose: ((error?: Error) => void)[] | undefined;
  #onreconnecting: ((error?: Error) => void)[] | undefined;
  #onreconnected: ((connectionId?: string) => void)[] | undefined;
  #onsuspended: ((error: Error) => void)[] | undefined;
  #onresumed: (() => void)[] | undefined;
  #onstatechange: ((change: HubConnectionStateChange) => void)[] | undefined;
  #waiters: (() => void)[] | undefined;
  /** Notices not delivered yet: a callback that changes the state queues its own behind. */
  #notices: Notice[] | undefined;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  get state(): HubConnectionState {
    return this.#state;
  }

  /**
   * The one place the state changes (to another state than the current one); the callbacks fire
   * from here, in order. `connectionId` goes to onreconnected.
   */
  transition(state: HubConnectionState, error: Error | undefined, connectionId?: string): void {
    const previous = this.#state;
    this.#state = state;
    if (this.#waiters) { for (const waiter of this.#waiters.slice()) waiter(); }
    const notice: Notice = {
      change: error === undefined ? { previous, state } : { previous, state, error },
      connectionId,
    };
    if (this.#notices) {
      this.#notices.push(notice);
      return;
    }
    const notices = this.#notices = [notice];
    try {
      for (let i = 0; i < notices.length; i++) this.#notify(notices[i]);
    } finally {
      this.#notices = undefined;
    }
  }

  #notify({ change, connectionId }: Notice): void {
    const { previous, state, error } = change;
    for (const callback of this.#onstatechange?.slice() ?? []) {
      this.#call("onstatechange", () => callback(change));
    }
    if (state === HubConnectionState.Reconnecting) {
      for (const callback of this.#onreconnecting?.slice() ?? []) {
        this.#call("onreconnecting", () => callback(error));
      }
    } else if (
      state === HubConnectionState.Connected && previous === HubConnectionState.Reconnecting
    ) {
      for (const callback of this.#onreconnected?.slice() ?? []) {
        this.#call("onreconnected", () => callback(connectionId));
      }
    } else if (
      state === HubConnectionState.Disconnected && previous !== HubConnectionState.Connecting
    ) {
      this.#logger.log(LogLevel.Information, "HubConnection stopped.");
      for (const callback of this.#onclose?.slice() ?? []) {
        this.#call("onclose", () => callback(error));
      }
    }
  }

  /** Stateful reconnect: the transport dropped; the state stays Connected. */
  suspended(error: Error): void {
    for (const callback of this.#onsuspended?.slice() ?? []) {
      this.#call("onsuspended", () => callback(error));
    }
  }

  /** Stateful reconnect: reattached. */
  resumed(): void {
    for (const callback of this.#onresumed?.slice() ?? []) {
      this.#call("onresumed", () => callback());
    }
  }

  #call(name: string, call: () => void): void {
    try {
      call();
    } catch (error) {
      this.#logger.log(LogLevel.Error, `An ${name} callback threw: ${describe(error)}`);
    }
  }

  onclose(callback: (error?: Error) => void): () => void {
    return subscribe(this.#onclose ??= [], callback);
  }

  onreconnecting(callback: (error?: Error) => void): () => void {
    return subscribe(this.#onreconnecting ??= [], callback);
  }

  onreconnected(callback: (connectionId?: string) => void): () => void {
    return subscribe(this.#onreconnected ??= [], callback);
  }

  onsuspended(callback: (error: Error) => void): () => void {
    return subscribe(this.#onsuspended ??= [], callback);
  }

  onresumed(callback: () => void): () => void {
    return subscribe(this.#onresumed ??= [], callback);
  }

  onstatechange(callback: (change: HubConnectionStateChange) => void): () => void {
    return subscribe(this.#onstatechange ??= [], callback);
  }

  /** Resolves when the state is `state` (at once if it is); `options` can end the wait. */
  waitForState(state: HubConnectionState, options?: WaitForStateOptions): Promise<void> {
    if (this.#state === state) return Promise.resolve();
    const { signal, timeout } = options ?? {};
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = () => {
      unsubscribe();
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      done();
      reject(signal!.reason);
    };
    // Registered apart from the user's callbacks: it must see the state at once, not when the
    // queue of notices reaches it.
    const unsubscribe = subscribe(this.#waiters ??= [], () => {
      if (this.#state !== state) return;
      done();
      resolve();
    });
    signal?.addEventListener("abort", onAbort, { once: true });
    if (timeout !== undefined) {
      timer = setTimeout(() => {
        done();
        reject(
          new DOMException(
            `The connection did not reach ${state} within ${timeout} ms (it is ${this.#state}).`,
            "TimeoutError",
          ),
        );
      }, timeout);
    }
    return promise;
  }
}

function subscribe<T>(list: T[], callback: T): () => void {
  if (typeof callback !== "function") throw new TypeError("The callback must be a function.");
  list.push(callback);
  return () => {
    const index = list.indexOf(callback);
    if (index !== -1) list.splice(index, 1);
  };
}
