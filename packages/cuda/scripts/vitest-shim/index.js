// expect() with the matchers @convnet/tensor/testing's conformance cases use; describe/it throw (the device
// check runs the cases itself). Only in the device-check bundle.
import { deepStrictEqual } from 'node:assert';

const fmt = (v) => { try { return JSON.stringify(v)?.slice(0, 200); } catch { return String(v); } };

export function expect(actual, message) {
  const fail = (what) => { throw new Error(`${message ? `${message}: ` : ''}expected ${fmt(actual)} ${what}`); };
  const m = {
    toEqual(want) {
      try { deepStrictEqual(actual, want); } catch { fail(`to equal ${fmt(want)}`); }
    },
    toStrictEqual(want) { m.toEqual(want); },
    toBe(want) { if (!Object.is(actual, want)) fail(`to be ${fmt(want)}`); },
    toBeCloseTo(want, digits = 2) { if (!(Math.abs(actual - want) < 10 ** -digits / 2)) fail(`to be close to ${want} (${digits} digits)`); },
    toBeLessThan(b) { if (!(actual < b)) fail(`to be < ${b}`); },
    toBeLessThanOrEqual(b) { if (!(actual <= b)) fail(`to be <= ${b}`); },
    toBeGreaterThan(b) { if (!(actual > b)) fail(`to be > ${b}`); },
    toBeGreaterThanOrEqual(b) { if (!(actual >= b)) fail(`to be >= ${b}`); },
    toBeTruthy() { if (!actual) fail('to be truthy'); },
    toThrow(re) {
      try { actual(); } catch (e) { if (re && !String(e.message).match(re)) fail(`to throw ${re}, threw ${e.message}`); return; }
      fail('to throw');
    },
  };
  return m;
}
const unsupported = (name) => () => { throw new Error(`vitest shim: ${name} is not available in the device-check bundle`); };
export const describe = unsupported('describe');
export const it = unsupported('it');
