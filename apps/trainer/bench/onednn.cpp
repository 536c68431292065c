// oneDNN peer of `pnpm bench`: the same AlexNet workloads as workload.mjs written on oneDNN's primitives, configured
// the way a framework built on oneDNN would run them at its best. Built on demand by onednn.mjs from Debian's
// libdnnl-dev; prints one JSON line like workload.mjs, with per-layer figures.
//
//   onednn-bench train|infer/paper|torchvision/BATCH [--steps N]      (threads: OMP_NUM_THREADS)
//
// - Every conv, inner product, pooling and LRN primitive gets format `any` where it may choose, so it picks its own
//   layouts (blocked activations, blocked weights); activations stay in the layout the producing primitive chose and
//   their gradients use the same layout. Weights, their gradients and momentum are kept in the forward primitive's
//   layout; a backward primitive that wants another weights layout gets a reorder, timed as "reorder".
// - ReLU is a post-op of the conv / fc forward; its backward uses dst, in place.
// - A train step = forward + softmax cross-entropy + backward + SGD (momentum 0.9, weight decay 5e-4, as PyTorch),
//   dropout 0.5 where the net has it (fresh mask every step); conv1's input gradient is not computed (nor does
//   PyTorch or our trainer). Inference = forward_inference; the input arrives as plain NCHW and any reorder into the
//   first conv's layout is inside the timed step.
#include <oneapi/dnnl/dnnl.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;
using dims = memory::dims;

namespace {

engine eng(engine::kind::cpu, 0);
stream strm(eng);

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
double cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

float* ptr(const memory& m) { return static_cast<float*>(m.get_data_handle()); }
size_t floats(const memory& m) { return m.get_desc().get_size() / sizeof(float); }

// Deterministic pseudo-random fill (the values only need to be finite and of a sensible scale).
uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
float uniform() {
  rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
  return static_cast<float>((rng_state >> 40) * (1.0 / (1ULL << 24)));
}

// Per-layer time accounting (seconds, summed over the timed steps).
struct Times { double fwd = 0, bwd_data = 0, bwd_weights = 0, reorder = 0, other = 0; };
bool timing = false;

template <typename F>
void timed(double& acc, F&& f) {
  const double t = now_s();
  f();
  strm.wait();
  if (timing) acc += now_s() - t;
}

void run_reorder(double& acc, const memory& from, const memory& to) {
  timed(acc, [&] { reorder(from, to).execute(strm, const_cast<memory&>(from), const_cast<memory&>(to)); });
}

enum class Kind { Conv, Fc, Pool, Lrn, Dropout };

struct Node {
  Kind kind;
  std::string name;
  bool relu = false;
  Times t;
  std::string impl_fwd, impl_bd, impl_bw;
  memory src, dst, dsrc;  // dsrc: gradient w.r.t. src, same layout as src (empty when not needed)
  memory src_in, dsrc_out;  // conv whose src layout differs from its producer's: the producer's dst and gradient
  // conv / fc
  memory w, b, dw, db, mw, mb, w_bd, dw_bw;  // w_bd: weights in bwd-data's layout; dw_bw: dw in bwd-weights' layout
  primitive fwd, bd, bw, relu_bwd;
  // pool / lrn
  memory ws;
  // dropout
  std::vector<uint8_t> mask;
};

struct ConvSpec { int o, k, s, p, g; };

struct Net {
  bool train;
  int n;
  std::vector<Node> nodes;
  memory input_user, input;  // input_user: plain NCHW; input: what conv1 reads (the same memory if no reorder)
  memory logits;             // [n, 1000], plain
  memory dlogits;
  double input_reorder = 0;
  prop_kind prop() const { return train ? prop_kind::forward_training : prop_kind::forward_inference; }

  primitive_attr relu_attr(bool relu) {
    primitive_attr a;
    if (relu) {
      post_ops po;
      po.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
      a.set_post_ops(po);
    }
    return a;
  }

  void init_params(Node& L, const memory::desc& user_w, int fan_in, const memory::desc& bias) {
    memory wu(user_w, eng);
    const float a = std::sqrt(6.f / fan_in);
    for (size_t i = 0; i < floats(wu); ++i) ptr(wu)[i] = (2 * uniform() - 1) * a;
    reorder(wu, L.w).execute(strm, wu, L.w);
    L.b = memory(bias, eng);
    std::fill(ptr(L.b), ptr(L.b) + floats(L.b), 0.01f);
    strm.wait();
  }

  // The relu backward (use_dst, in place on the gradient) for a node whose forward fused a ReLU.
  void make_relu_bwd(Node& L) {
    const auto md = L.dst.get_desc();
    eltwise_forward::primitive_desc hint({prop_kind::forward_training, algorithm::eltwise_relu_use_dst_for_bwd, md, 0.f, 0.f}, eng);
    eltwise_backward::primitive_desc pd({algorithm::eltwise_relu_use_dst_for_bwd, md, md, 0.f, 0.f}, eng, hint);
    L.relu_bwd = eltwise_backward(pd);
  }

  // A backward primitive with the weights in the forward's layout, unless that only gets a reference implementation
  // (or none): then with `any`, and the weights (or their gradient) are reordered every step.
  template <typename PD, typename F>
  PD prefer(const memory::desc& fixed, const memory::desc& any, F make) {
    try {
      PD pd = make(fixed);
      if (std::string(pd.impl_info_str()).find("ref") == std::string::npos) return pd;
    } catch (const dnnl::error&) {
    }
    return make(any);
  }

  memory::desc cur() const { return nodes.empty() ? input.get_desc() : nodes.back().dst.get_desc(); }
  memory cur_mem() const { return nodes.empty() ? input : nodes.back().dst; }

  void conv(const std::string& name, const ConvSpec& c) {
    Node L{Kind::Conv, name, true};
    const auto in = nodes.empty() ? input_user.get_desc() : cur();
    const dims id = in.dims();
    const int N = id[0], C = id[1], H = id[2], W = id[3];
    const int OH = (H + 2 * c.p - c.k) / c.s + 1, OW = (W + 2 * c.p - c.k) / c.s + 1;
    const dims wd = c.g == 1 ? dims{c.o, C, c.k, c.k} : dims{c.g, c.o / c.g, C / c.g, c.k, c.k};
    const memory::desc src_md({N, C, H, W}, dt::f32, tag::any);
    const memory::desc w_any(wd, dt::f32, tag::any), b_md({c.o}, dt::f32, tag::a);
    const memory::desc dst_any({N, c.o, OH, OW}, dt::f32, tag::any);
    const dims st{c.s, c.s}, pad{c.p, c.p};
    convolution_forward::primitive_desc pd({prop(), algorithm::convolution_direct, src_md, w_any, b_md, dst_any, st, pad, pad},
                                           relu_attr(true), eng);
    L.impl_fwd = pd.impl_info_str();
    if (nodes.empty()) {
      input = pd.src_desc() == input_user.get_desc() ? input_user : memory(pd.src_desc(), eng);
      L.src = input;
    } else if (pd.src_desc() == in) {
      L.src = cur_mem();
    } else {  // this conv wants another layout than its producer's dst: reorders, timed as this layer's
      L.src_in = cur_mem();
      L.src = memory(pd.src_desc(), eng);
      if (train) L.dsrc_out = memory(in, eng);
    }
    L.dst = memory(pd.dst_desc(), eng);
    L.w = memory(pd.weights_desc(), eng);
    init_params(L, memory::desc(wd, dt::f32, c.g == 1 ? tag::oihw : tag::goihw), C / c.g * c.k * c.k, b_md);
    L.fwd = convolution_forward(pd);
    if (train) {
      make_relu_bwd(L);
      if (!nodes.empty()) {
        auto bd = prefer<convolution_backward_data::primitive_desc>(L.w.get_desc(), w_any, [&](const memory::desc& wm) {
          return convolution_backward_data::primitive_desc({algorithm::convolution_direct, L.src.get_desc(), wm, L.dst.get_desc(), st, pad, pad}, eng, pd);
        });
        L.impl_bd = bd.impl_info_str();
        L.dsrc = memory(L.src.get_desc(), eng);
        if (bd.weights_desc() != L.w.get_desc()) L.w_bd = memory(bd.weights_desc(), eng);
        L.bd = convolution_backward_data(bd);
      }
      auto bw = prefer<convolution_backward_weights::primitive_desc>(L.w.get_desc(), w_any, [&](const memory::desc& wm) {
        return convolution_backward_weights::primitive_desc({algorithm::convolution_direct, L.src.get_desc(), wm, b_md, L.dst.get_desc(), st, pad, pad}, eng, pd);
      });
      L.impl_bw = bw.impl_info_str();
      L.dw = memory(L.w.get_desc(), eng);
      if (bw.diff_weights_desc() != L.w.get_desc()) L.dw_bw = memory(bw.diff_weights_desc(), eng);
      L.db = memory(b_md, eng);
      L.bw = convolution_backward_weights(bw);
      params(L);
    }
    nodes.push_back(std::move(L));
  }

  void fc(const std::string& name, int o, bool relu) {
    Node L{Kind::Fc, name, relu};
    const auto in = cur();
    dims wd = in.dims();
    const int N = wd[0];
    wd[0] = o;
    int fan_in = 1;
    for (size_t i = 1; i < wd.size(); ++i) fan_in *= wd[i];
    const memory::desc w_any(wd, dt::f32, tag::any), b_md({o}, dt::f32, tag::a), dst_md({N, o}, dt::f32, tag::nc);
    inner_product_forward::primitive_desc pd({prop(), in, w_any, b_md, dst_md}, relu_attr(relu), eng);
    L.impl_fwd = pd.impl_info_str();
    L.src = cur_mem();
    L.dst = memory(pd.dst_desc(), eng);
    L.w = memory(pd.weights_desc(), eng);
    init_params(L, memory::desc(wd, dt::f32, wd.size() == 4 ? tag::oihw : tag::oi), fan_in, b_md);
    L.fwd = inner_product_forward(pd);
    if (train) {
      if (relu) make_relu_bwd(L);
      auto bd = prefer<inner_product_backward_data::primitive_desc>(L.w.get_desc(), w_any, [&](const memory::desc& wm) {
        return inner_product_backward_data::primitive_desc({in, wm, dst_md}, eng, pd);
      });
      L.impl_bd = bd.impl_info_str();
      L.dsrc = memory(in, eng);
      if (bd.weights_desc() != L.w.get_desc()) L.w_bd = memory(bd.weights_desc(), eng);
      L.bd = inner_product_backward_data(bd);
      auto bw = prefer<inner_product_backward_weights::primitive_desc>(L.w.get_desc(), w_any, [&](const memory::desc& wm) {
        return inner_product_backward_weights::primitive_desc({in, wm, b_md, dst_md}, eng, pd);
      });
      L.impl_bw = bw.impl_info_str();
      L.dw = memory(L.w.get_desc(), eng);
      if (bw.diff_weights_desc() != L.w.get_desc()) L.dw_bw = memory(bw.diff_weights_desc(), eng);
      L.db = memory(b_md, eng);
      L.bw = inner_product_backward_weights(bw);
      params(L);
    }
    nodes.push_back(std::move(L));
  }

  void params(Node& L) {
    L.mw = memory(L.w.get_desc(), eng);
    L.mb = memory(L.b.get_desc(), eng);
    std::memset(ptr(L.mw), 0, L.w.get_desc().get_size());
    std::memset(ptr(L.mb), 0, L.b.get_desc().get_size());
  }

  void pool(const std::string& name) {
    Node L{Kind::Pool, name};
    const auto in = cur();
    const dims id = in.dims();
    const memory::desc dst_any({id[0], id[1], (id[2] - 3) / 2 + 1, (id[3] - 3) / 2 + 1}, dt::f32, tag::any);
    pooling_forward::primitive_desc pd({prop(), algorithm::pooling_max, in, dst_any, {2, 2}, {3, 3}, {0, 0}, {0, 0}}, eng);
    L.impl_fwd = pd.impl_info_str();
    L.src = cur_mem();
    L.dst = memory(pd.dst_desc(), eng);
    L.fwd = pooling_forward(pd);
    if (train) {
      L.ws = memory(pd.workspace_desc(), eng);
      pooling_backward::primitive_desc bd({algorithm::pooling_max, in, L.dst.get_desc(), {2, 2}, {3, 3}, {0, 0}, {0, 0}}, eng, pd);
      L.dsrc = memory(in, eng);
      L.bd = pooling_backward(bd);
    }
    nodes.push_back(std::move(L));
  }

  // PyTorch's LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2): oneDNN divides alpha by the size as PyTorch does.
  void lrn(const std::string& name) {
    Node L{Kind::Lrn, name};
    const auto in = cur();
    lrn_forward::primitive_desc pd({prop(), algorithm::lrn_across_channels, in, 5, 1e-4f, 0.75f, 2.f}, eng);
    L.impl_fwd = pd.impl_info_str();
    L.src = cur_mem();
    L.dst = memory(pd.dst_desc(), eng);
    L.fwd = lrn_forward(pd);
    if (train) {
      L.ws = memory(pd.workspace_desc(), eng);
      lrn_backward::primitive_desc bd({algorithm::lrn_across_channels, in, in, 5, 1e-4f, 0.75f, 2.f}, eng, pd);
      L.dsrc = memory(in, eng);
      L.bd = lrn_backward(bd);
    }
    nodes.push_back(std::move(L));
  }

  // Dropout p = 0.5 in place on the previous node's dst (train only).
  void dropout(const std::string& name) {
    if (!train) return;
    Node L{Kind::Dropout, name};
    L.src = L.dst = cur_mem();
    L.dsrc = memory(L.src.get_desc(), eng);
    L.mask.resize(floats(L.src));
    nodes.push_back(std::move(L));
  }

  // ----- execution -----
  void forward() {
    if (input.get_data_handle() != input_user.get_data_handle())
      run_reorder(input_reorder, input_user, input);
    for (auto& L : nodes) {
      switch (L.kind) {
        case Kind::Conv: case Kind::Fc:
          if (L.src_in) run_reorder(L.t.reorder, L.src_in, L.src);
          timed(L.t.fwd, [&] { L.fwd.execute(strm, {{DNNL_ARG_SRC, L.src}, {DNNL_ARG_WEIGHTS, L.w}, {DNNL_ARG_BIAS, L.b}, {DNNL_ARG_DST, L.dst}}); });
          break;
        case Kind::Pool: case Kind::Lrn: {
          std::unordered_map<int, memory> a{{DNNL_ARG_SRC, L.src}, {DNNL_ARG_DST, L.dst}};
          if (train) a[DNNL_ARG_WORKSPACE] = L.ws;
          timed(L.t.fwd, [&] { L.fwd.execute(strm, a); });
          break;
        }
        case Kind::Dropout:
          timed(L.t.fwd, [&] {
            float* p = ptr(L.dst);
            const size_t m = L.mask.size();
            for (size_t i = 0; i < m; ++i) {
              L.mask[i] = uniform() < 0.5f;
              p[i] = L.mask[i] ? 2.f * p[i] : 0.f;
            }
          });
          break;
      }
    }
  }

  // Softmax cross-entropy gradient of the mean loss into the last node's dst-gradient buffer.
  void loss_grad(memory& dy) {
    const float* z = ptr(nodes.back().dst);
    float* g = ptr(dy);
    const int C = 1000;
    for (int i = 0; i < n; ++i) {
      const float* zi = z + i * C;
      float* gi = g + i * C;
      const float mx = *std::max_element(zi, zi + C);
      double s = 0;
      for (int j = 0; j < C; ++j) s += std::exp(zi[j] - mx);
      for (int j = 0; j < C; ++j) gi[j] = static_cast<float>(std::exp(zi[j] - mx) / s) / n;
      gi[(i * 7) % C] -= 1.f / n;
    }
  }

  void backward() {
    memory dy(nodes.back().dst.get_desc(), eng);
    if (!dlogits) dlogits = dy; else dy = dlogits;
    loss_grad(dy);
    for (size_t li = nodes.size(); li-- > 0;) {
      Node& L = nodes[li];
      switch (L.kind) {
        case Kind::Conv: case Kind::Fc: {
          if (L.relu)
            timed(L.t.other, [&] { L.relu_bwd.execute(strm, {{DNNL_ARG_DST, L.dst}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_SRC, dy}}); });
          memory wdw = L.dw_bw ? L.dw_bw : L.dw;
          timed(L.t.bwd_weights, [&] { L.bw.execute(strm, {{DNNL_ARG_SRC, L.src}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, wdw}, {DNNL_ARG_DIFF_BIAS, L.db}}); });
          if (L.dw_bw) run_reorder(L.t.reorder, L.dw_bw, L.dw);
          if (L.bd) {
            if (L.w_bd) run_reorder(L.t.reorder, L.w, L.w_bd);
            memory wbd = L.w_bd ? L.w_bd : L.w;
            timed(L.t.bwd_data, [&] { L.bd.execute(strm, {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WEIGHTS, wbd}, {DNNL_ARG_DIFF_SRC, L.dsrc}}); });
            if (L.dsrc_out) run_reorder(L.t.reorder, L.dsrc, L.dsrc_out);
          }
          break;
        }
        case Kind::Pool:
          timed(L.t.bwd_data, [&] { L.bd.execute(strm, {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WORKSPACE, L.ws}, {DNNL_ARG_DIFF_SRC, L.dsrc}}); });
          break;
        case Kind::Lrn:
          timed(L.t.bwd_data, [&] { L.bd.execute(strm, {{DNNL_ARG_SRC, L.src}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WORKSPACE, L.ws}, {DNNL_ARG_DIFF_SRC, L.dsrc}}); });
          break;
        case Kind::Dropout:
          timed(L.t.bwd_data, [&] {
            const float* d = ptr(dy);
            float* o = ptr(L.dsrc);
            for (size_t i = 0; i < L.mask.size(); ++i) o[i] = L.mask[i] ? 2.f * d[i] : 0.f;
          });
          break;
      }
      dy = L.dsrc_out ? L.dsrc_out : L.dsrc;
    }
  }

  // SGD with momentum and weight decay, PyTorch semantics: v = 0.9 v + (g + 5e-4 w); w -= 0.01 v.
  void sgd() {
    for (auto& L : nodes) {
      if (L.kind != Kind::Conv && L.kind != Kind::Fc) continue;
      timed(L.t.other, [&] {
        for (auto [w, g, m] : {std::tuple{L.w, L.dw, L.mw}, std::tuple{L.b, L.db, L.mb}}) {
          float *pw = ptr(w), *pg = ptr(g), *pm = ptr(m);
          const long k = static_cast<long>(floats(w));
#pragma omp parallel for schedule(static)
          for (long i = 0; i < k; ++i) {
            pm[i] = 0.9f * pm[i] + (pg[i] + 5e-4f * pw[i]);
            pw[i] -= 0.01f * pm[i];
          }
        }
      });
    }
  }
};

std::unique_ptr<Net> build(const std::string& model, bool train, int n) {
  auto net = std::make_unique<Net>();
  net->train = train;
  net->n = n;
  const bool paper = model == "paper";
  const int S = paper ? 227 : 224;
  net->input_user = memory({{n, 3, S, S}, dt::f32, tag::nchw}, eng);
  for (size_t i = 0; i < floats(net->input_user); ++i) ptr(net->input_user)[i] = 2 * uniform() - 1;
  Net& m = *net;
  if (paper) {
    m.conv("conv1", {96, 11, 4, 0, 1}); m.lrn("lrn1"); m.pool("pool1");
    m.conv("conv2", {256, 5, 1, 2, 2}); m.lrn("lrn2"); m.pool("pool2");
    m.conv("conv3", {384, 3, 1, 1, 1}); m.conv("conv4", {384, 3, 1, 1, 2}); m.conv("conv5", {256, 3, 1, 1, 2}); m.pool("pool5");
    m.fc("fc6", 4096, true); m.dropout("drop6"); m.fc("fc7", 4096, true); m.dropout("drop7"); m.fc("fc8", 1000, false);
  } else {
    m.conv("conv1", {64, 11, 4, 2, 1}); m.pool("pool1");
    m.conv("conv2", {192, 5, 1, 2, 1}); m.pool("pool2");
    m.conv("conv3", {384, 3, 1, 1, 1}); m.conv("conv4", {256, 3, 1, 1, 1}); m.conv("conv5", {256, 3, 1, 1, 1}); m.pool("pool5");
    m.dropout("drop6"); m.fc("fc6", 4096, true); m.dropout("drop7"); m.fc("fc7", 4096, true); m.fc("fc8", 1000, false);
  }
  return net;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string w = argc > 1 ? argv[1] : "";
    int steps = 3;
    for (int i = 2; i + 1 < argc; ++i)
      if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
    const size_t a = w.find('/'), b = w.rfind('/');
    const std::string kind = a == std::string::npos ? "" : w.substr(0, a);
    const std::string model = b == std::string::npos || b == a ? "" : w.substr(a + 1, b - a - 1);
    const int n = b == std::string::npos ? 0 : std::atoi(w.c_str() + b + 1);
    if ((kind != "train" && kind != "infer") || (model != "paper" && model != "torchvision") || n <= 0 || steps <= 0) {
      std::fprintf(stderr, "onednn-bench: error: usage: onednn-bench train|infer/paper|torchvision/BATCH [--steps N], got '%s'\n", w.c_str());
      return 2;
    }
    const bool train = kind == "train";
    auto net = build(model, train, n);
    auto step = [&] {
      net->forward();
      if (train) { net->backward(); net->sgd(); }
    };
    const int timed_steps = n == 1 ? steps * 4 : steps;
    step();  // warm-up
    std::vector<double> wall, cpu;
    timing = true;
    for (int i = 0; i < timed_steps; ++i) {
      const double c0 = cpu_s(), t0 = now_s();
      step();
      wall.push_back(now_s() - t0);
      cpu.push_back(cpu_s() - c0);
    }
    auto median = [](std::vector<double> v) { std::sort(v.begin(), v.end()); return v[v.size() / 2]; };
    const char* th = std::getenv("OMP_NUM_THREADS");
    const int threads = th ? std::atoi(th) : 1;
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    const dnnl_version_t* v = dnnl_version();
    std::string layers;
    auto esc = [](const std::string& s) { std::string r; for (char c : s) { if (c == '"' || c == '\\') r += '\\'; r += c; } return r; };
    for (auto& L : net->nodes) {
      if (L.kind != Kind::Conv && L.kind != Kind::Fc) continue;
      char buf[1024];
      const double k = 1000.0 / timed_steps;
      std::snprintf(buf, sizeof buf,
                    "%s{\"name\":\"%s\",\"fwdMs\":%.3f,\"bwdDataMs\":%.3f,\"bwdWeightsMs\":%.3f,\"reorderMs\":%.3f,\"otherMs\":%.3f,"
                    "\"implFwd\":\"%s\",\"implBwdData\":\"%s\",\"implBwdWeights\":\"%s\"}",
                    layers.empty() ? "" : ",", L.name.c_str(), L.t.fwd * k, L.t.bwd_data * k, L.t.bwd_weights * k,
                    L.t.reorder * k, L.t.other * k, esc(L.impl_fwd).c_str(), esc(L.impl_bd).c_str(), esc(L.impl_bw).c_str());
      layers += buf;
    }
    std::printf("{\"workload\":\"%s\",\"steps\":%d,\"threads\":%d,\"version\":\"%d.%d.%d\",\"conv1Impl\":\"%s\","
                "\"imagesPerSec\":%.4f,\"bestImagesPerSec\":%.4f,\"cpuImagesPerSec\":%.4f,\"peakRssMb\":%.1f,"
                "\"inputReorderMs\":%.3f,\"layers\":[%s]}\n",
                w.c_str(), timed_steps, threads, v->major, v->minor, v->patch,
                net->nodes.front().impl_fwd.c_str(), n / median(wall), n / *std::min_element(wall.begin(), wall.end()),
                n * threads / median(cpu), u.ru_maxrss / 1024.0, net->input_reorder * 1000.0 / timed_steps, layers.c_str());
    return 0;
  } catch (const dnnl::error& e) {
    std::fprintf(stderr, "onednn-bench: error: oneDNN: %s (status %d)\n", e.what(), static_cast<int>(e.status));
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "onednn-bench: error: %s\n", e.what());
    return 1;
  }
}
