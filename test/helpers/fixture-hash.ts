/**
 * The integer hash the whole-AlexNet PyTorch fixtures fill weights and inputs with
 * (test/pytorch/make_alexnet_fixture.py computes the same numbers in numpy), so no weight file is
 * committed: element j of tensor k is scale · (2·h/2³² − 1) with
 * h = mix((j+1)·2654435761 + (k+1)·2246822519 mod 2³²). Test helper only.
 */

/** Fills `t.data` (float32) with tensor `k`'s values at `scale`, bit for bit as the fixture script. */
export function fillFixtureHash(t: { size: number; data: Float32Array }, k: number, scale: number): void {
  const kk = Math.imul(k + 1, 2246822519);
  for (let j = 0; j < t.size; j++) {
    let h = (Math.imul(j + 1, 2654435761) + kk) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
    h = Math.imul(h, 2246822519) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    t.data[j] = scale * ((h / 4294967296) * 2 - 1);
  }
}
