// device.h on the CUDA runtime (cudart is linked statically, so this loads where no CUDA is installed; with
// no driver every call reports cudaErrorInsufficientDriver, which probe() turns into a reason).
#include <cuda_runtime.h>
#include <cstdlib>
#include <string>

#include "device.h"

namespace convnet::cuda::dev {
namespace {

bool sync_debug() {
  static const bool on = [] {
    const char* v = std::getenv("CONVNET_CUDA_SYNC");
    return v != nullptr && *v != 0 && std::string(v) != "0";
  }();
  return on;
}

[[noreturn]] void fail(const char* what, cudaError_t e) {
  // a sticky error from an asynchronous kernel surfaces at the next call: say how to find the kernel
  const bool async_fault = e != cudaErrorMemoryAllocation && e != cudaErrorInvalidValue && e != cudaErrorInsufficientDriver &&
                           e != cudaErrorNoDevice && e != cudaErrorInvalidDevice;
  throw std::runtime_error(std::string("cuda: ") + what + " failed: " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e) +
                           (async_fault && !sync_debug()
                                ? " (kernels run asynchronously, so this may be an earlier kernel's fault: rerun with "
                                  "CONVNET_CUDA_SYNC=1, the synchronising debug mode, to name the kernel)"
                                : ""));
}
void check(const char* what, cudaError_t e) {
  if (e != cudaSuccess) fail(what, e);
}
cudaStream_t st(Stream s) { return static_cast<cudaStream_t>(s); }

}  // namespace

Probe probe() {
  Probe p;
  cudaRuntimeGetVersion(&p.runtime_version);
  if (cudaDriverGetVersion(&p.driver_version) != cudaSuccess) p.driver_version = 0;
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  p.error = static_cast<int>(e);
  p.error_name = cudaGetErrorName(e);
  p.error_string = cudaGetErrorString(e);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later probes start clean
    return p;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    DeviceInfo d;
    d.name = prop.name;
    d.major = prop.major;
    d.minor = prop.minor;
    d.multiprocessors = prop.multiProcessorCount;
    if (cudaDeviceGetAttribute(&d.clock_khz, cudaDevAttrClockRate, i) != cudaSuccess) d.clock_khz = 0;
    d.total_memory = prop.totalGlobalMem;
    p.devices.push_back(d);
  }
  return p;
}

void set_device(int device) { check("cudaSetDevice", cudaSetDevice(device)); }

void* malloc(size_t bytes) {
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    throw OutOfMemory("cuda: out of device memory allocating " + std::to_string(bytes) + " bytes");
  }
  check("cudaMalloc", e);
  return p;
}

void free(void* p) { check("cudaFree", cudaFree(p)); }

void mem_info(size_t* free_bytes, size_t* total_bytes) { check("cudaMemGetInfo", cudaMemGetInfo(free_bytes, total_bytes)); }

void copy_h2d(void* dst, const void* src, size_t bytes, Stream s) {
  check("cudaMemcpyAsync (host to device)", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, st(s)));
}
void copy_d2h(void* dst, const void* src, size_t bytes, Stream s) {
  check("cudaMemcpyAsync (device to host)", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, st(s)));
}
void copy_d2d(void* dst, const void* src, size_t bytes, Stream s) {
  check("cudaMemcpyAsync (device to device)", cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, st(s)));
}
void memset_zero(void* dst, size_t bytes, Stream s) { check("cudaMemsetAsync", cudaMemsetAsync(dst, 0, bytes, st(s))); }

Stream stream_create() {
  cudaStream_t s = nullptr;
  check("cudaStreamCreateWithFlags", cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}
void stream_destroy(Stream s) { check("cudaStreamDestroy", cudaStreamDestroy(st(s))); }
void stream_synchronize(Stream s) { check("cudaStreamSynchronize", cudaStreamSynchronize(st(s))); }

void* event_create() {
  cudaEvent_t e = nullptr;
  check("cudaEventCreateWithFlags", cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  return e;
}
void event_record(void* e, Stream s) { check("cudaEventRecord", cudaEventRecord(static_cast<cudaEvent_t>(e), st(s))); }
void stream_wait_event(Stream s, void* e) {
  check("cudaStreamWaitEvent", cudaStreamWaitEvent(st(s), static_cast<cudaEvent_t>(e), 0));
}
void event_synchronize(void* e) { check("cudaEventSynchronize", cudaEventSynchronize(static_cast<cudaEvent_t>(e))); }
void event_destroy(void* e) { check("cudaEventDestroy", cudaEventDestroy(static_cast<cudaEvent_t>(e))); }

void* host_alloc(size_t bytes) {
  void* p = nullptr;
  check("cudaHostAlloc", cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
  return p;
}
void host_free(void* p) { cudaFreeHost(p); }

}  // namespace convnet::cuda::dev
