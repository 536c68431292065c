// device.h for the host emulator: "device" memory is 256-byte aligned host memory, copies are memcpy, and
// streams and events are distinct tokens (everything runs synchronously on the calling thread). The probe reports
// one emulated device, so the whole TypeScript backend (allocator, device tensors, staging, streams) runs.
#include <cstdlib>
#include <cstring>

#include "../device.h"

namespace convnet::cuda::dev {

Probe probe() {
  Probe p;
  p.error_name = "cudaSuccess";
  p.error_string = "no error";
  DeviceInfo d;
  d.name = "host emulator (CPU)";
  p.devices.push_back(d);
  return p;
}

void set_device(int device) {
  if (device != 0) throw std::runtime_error("cuda-host: there is only device 0, got " + std::to_string(device));
}

void* malloc(size_t bytes) {
  void* p = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
  if (!p) throw OutOfMemory("cuda-host: out of memory allocating " + std::to_string(bytes) + " bytes");
  return p;
}
void free(void* p) { std::free(p); }
void mem_info(size_t* free_bytes, size_t* total_bytes) {
  *free_bytes = 0;
  *total_bytes = 0;
}
void copy_h2d(void* dst, const void* src, size_t bytes, Stream) { if (bytes) std::memcpy(dst, src, bytes); }
void copy_d2h(void* dst, const void* src, size_t bytes, Stream) { if (bytes) std::memcpy(dst, src, bytes); }
void copy_d2d(void* dst, const void* src, size_t bytes, Stream) { if (bytes) std::memmove(dst, src, bytes); }
void memset_zero(void* dst, size_t bytes, Stream) { if (bytes) std::memset(dst, 0, bytes); }

// Streams and events are distinct non-null tokens (so the TypeScript side's stream/event bookkeeping can be
// checked here); the work itself runs synchronously on the calling thread.
Stream stream_create() { return new char(0); }
void stream_destroy(Stream s) { delete static_cast<char*>(s); }
void stream_synchronize(Stream) {}
void* event_create() { return new char(0); }
void event_record(void*, Stream) {}
void stream_wait_event(Stream, void*) {}
void event_synchronize(void*) {}
void event_destroy(void* e) { delete static_cast<char*>(e); }
void* host_alloc(size_t bytes) { return std::malloc(bytes ? bytes : 1); }
void host_free(void* p) { std::free(p); }

}  // namespace convnet::cuda::dev
