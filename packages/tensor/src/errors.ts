/** An argument error from an op or kernel: names the op, the argument, what was expected and what came. */
export class OpError extends Error {
  constructor(
    readonly op: string,
    readonly argument: string,
    readonly expected: string,
    readonly got: string,
  ) {
    super(`${op}: argument '${argument}': expected ${expected}, got ${got}`);
    this.name = 'OpError';
  }
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
