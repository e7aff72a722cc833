// The calling thread's compute backend (docs/GPU.md, step 3). The model code
// (nn/) calls ops:: functions on raw pointers and never asks which device it
// runs on: each float op first looks at the thread's DeviceOps table and, when
// one is set, runs the device implementation instead of the CPU kernel.
// Memory follows the same rule: Tensor and ParamBuffer allocate through the
// thread's DeviceMemory when one is set (common/tensor).
//
// A backend is set per rank thread by a ScopedBackend (the module runner for
// its rank; tests; benches). With none set every op is the CPU kernel, as
// before; doubles always run on the CPU (the float64 reference paths).
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/base/host_cores.h"
#include "common/ops/bf16.h"

namespace braid::ops {

// Device memory as the tensors see it. All copies are ordered with the
// device's compute work; CopyToHost returns once the bytes are on the host.
class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  virtual const char* name() const = 0;
  // `bytes` zero-filled bytes; never returns null (an allocation failure is
  // fatal: out of device memory is not recoverable mid-step).
  virtual void* Allocate(size_t bytes) = 0;
  virtual void Free(void* p, size_t bytes) = 0;
  virtual void Zero(void* p, size_t bytes) = 0;
  virtual void CopyDeviceToDevice(void* dst, const void* src, size_t bytes) = 0;
  virtual void CopyToHost(void* dst, const void* src, size_t bytes) = 0;
  virtual void CopyFromHost(void* dst, const void* src, size_t bytes) = 0;
};

// bf16 activation storage (docs/GPU.md, "Mixed precision"): the ops that
// read or write the activations a transformer block keeps in bf16 (the
// inputs and outputs of its GEMMs, its attention and its MLP activation).
// Gradients, norm statistics, lse and the residual stream stay float;
// every computation accumulates in float. Contracts as the float ops of the
// same name (overwrite / +=), with the bf16 operands rounded on store.
struct Bf16ActivationOps {
  // out (bf16) = norm(inp); mean/rstd float (layernorm; rmsnorm has no mean).
  void (*rmsnorm_forward)(bf16_t*, float*, const float*, const float*, int64_t, int64_t, float) = nullptr;
  void (*layernorm_forward)(bf16_t*, float*, float*, const float*, const float*, const float*, int64_t, int64_t,
                            float) = nullptr;
  // out (N,OC) = inp (N,C) @ weight^T + bias, into bf16 or into float.
  void (*matmul_forward)(bf16_t*, const bf16_t*, const float*, const float*, int64_t, int64_t, int64_t) = nullptr;
  void (*matmul_forward_f32)(float*, const bf16_t*, const float*, const float*, int64_t, int64_t, int64_t) = nullptr;
  // dinp, dweight, dbias (float, +=) from the float dout and the bf16 inp.
  void (*matmul_backward)(float*, float*, float*, const float*, const bf16_t*, const float*, int64_t, int64_t,
                          int64_t) = nullptr;
  // out (bf16), lse (float) from the bf16 qkv; dqkv (float, +=) from the float dout.
  void (*attention_forward)(bf16_t*, float*, const bf16_t*, const int32_t*, int, int, int64_t, int64_t,
                            bool) = nullptr;
  void (*attention_backward)(float*, const float*, const bf16_t*, const bf16_t*, const float*, const int32_t*, int,
                             int, int64_t, int64_t, bool) = nullptr;
  // out (bf16) = act(inp (bf16)); dinp (float, +=) from the float dout.
  void (*gelu_forward)(bf16_t*, const bf16_t*, int64_t) = nullptr;
  void (*gelu_backward)(float*, const float*, const bf16_t*, int64_t) = nullptr;
  void (*swiglu_forward)(bf16_t*, const bf16_t*, int64_t, int64_t) = nullptr;
  void (*swiglu_backward)(float*, const float*, const bf16_t*, int64_t, int64_t) = nullptr;
};

// Float ops of a device: one field per ops:: function, same signature as the
// CPU template instantiated for float. A null field means "not on this
// device": calling it aborts with the op's name (a programmer error caught by
// the first test that runs the model on that backend).
struct DeviceOps {
  const char* name = "cpu";
  // activation.h
  void (*gelu_forward)(float*, const float*, int64_t) = nullptr;
  void (*gelu_backward)(float*, const float*, const float*, int64_t) = nullptr;
  void (*swiglu_forward)(float*, const float*, int64_t, int64_t) = nullptr;
  void (*swiglu_backward)(float*, const float*, const float*, int64_t, int64_t) = nullptr;
  void (*residual_forward)(float*, const float*, const float*, int64_t) = nullptr;
  void (*residual_backward)(float*, float*, const float*, int64_t) = nullptr;
  // embedding.h
  void (*embedding_forward)(float*, const int32_t*, const float*, int64_t, int64_t) = nullptr;
  void (*embedding_backward)(float*, const float*, const int32_t*, int64_t, int64_t) = nullptr;
  void (*add_positions_forward)(float*, const int32_t*, const float*, int64_t, int64_t) = nullptr;
  void (*add_positions_backward)(float*, const float*, const int32_t*, int64_t, int64_t) = nullptr;
  // matmul.h
  void (*matmul_forward)(float*, const float*, const float*, const float*, int64_t, int64_t, int64_t) = nullptr;
  void (*matmul_backward)(float*, float*, float*, const float*, const float*, const float*, int64_t, int64_t,
                          int64_t) = nullptr;
  void (*gemm)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float,
               float*, int64_t) = nullptr;
  // rows.h
  void (*gather_rows)(float*, const float*, const int32_t*, int64_t, int64_t) = nullptr;
  void (*scatter_rows)(float*, const float*, const int32_t*, int64_t, int64_t) = nullptr;
  void (*scatter_add_rows)(float*, const float*, const int32_t*, int64_t, int64_t) = nullptr;
  void (*zero_rows)(float*, const int32_t*, int64_t, int64_t) = nullptr;
  void (*add_bias)(float*, const float*, int64_t, int64_t) = nullptr;
  void (*copy)(float*, const float*, int64_t) = nullptr;
  void (*accumulate)(float*, const float*, int64_t) = nullptr;
  // norm.h (statistics are float on every device)
  void (*rmsnorm_forward)(float*, float*, const float*, const float*, int64_t, int64_t, float) = nullptr;
  void (*rmsnorm_backward)(float*, float*, const float*, const float*, const float*, const float*, int64_t,
                           int64_t) = nullptr;
  void (*layernorm_forward)(float*, float*, float*, const float*, const float*, const float*, int64_t, int64_t,
                            float) = nullptr;
  void (*layernorm_backward)(float*, float*, float*, const float*, const float*, const float*, const float*,
                             const float*, int64_t, int64_t) = nullptr;
  // attention.h (lse is float on every device)
  void (*attention_forward)(float*, float*, const float*, const int32_t*, int, int, int64_t, int64_t, bool) = nullptr;
  void (*attention_backward)(float*, const float*, const float*, const float*, const float*, const int32_t*, int, int,
                             int64_t, int64_t, bool) = nullptr;
  // loss.h. The forwards add their sums into a double in device memory
  // (read back once per step: docs/GPU.md, "Step scalars").
  void (*cross_entropy_forward)(float*, double*, const float*, const int32_t*, int64_t, int64_t) = nullptr;
  void (*cross_entropy_backward)(float*, const float*, const int32_t*, int64_t, int64_t, float) = nullptr;
  void (*mse_rows_forward)(double*, const float*, const float*, int64_t, int64_t, double) = nullptr;
  void (*mse_backward)(float*, const float*, const float*, int64_t, float) = nullptr;
  // vocab_parallel.h (TP: this rank's vocabulary rows)
  void (*vocab_embedding_forward)(float*, const int32_t*, const float*, int64_t, int64_t, int64_t, int64_t) = nullptr;
  void (*vocab_embedding_backward)(float*, const float*, const int32_t*, int64_t, int64_t, int64_t,
                                   int64_t) = nullptr;
  void (*vocab_ce_row_max)(float*, const float*, int64_t, int64_t, int, int) = nullptr;
  void (*vocab_ce_exp_sums)(float*, float*, const float*, const float*, const int32_t*, int64_t, int64_t, int64_t,
                            int) = nullptr;
  void (*vocab_ce_loss)(float*, double*, const float*, const float*, const int32_t*, int64_t) = nullptr;
  void (*vocab_ce_backward)(float*, const float*, const int32_t*, int64_t, int64_t, int64_t, const float*,
                            const float*, float) = nullptr;
  // common/optim: the gradient norm into a device double, the clip reading
  // it there (no host wait); AdamW over the flat buffer with a per-element
  // decay mask (scalars: lr, beta1, beta2, eps, 1 - beta1^t,
  // sqrt(1 - beta2^t), lr * weight_decay).
  void (*grad_norm)(double*, const float*, int64_t) = nullptr;
  void (*clip_to_norm)(float*, int64_t, const double*, double) = nullptr;
  void (*adamw_step)(float*, float*, float*, const float*, const uint8_t*, int64_t, float, float, float, float, float,
                     float, float) = nullptr;
  // patch.h
  void (*patchify)(float*, const float*, int64_t, int64_t, int64_t, float, float) = nullptr;
  void (*unpatchify)(float*, const float*, int64_t, int64_t, int64_t) = nullptr;
  // diffusion.h (DiT)
  void (*timestep_features)(float*, const int32_t*, int64_t, int64_t) = nullptr;
  void (*diffusion_noise)(float*, float*, const float*, const uint64_t*, const float*, int64_t, int64_t,
                          int64_t) = nullptr;
  void (*keyed_normal)(float*, uint64_t, int64_t) = nullptr;
  void (*ddim_update)(float*, const float*, int64_t, double, double) = nullptr;
  void (*diffusion_to_pixels)(float*, int64_t) = nullptr;
  // Non-null: the transformer blocks keep their GEMM/attention activations
  // in bf16 through these ops (every entry set). Null: float activations.
  const Bf16ActivationOps* bf16_activations = nullptr;
};

struct Backend {
  const DeviceOps* ops = nullptr;  // null: CPU kernels
  DeviceMemory* memory = nullptr;  // null: host memory
};

// The calling thread's backend ({nullptr, nullptr} = CPU).
const Backend& CurrentBackend();
inline const DeviceOps* CurrentDeviceOps() { return CurrentBackend().ops; }
inline DeviceMemory* CurrentDeviceMemory() { return CurrentBackend().memory; }
// The calling thread's bf16 activation ops (null: activations are float).
inline const Bf16ActivationOps* CurrentBf16ActivationOps() {
  const DeviceOps* d = CurrentDeviceOps();
  return d != nullptr ? d->bf16_activations : nullptr;
}

// Sets the calling thread's backend until destroyed; restores the previous.
class ScopedBackend {
 public:
  explicit ScopedBackend(Backend b);
  ~ScopedBackend();
  ScopedBackend(const ScopedBackend&) = delete;
  ScopedBackend& operator=(const ScopedBackend&) = delete;

 private:
  Backend prev_;
};

[[noreturn]] void MissingDeviceOp(const char* device, const char* op);

// The calling thread's device table when it has one (null on the CPU),
// after checking it implements `op` (aborts naming the op otherwise).
template <typename Field>
const DeviceOps* DeviceWith(Field DeviceOps::*op, const char* name) {
  const DeviceOps* d = CurrentDeviceOps();
  if (d != nullptr && d->*op == nullptr) MissingDeviceOp(d->name, name);
  return d;
}

}  // namespace braid::ops

// First statement of every ops:: template that has a device twin: for T =
// float with a device backend set, runs the op-boundary hook (transport
// progress, as the CPU kernels do) and the device op, and returns its result.
#define BRAID_DEVICE_DISPATCH(op, ...)                                                              \
  do {                                                                                             \
    if constexpr (std::is_same_v<T, float>) {                                                      \
      if (const ::braid::ops::DeviceOps* braid_d_ = ::braid::ops::DeviceWith(&::braid::ops::DeviceOps::op, #op)) { \
        ::braid::AtOpBoundary();                                                                   \
        return braid_d_->op(__VA_ARGS__);                                                          \
      }                                                                                            \
    }                                                                                              \
  } while (0)
