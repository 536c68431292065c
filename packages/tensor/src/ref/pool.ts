/** Reference pooling (max, average, adaptive average), PyTorch's window and divisor rules. */
import { adaptiveEnd, adaptiveStart, type Pool2dInfo } from '../geometry.js';
import type { KernelImpl } from '../kernels.js';

type Arr = Float32Array | Float64Array;

/** Index (into one [h, w] plane) of the first maximum of output (oy, ox)'s window; NaN wins, as in PyTorch. */
export function maxWindowArgmax(x: Arr, base: number, g: Pool2dInfo, oy: number, ox: number): number {
  const y0 = Math.max(oy * g.sh - g.ph, 0), y1 = Math.min(oy * g.sh - g.ph + g.kh, g.h);
  const x0 = Math.max(ox * g.sw - g.pw, 0), x1 = Math.min(ox * g.sw - g.pw + g.kw, g.w);
  let best = -Infinity, arg = y0 * g.w + x0;
  for (let iy = y0; iy < y1; iy++)
    for (let ix = x0; ix < x1; ix++) {
      const v = x[base + iy * g.w + ix];
      if (v > best || Number.isNaN(v)) {
        best = v;
        arg = iy * g.w + ix;
        if (Number.isNaN(v)) return arg;
      }
    }
  return arg;
}

export function maxPoolCore(x: Arr, y: Arr, g: Pool2dInfo): void {
  const plane = g.h * g.w;
  for (let p = 0; p < g.n * g.c; p++)
    for (let oy = 0; oy < g.oh; oy++)
      for (let ox = 0; ox < g.ow; ox++)
        y[(p * g.oh + oy) * g.ow + ox] = x[p * plane + maxWindowArgmax(x, p * plane, g, oy, ox)];
}

export function maxPoolBackwardCore(x: Arr, dy: Arr, dx: Arr, g: Pool2dInfo): void {
  const plane = g.h * g.w;
  const acc = new Float64Array(plane);
  for (let p = 0; p < g.n * g.c; p++) {
    acc.fill(0);
    for (let oy = 0; oy < g.oh; oy++)
      for (let ox = 0; ox < g.ow; ox++) acc[maxWindowArgmax(x, p * plane, g, oy, ox)] += dy[(p * g.oh + oy) * g.ow + ox];
    for (let i = 0; i < plane; i++) dx[p * plane + i] = acc[i];
  }
}

/** The clipped window of output (oy, ox) and its divisor. */
function avgWindow(g: Pool2dInfo, countIncludePad: boolean, oy: number, ox: number) {
  let y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
  let y1 = Math.min(y0 + g.kh, g.h + g.ph), x1 = Math.min(x0 + g.kw, g.w + g.pw);
  const padded = (y1 - y0) * (x1 - x0);
  y0 = Math.max(y0, 0); x0 = Math.max(x0, 0);
  y1 = Math.min(y1, g.h); x1 = Math.min(x1, g.w);
  return { y0, y1, x0, x1, divisor: countIncludePad ? padded : (y1 - y0) * (x1 - x0) };
}

export function avgPoolCore(x: Arr, y: Arr, g: Pool2dInfo, countIncludePad: boolean): void {
  const plane = g.h * g.w;
  for (let p = 0; p < g.n * g.c; p++)
    for (let oy = 0; oy < g.oh; oy++)
      for (let ox = 0; ox < g.ow; ox++) {
        const win = avgWindow(g, countIncludePad, oy, ox);
        let acc = 0;
        for (let iy = win.y0; iy < win.y1; iy++) for (let ix = win.x0; ix < win.x1; ix++) acc += x[p * plane + iy * g.w + ix];
        y[(p * g.oh + oy) * g.ow + ox] = acc / win.divisor;
      }
}

export function avgPoolBackwardCore(dy: Arr, dx: Arr, g: Pool2dInfo, countIncludePad: boolean): void {
  const plane = g.h * g.w;
  const acc = new Float64Array(plane);
  for (let p = 0; p < g.n * g.c; p++) {
    acc.fill(0);
    for (let oy = 0; oy < g.oh; oy++)
      for (let ox = 0; ox < g.ow; ox++) {
        const win = avgWindow(g, countIncludePad, oy, ox);
        const d = dy[(p * g.oh + oy) * g.ow + ox] / win.divisor;
        for (let iy = win.y0; iy < win.y1; iy++) for (let ix = win.x0; ix < win.x1; ix++) acc[iy * g.w + ix] += d;
      }
    for (let i = 0; i < plane; i++) dx[p * plane + i] = acc[i];
  }
}

export function adaptiveAvgPoolCore(x: Arr, y: Arr, g: Pool2dInfo): void {
  const plane = g.h * g.w;
  for (let p = 0; p < g.n * g.c; p++)
    for (let oy = 0; oy < g.oh; oy++) {
      const y0 = adaptiveStart(oy, g.oh, g.h), y1 = adaptiveEnd(oy, g.oh, g.h);
      for (let ox = 0; ox < g.ow; ox++) {
        const x0 = adaptiveStart(ox, g.ow, g.w), x1 = adaptiveEnd(ox, g.ow, g.w);
        let acc = 0;
        for (let iy = y0; iy < y1; iy++) for (let ix = x0; ix < x1; ix++) acc += x[p * plane + iy * g.w + ix];
        y[(p * g.oh + oy) * g.ow + ox] = acc / ((y1 - y0) * (x1 - x0));
      }
    }
}

export function adaptiveAvgPoolBackwardCore(dy: Arr, dx: Arr, g: Pool2dInfo): void {
  const plane = g.h * g.w;
  const acc = new Float64Array(plane);
  for (let p = 0; p < g.n * g.c; p++) {
    acc.fill(0);
    for (let oy = 0; oy < g.oh; oy++) {
      const y0 = adaptiveStart(oy, g.oh, g.h), y1 = adaptiveEnd(oy, g.oh, g.h);
      for (let ox = 0; ox < g.ow; ox++) {
        const x0 = adaptiveStart(ox, g.ow, g.w), x1 = adaptiveEnd(ox, g.ow, g.w);
        const d = dy[(p * g.oh + oy) * g.ow + ox] / ((y1 - y0) * (x1 - x0));
        for (let iy = y0; iy < y1; iy++) for (let ix = x0; ix < x1; ix++) acc[iy * g.w + ix] += d;
      }
    }
    for (let i = 0; i < plane; i++) dx[p * plane + i] = acc[i];
  }
}

export const maxPool2d: KernelImpl<'maxPool2d'> = ({ x }, g, { y }) => maxPoolCore(x.data, y.data, g);
export const maxPool2dBackward: KernelImpl<'maxPool2dBackward'> = ({ x, dy }, g, { dx }) => maxPoolBackwardCore(x.data, dy.data, dx.data, g);
export const avgPool2d: KernelImpl<'avgPool2d'> = ({ x }, g, { y }) => avgPoolCore(x.data, y.data, g, g.countIncludePad);
export const avgPool2dBackward: KernelImpl<'avgPool2dBackward'> = ({ dy }, g, { dx }) => avgPoolBackwardCore(dy.data, dx.data, g, g.countIncludePad);
export const adaptiveAvgPool2d: KernelImpl<'adaptiveAvgPool2d'> = ({ x }, g, { y }) => adaptiveAvgPoolCore(x.data, y.data, g);
export const adaptiveAvgPool2dBackward: KernelImpl<'adaptiveAvgPool2dBackward'> = ({ dy }, g, { dx }) => adaptiveAvgPoolBackwardCore(dy.data, dx.data, g);
