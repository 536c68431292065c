/**
 * The fuzz loop the file readers' tests share (the .pth reader in packages/layers, the image, IDX, CIFAR, label and
 * pack readers in packages/imagenet): seeded mutations of a valid input, and the check that a reader either returns
 * or throws the error it is meant to throw, with a one-line message. Test helper only; not part of any package.
 */

/** What the mutations draw from: @convnet/tensor's Rng (seeded, so a failure is reproducible). */
export interface FuzzRng {
  int(n: number): number;
  words(n: number): ArrayLike<number>;
}

/** `n` random bytes. */
export function randomBytes(rng: FuzzRng, n: number): Uint8Array {
  return Uint8Array.from(rng.words(n), (w) => w & 255);
}

/**
 * The empty input, then `count` mutations of `valid` in turn: a truncation at a random length, 1 to 5 random
 * byte changes, random bytes of up to twice the length. `valid` is copied first (never changed).
 */
export function fuzzVariants(validIn: Uint8Array, count: number, rng: FuzzRng): Uint8Array[] {
  const valid = Uint8Array.from(validIn);
  const out: Uint8Array[] = [new Uint8Array(0)];
  for (let k = 0; k < count; k++) {
    const mode = k % 3;
    if (mode === 0) out.push(valid.slice(0, rng.int(valid.length + 1)));
    else if (mode === 1) {
      const b = valid.slice();
      if (b.length) for (let f = 0; f <= rng.int(4); f++) b[rng.int(b.length)] = rng.int(256);
      out.push(b);
    } else out.push(randomBytes(rng, rng.int(2 * valid.length + 8)));
  }
  return out;
}

function check(e: unknown, expected: (e: Error) => boolean): void {
  if (!(e instanceof Error) || !expected(e)) throw new Error(`fuzz: not the reader's own error: ${(e as Error)?.stack ?? String(e)}`);
  if (e.message.length < 6 || e.message.includes('\n')) throw new Error(`fuzz: the message is not one informative line: ${JSON.stringify(e.message)}`);
}

/** Runs `f`: a result is fine; an error must satisfy `expected` and be one informative line, else this throws. */
export function expectCleanly(f: () => unknown, expected: (e: Error) => boolean): void {
  try {
    f();
  } catch (e) {
    check(e, expected);
  }
}

/** expectCleanly for an async reader. */
export async function expectCleanlyAsync(f: () => Promise<unknown>, expected: (e: Error) => boolean): Promise<void> {
  try {
    await f();
  } catch (e) {
    check(e, expected);
  }
}
