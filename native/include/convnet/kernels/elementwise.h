// Per-element bodies: neurons, SGD. Shared by CPU and CUDA.
#pragma once
#include <cmath>
#include "convnet/hd.h"

namespace convnet {

enum class Activation { Relu = 0, Logistic = 1, Tanh = 2, Abs = 3, Softplus = 4 };

CONVNET_HD float activation_value(Activation fn, float v) {
  switch (fn) {
    case Activation::Relu: return v < 0.f ? 0.f : v;  // NaN stays NaN, as PyTorch
    case Activation::Logistic: return 1.f / (1.f + expf(-v));
    case Activation::Tanh: return tanhf(v);
    case Activation::Abs: return fabsf(v);
    case Activation::Softplus: return v > 20.f ? v : log1pf(expf(v));
  }
  return v;
}

// d f / dx from x and y = f(x); relu'(0) = abs'(0) = 0 as in PyTorch.
CONVNET_HD float activation_derivative(Activation fn, float x, float y) {
  switch (fn) {
    case Activation::Relu: return x <= 0.f ? 0.f : 1.f;  // NaN passes the gradient, as PyTorch
    case Activation::Logistic: return y * (1.f - y);
    case Activation::Tanh: return 1.f - y * y;
    case Activation::Abs: return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f);
    case Activation::Softplus: return x > 20.f ? 1.f : 1.f / (1.f + expf(-x));
  }
  return 1.f;
}

struct SgdParams {
  float lr, momentum, weight_decay, dampening;
  bool nesterov, paper_rule, first_step;
};

// One parameter's SGD step in place on w and v (see packages/tensor/src/kernels.ts sgdUpdate), with the
// rule's switches as template arguments so that a loop over it has no branches and vectorises.
template <bool Paper, bool Momentum, bool Nesterov, bool FirstStep>
CONVNET_HD void sgd_element_t(float& w, float& v, float g, const SgdParams& p) {
  if (Paper) {
    const float vi = p.momentum * v - p.lr * p.weight_decay * w - p.lr * g;
    v = vi;
    w = w + vi;
    return;
  }
  float d = g + p.weight_decay * w;
  if (Momentum) {
    const float vi = FirstStep ? d : p.momentum * v + (1.f - p.dampening) * d;
    v = vi;
    d = Nesterov ? d + p.momentum * vi : vi;
  }
  w = w - p.lr * d;
}

// The same step with run-time switches (momentum == 0 leaves v untouched, as PyTorch).
CONVNET_HD void sgd_element(float& w, float& v, float g, const SgdParams& p) {
  if (p.paper_rule) return sgd_element_t<true, false, false, false>(w, v, g, p);
  if (p.momentum == 0.f) return sgd_element_t<false, false, false, false>(w, v, g, p);
  if (p.nesterov && p.first_step) return sgd_element_t<false, true, true, true>(w, v, g, p);
  if (p.nesterov) return sgd_element_t<false, true, true, false>(w, v, g, p);
  if (p.first_step) return sgd_element_t<false, true, false, true>(w, v, g, p);
  return sgd_element_t<false, true, false, false>(w, v, g, p);
}

}  // namespace convnet
