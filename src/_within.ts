// A bounded wait, for closes: whatever the peer does, the caller goes on after `ms`.

/** Waits for `promise` (its rejection is ignored), or `ms`, whichever is first. */
export async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    promise.catch(() => {}),
    new Promise<void>((resolve) => timer = setTimeout(resolve, ms)),
  ]);
  clearTimeout(timer);
}
