// The device kernels, as launches on a stream. Two implementations share this interface and the thread
// bodies in kernels/*.h and native/include/convnet/kernels/*.h:
//   src/*.cu                — CUDA kernels (the `cuda` addon, built by nvcc),
//   src/host/emulate.cpp    — the same bodies run by plain loops over blocks and threads on the CPU
//                             (the `cuda-host` addon: what the tests here run, since this machine has no GPU).
// Every pointer is device memory (host memory in the emulator) that the caller (the TypeScript backend)
// sized from validated shapes. Layouts: activations NCHW, weights OIHW, matrices row-major.
#pragma once
#include <cstddef>
#include <cstdint>

#include "convnet/kernels/augment.h"
#include "convnet/kernels/elementwise.h"
#include "convnet/kernels/geometry.h"
#include "convnet/kernels/lrn.h"
#include "convnet/kernels/optim.h"
#include "kernels/elementwise.h"
#include "kernels/sgemm.h"

namespace convnet::cuda {

using Stream = void*;  // cudaStream_t (null: the default stream); unused by the emulator

void sgemm(Stream s, const SgemmArgs& a);
// col [images, C·kh·kw, oh·ow] from x [images, C, h, w]
void im2col(Stream s, const ConvGeom& g, int64_t images, const float* x, float* col);
// dx [images, C, h, w] (overwritten) from dcol [images, C·kh·kw, oh·ow]
void col2im(Stream s, const ConvGeom& g, int64_t images, const float* col, float* dx);
// dst[i] = Σ_s partials[s·len + i] over s = 0..splits−1 in order (+ dst[i] afterwards when accumulate): the
// deterministic second half of a split-K product
void sum_partials(Stream s, int64_t len, int64_t splits, const float* partials, float* dst, bool accumulate);
// y[n, c, i] = x[n, c, i] + b[c] (y may be x)
void bias_add(Stream s, int64_t n, int64_t c, int64_t inner, const float* x, const float* b, float* y);
// db[c] = Σ dy[n, c, i]
void bias_grad(Stream s, int64_t n, int64_t c, int64_t inner, const float* dy, float* db);

// kind: 0 max forward, 1 max backward (x, dy → dx), 2 avg forward, 3 avg backward (dy → dx),
//       4 adaptive avg forward, 5 adaptive avg backward. `a` is x (or dy for 3 and 5), `b` is dy for 1.
void pool(Stream s, int kind, const PoolGeom& g, bool count_include_pad, const float* a, const float* b, float* out);

void lrn_forward(Stream s, int64_t n, int64_t c, int64_t plane, const LrnParams& p, const float* x, float* y,
                 float* scale);
void lrn_backward(Stream s, int64_t n, int64_t c, int64_t plane, const LrnParams& p, const float* x, const float* y,
                  const float* scale, const float* dy, float* dx);

void activation_forward(Stream s, Activation fn, int64_t len, const float* x, float* y);
void activation_backward(Stream s, Activation fn, int64_t len, const float* x, const float* y, const float* dy,
                         float* dx);
void dropout_forward(Stream s, int64_t len, uint64_t seed, uint32_t stream, uint64_t offset, uint32_t keep_threshold,
                     float scale, const float* x, float* y, float* mask);
void binary(Stream s, BinaryOp op, int64_t len, const float* a, const float* b, float* y);
void scale(Stream s, int64_t len, float alpha, const float* x, float* y);
void axpy(Stream s, int64_t len, float alpha, const float* x, float* y);

void softmax(Stream s, int64_t n, int64_t classes, const float* x, float* y);
// Per-row loss and rank into ws (softmax_xent_workspace bytes), then out[0] = mean loss, out[1] = top-1
// hits, out[2] = top-k hits (float64, summed in row order).
size_t softmax_xent_workspace(int64_t n);
void softmax_xent(Stream s, int64_t n, int64_t classes, int64_t topk, const float* logits, const int32_t* labels,
                  float* dlogits, void* ws, double* out);

void sgd_update(Stream s, int64_t len, const SgdParams& p, float* w, float* v, const float* g);
// One Adam/AdamW step in place on w, m, v (kernels/optim.h).
void adam_update(Stream s, int64_t len, const AdamParams& p, float* w, float* m, float* v, const float* g);
// dx [n, classes] = y ⊙ (dy − Σ_row dy ⊙ y) (one thread per row).
void softmax_backward(Stream s, int64_t n, int64_t classes, const float* y, const float* dy, float* dx);

// out[0] = Σ x, out[1] = Σ x² (float64); ws: sum_squares_workspace() bytes.
size_t sum_squares_workspace();
void sum_and_squares(Stream s, int64_t len, const float* x, void* ws, double* out);

// float32 batch [n, c, oh, ow] from uint8 images [n, h, w, c] (kernels/augment.h).
void augment(Stream s, const AugmentGeom& g, const AugmentSample& smp, const AugmentNorm& nm, const uint8_t* images,
             float* out);

// Convolution = im2col + GEMM per group (conv.cpp, shared by both builds). The workspace ws holds the weight
// gradient's split-K partials (conv_weight_splits(g) × o/groups × K/groups floats) and then the column buffer,
// conv_workspace_images(g, ws_bytes) images at a time (at least one: conv_workspace_bytes(g, 1)).
int64_t conv_weight_splits(const ConvGeom& g);
size_t conv_workspace_bytes(const ConvGeom& g, int64_t images);
int64_t conv_workspace_images(const ConvGeom& g, size_t ws_bytes);
void conv2d_forward(Stream s, const ConvGeom& g, const float* x, const float* w, const float* b, float* y, void* ws,
                    size_t ws_bytes);
void conv2d_backward_input(Stream s, const ConvGeom& g, const float* dy, const float* w, float* dx, void* ws,
                           size_t ws_bytes);
void conv2d_backward_weight(Stream s, const ConvGeom& g, const float* x, const float* dy, float* dw, void* ws,
                            size_t ws_bytes);

}  // namespace convnet::cuda
