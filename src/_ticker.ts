// One timer for every connection of the process. Keep-alive and server-timeout checks run a
// few times per interval on each connection; with a timer per connection, an idle connection
// paid about half a kilobyte of heap for it (a runtime timer object, its callback records and
// promise). Here it costs one entry, and the timer exists only while some connection is live,
// so nothing keeps the process alive or leaks once every connection stopped.

/** A periodic callback registered with the shared timer. */
export interface Ticking {
  /** When it is due next (performance.now() time). */
  due: number;
  readonly step: number;
  tick(): void;
}

const members = new Set<Ticking>();
let timer: ReturnType<typeof setTimeout> | undefined;
let timerDue = Infinity;
let firing = false;

/**
 * Whether the timer was set from its own callback. Chrome runs such chains of timers at most
 * once a minute in a tab hidden for five minutes (intensive wake-up throttling), which would
 * hold back keep-alive pings until the server drops the connection; a timer set from a network
 * event starts no chain. The receive path calls {@linkcode rearmFromEvent} while this is true.
 */
export let chained = false;

/** Sets the pending timer again, from the current (network) event: the chain starts over. */
export function rearmFromEvent(): void {
  if (timer !== undefined) arm(timerDue);
  else chained = false;
}

/** Calls `tick` every `step` ms (at the earliest) until {@linkcode stopTicking}. */
export function startTicking(step: number, tick: () => void): Ticking {
  return addTicking({ due: 0, step, tick });
}

/**
 * Calls `member.tick()` every `member.step` ms (at the earliest) until
 * {@linkcode stopTicking}. An object that is its own member costs no closure.
 */
export function addTicking<T extends Ticking>(member: T): T {
  member.due = performance.now() + member.step;
  members.add(member);
  if (member.due < timerDue) arm(member.due);
  return member;
}

/** Stops the callback; the shared timer goes away with its last member. */
export function stopTicking(member: Ticking | undefined): void {
  if (member === undefined || !members.delete(member)) return;
  if (members.size === 0) {
    clearTimeout(timer);
    timer = undefined;
    timerDue = Infinity;
    chained = false;
  }
}

function arm(due: number): void {
  clearTimeout(timer);
  timerDue = due;
  timer = setTimeout(fire, Math.max(0, due - performance.now()));
  chained = firing;
}

function fire(): void {
  timer = undefined;
  timerDue = Infinity;
  firing = true;
  // A timer may fire a little early; what is due within a millisecond runs now.
  const now = performance.now() + 1;
  try {
    for (const member of members) {
      if (member.due > now) continue;
      member.due = now + member.step;
      // A tick may stop its own or other members (a failing connection): Set iteration
      // allows it.
      member.tick();
    }
  } finally {
    let next = Infinity;
    for (const member of members) if (member.due < next) next = member.due;
    if (next !== Infinity && next < timerDue) arm(next);
    firing = false;
  }
}
