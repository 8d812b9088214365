// Checking timer options: a duration must be a positive number of ms.

/** Returns `value`, or throws a TypeError naming the option. */
export function positive(value: number, name: string): number {
  if (typeof value !== "number" || !(value > 0)) {
    throw new TypeError(`${name} must be a positive number of ms; got ${value}.`);
  }
  return value;
}
