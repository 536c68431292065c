/**
 * Reference convolution (cross-correlation, as PyTorch): direct loops, float64 accumulation.
 * x [n,c,h,w], w [o,c/groups,kh,kw], b [o], y [n,o,oh,ow]; output channel oc reads input channels of group
 * ⌊oc / (o/groups)⌋. Taps outside the input (padding, or past the bottom/right edge under the ceil size
 * rule) read zero.
 */
import type { Conv2dInfo } from '../geometry.js';
import type { KernelImpl } from '../kernels.js';

type Arr = Float32Array | Float64Array;

export function conv2dCore(x: Arr, w: Arr, b: Arr | null, y: Arr, g: Conv2dInfo): void {
  const { n, c, h, w: W, o, kh, kw, sh, sw, ph, pw, groups, oh, ow } = g;
  const cg = c / groups, og = o / groups;
  for (let ni = 0; ni < n; ni++) {
    for (let oc = 0; oc < o; oc++) {
      const gi = Math.floor(oc / og);
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let acc = b ? b[oc] : 0;
          for (let ic = 0; ic < cg; ic++) {
            const xc = gi * cg + ic;
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * sh - ph + ky;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * sw - pw + kx;
                if (ix < 0 || ix >= W) continue;
                acc += x[((ni * c + xc) * h + iy) * W + ix] * w[((oc * cg + ic) * kh + ky) * kw + kx];
              }
            }
          }
          y[((ni * o + oc) * oh + oy) * ow + ox] = acc;
        }
      }
    }
  }
}

/** dx = Σ over outputs that read x of dy · w (a scatter, accumulated in float64). */
export function conv2dBackwardInputCore(dy: Arr, w: Arr, dx: Arr, g: Conv2dInfo): void {
  const { n, c, h, w: W, o, kh, kw, sh, sw, ph, pw, groups, oh, ow } = g;
  const cg = c / groups, og = o / groups;
  const acc = new Float64Array(c * h * W);
  for (let ni = 0; ni < n; ni++) {
    acc.fill(0);
    for (let oc = 0; oc < o; oc++) {
      const gi = Math.floor(oc / og);
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const d = dy[((ni * o + oc) * oh + oy) * ow + ox];
          for (let ic = 0; ic < cg; ic++) {
            const xc = gi * cg + ic;
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * sh - ph + ky;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * sw - pw + kx;
                if (ix < 0 || ix >= W) continue;
                acc[(xc * h + iy) * W + ix] += d * w[((oc * cg + ic) * kh + ky) * kw + kx];
              }
            }
          }
        }
      }
    }
    const base = ni * c * h * W;
    for (let i = 0; i < acc.length; i++) dx[base + i] = acc[i];
  }
}

/** dw[oc, ic, ky, kx] = Σ_{n, oy, ox} dy · x at the tap. */
export function conv2dBackwardWeightCore(x: Arr, dy: Arr, dw: Arr, g: Conv2dInfo): void {
  const { n, c, h, w: W, o, kh, kw, sh, sw, ph, pw, groups, oh, ow } = g;
  const cg = c / groups, og = o / groups;
  for (let oc = 0; oc < o; oc++) {
    const gi = Math.floor(oc / og);
    for (let ic = 0; ic < cg; ic++) {
      const xc = gi * cg + ic;
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) {
          let acc = 0;
          for (let ni = 0; ni < n; ni++) {
            for (let oy = 0; oy < oh; oy++) {
              const iy = oy * sh - ph + ky;
              if (iy < 0 || iy >= h) continue;
              for (let ox = 0; ox < ow; ox++) {
                const ix = ox * sw - pw + kx;
                if (ix < 0 || ix >= W) continue;
                acc += dy[((ni * o + oc) * oh + oy) * ow + ox] * x[((ni * c + xc) * h + iy) * W + ix];
              }
            }
          }
          dw[((oc * cg + ic) * kh + ky) * kw + kx] = acc;
        }
      }
    }
  }
}

/** db[c] = Σ dy over every axis but 1. dy: [n, c, inner]. */
export function biasGradCore(dy: Arr, db: Arr, n: number, c: number, inner: number): void {
  for (let ci = 0; ci < c; ci++) {
    let acc = 0;
    for (let ni = 0; ni < n; ni++) {
      const base = (ni * c + ci) * inner;
      for (let i = 0; i < inner; i++) acc += dy[base + i];
    }
    db[ci] = acc;
  }
}

export function biasAddCore(x: Arr, b: Arr, y: Arr, n: number, c: number, inner: number): void {
  for (let ni = 0; ni < n; ni++)
    for (let ci = 0; ci < c; ci++) {
      const base = (ni * c + ci) * inner, bv = b[ci];
      for (let i = 0; i < inner; i++) y[base + i] = x[base + i] + bv;
    }
}

const innerOf = (shape: readonly number[]) => shape.slice(2).reduce((a, d) => a * d, 1);

export const conv2d: KernelImpl<'conv2d'> = ({ x, w, b }, g, { y }) => conv2dCore(x.data, w.data, b ? b.data : null, y.data, g);
export const conv2dBackwardInput: KernelImpl<'conv2dBackwardInput'> = ({ dy, w }, g, { dx }) => conv2dBackwardInputCore(dy.data, w.data, dx.data, g);
export const conv2dBackwardWeight: KernelImpl<'conv2dBackwardWeight'> = ({ x, dy }, g, { dw }) => conv2dBackwardWeightCore(x.data, dy.data, dw.data, g);
export const conv2dBackwardBias: KernelImpl<'conv2dBackwardBias'> = ({ dy }, _a, { db }) =>
  biasGradCore(dy.data, db.data, dy.shape[0], dy.shape[1], innerOf(dy.shape));
export const biasAdd: KernelImpl<'biasAdd'> = ({ x, b }, _a, { y }) =>
  biasAddCore(x.data, b.data, y.data, x.shape[0], x.shape[1], innerOf(x.shape));
