// CPU kernels (src/cpu/*.cpp). Every pointer is a preallocated, correctly sized buffer (the binding has
// checked the sizes); layouts: activations NCHW, weights OIHW (groups: [o, c/groups, kh, kw]).
#pragma once
#include <cstdint>

#include "convnet/kernels/conv.h"
#include "convnet/kernels/dropout.h"
#include "convnet/kernels/elementwise.h"
#include "convnet/kernels/geometry.h"
#include "convnet/kernels/lrn.h"
#include "convnet/kernels/optim.h"

namespace convnet {

// y [n,o,oh,ow] = conv(x [n,c,h,w], w) + b (b may be null)
void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y);
// dx [n,c,h,w] from dy [n,o,oh,ow] and w
void conv2d_backward_input(const ConvGeom& g, const float* dy, const float* w, float* dx);
// dw [o,c/g,kh,kw] (overwritten) from x and dy
void conv2d_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw);
// db[c] = Σ dy[n, c, i] over n and i < inner
void bias_grad(int64_t n, int64_t c, int64_t inner, const float* dy, float* db);
// y[n, c, i] = x[n, c, i] + b[c]  (y may be x)
void bias_add(int64_t n, int64_t c, int64_t inner, const float* x, const float* b, float* y);

void max_pool_forward(const PoolGeom& g, const float* x, float* y);
void max_pool_backward(const PoolGeom& g, const float* x, const float* dy, float* dx);
void avg_pool_forward(const PoolGeom& g, bool count_include_pad, const float* x, float* y);
void avg_pool_backward(const PoolGeom& g, bool count_include_pad, const float* dy, float* dx);
void adaptive_avg_pool_forward(const PoolGeom& g, const float* x, float* y);
void adaptive_avg_pool_backward(const PoolGeom& g, const float* dy, float* dx);

void lrn_forward(int64_t n, int64_t c, int64_t plane, const LrnParams& p, const float* x, float* y, float* scale);
void lrn_backward(int64_t n, int64_t c, int64_t plane, const LrnParams& p, const float* x, const float* y,
                  const float* scale, const float* dy, float* dx);

void activation_forward(Activation fn, int64_t len, const float* x, float* y);
void activation_backward(Activation fn, int64_t len, const float* x, const float* y, const float* dy, float* dx);

// mask_i = (philox_word(seed, stream, offset + i) >> 8) < keep_threshold ? scale : 0; y = x · mask
void dropout_forward(int64_t len, uint64_t seed, uint32_t stream, uint64_t offset, uint32_t keep_threshold,
                     float scale, const float* x, float* y, float* mask);

void softmax_rows(int64_t n, int64_t classes, const float* x, float* y);
// returns mean loss; hits[0] = top-1 hits, hits[1] = top-k hits
double softmax_cross_entropy(int64_t n, int64_t classes, int64_t topk, const float* logits, const int32_t* labels,
                             float* dlogits, double* hits);

void sgd_update(int64_t len, const SgdParams& p, float* w, float* v, const float* g);
// One Adam/AdamW step in place on w, m, v (kernels/optim.h, the reference's arithmetic).
void adam_update(int64_t len, const AdamParams& p, float* w, float* m, float* v, const float* g);
// dx [n, classes] = y ⊙ (dy − Σ_row dy ⊙ y).
void softmax_backward(int64_t n, int64_t classes, const float* y, const float* dy, float* dx);

void add(int64_t len, const float* a, const float* b, float* y);
void mul(int64_t len, const float* a, const float* b, float* y);
void scale(int64_t len, float alpha, const float* x, float* y);
void axpy(int64_t len, float alpha, const float* x, float* y);
void sum_and_squares(int64_t len, const float* x, double* out2);

}  // namespace convnet
