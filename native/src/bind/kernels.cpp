#include "args.h"

namespace convnet::bind {

void register_kernels(Napi::Env env, Napi::Object exports) {}

}  // namespace convnet::bind
