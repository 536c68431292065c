/**
 * PCA colour lighting (Krizhevsky et al. 2012, §4.1): to each RGB pixel add
 *   [p1 p2 p3] · [α1 λ1, α2 λ2, α3 λ3]ᵀ,  αj ~ N(0, σ²) drawn once per image (σ = 0.1),
 * where pj, λj are the eigenvectors and eigenvalues of the 3×3 covariance of RGB pixel values over the
 * training set.
 *
 * Units: the formula multiplies by λ (not √λ), so it depends on the scale the covariance was taken in.
 * We follow the widespread convention (fb.resnet.torch and its PyTorch ports): the covariance is of pixel
 * values scaled to [0, 1]; the shift is computed in those units and multiplied by `valueScale` (255) to
 * become a shift of byte values. ImageNet's eigenvalues in these units are about [0.2175, 0.0188, 0.0045].
 */

import { AugmentError } from './image.js';

export interface Pca {
  /** Eigenvalues, largest first. */
  eigvals: number[];
  /** eigvecs[j] is the unit eigenvector for eigvals[j] (a row per eigenvector; its entries are R, G, B). */
  eigvecs: number[][];
}

export interface LightingOptions extends Pca {
  /** σ of the αj (the paper: 0.1). */
  std?: number;
  /** Multiplies the shift (computed in the covariance's units) to get byte units: 255 when eigvals are of [0,1] values. */
  valueScale?: number;
}

/** The per-channel shift for one image given its α: delta[c] = valueScale · Σj eigvecs[j][c] · αj · λj. */
export function lightingDelta(alpha: ArrayLike<number>, pca: Pca, valueScale = 255, out: Float64Array = new Float64Array(pca.eigvals.length)): Float64Array {
  const n = pca.eigvals.length;
  for (let c = 0; c < n; c++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += pca.eigvecs[j][c] * alpha[j] * pca.eigvals[j];
    out[c] = s * valueScale;
  }
  return out;
}

export function checkPca(p: Pca, channels: number, what = 'lighting'): void {
  if (!p || !Array.isArray(p.eigvals) || !Array.isArray(p.eigvecs))
    throw new AugmentError(`${what}: expected { eigvals: number[], eigvecs: number[][] }`);
  if (p.eigvals.length !== channels || p.eigvecs.length !== channels || p.eigvecs.some((v) => !v || v.length !== channels))
    throw new AugmentError(`${what}: expected ${channels} eigenvalues and ${channels} eigenvectors of length ${channels}, got ${p.eigvals.length} and [${p.eigvecs.map((v) => v?.length).join(', ')}]`);
  if (![...p.eigvals, ...p.eigvecs.flat()].every(Number.isFinite)) throw new AugmentError(`${what}: eigenvalues/eigenvectors must be finite numbers`);
}

/**
 * Eigen-decomposition of a small symmetric matrix (cyclic Jacobi, float64). Returns eigenvalues sorted
 * largest first and unit eigenvectors as rows, each with its largest-magnitude entry made positive (so the
 * result is unique up to equal eigenvalues).
 */
export function eigSymmetric(m: ArrayLike<number>[]): Pca {
  const n = m.length;
  const a = m.map((r) => Float64Array.from(r));
  for (let i = 0; i < n; i++) {
    if (a[i].length !== n) throw new AugmentError(`eigSymmetric: expected a square matrix, row ${i} has ${a[i].length} entries`);
    for (let j = 0; j < n; j++) if (!Number.isFinite(a[i][j])) throw new AugmentError('eigSymmetric: matrix has a non-finite entry');
  }
  const v = Array.from({ length: n }, (_, i) => { const r = new Float64Array(n); r[i] = 1; return r; });
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p][q] * a[p][q];
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j][j] - a[i][i]);
  const eigvals = order.map((i) => a[i][i]);
  const eigvecs = order.map((i) => {
    const col = Array.from({ length: n }, (_, k) => v[k][i]);
    let big = 0;
    for (let k = 1; k < n; k++) if (Math.abs(col[k]) > Math.abs(col[big])) big = k;
    return col[big] < 0 ? col.map((x) => -x) : col;
  });
  return { eigvals, eigvecs };
}
