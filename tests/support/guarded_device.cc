#include "tests/support/guarded_device.h"

#include "common/ops/cpu/activation.h"
#include "common/ops/cpu/attention.h"
#include "common/ops/cpu/bf16_activations.h"
#include "common/ops/cpu/diffusion.h"
#include "common/ops/cpu/embedding.h"
#include "common/ops/cpu/loss.h"
#include "common/ops/cpu/vocab_parallel.h"
#include "common/ops/cpu/matmul.h"
#include "common/ops/cpu/norm.h"
#include "common/ops/cpu/patch.h"
#include "common/ops/cpu/rows.h"
#include "common/optim/adamw.h"
#include "common/optim/grad_clip.h"

namespace braid::testing_support {

GuardedOps::GuardedOps(GuardedDevice* dev, bool bf16_activations) : dev_(dev) {
  ops::DeviceOps& t = table_;
  t.name = "guarded-fake";
#define BRAID_GUARD(op) t.op = &Wrap<&ops::op<float>>::Call
  BRAID_GUARD(gelu_forward);
  BRAID_GUARD(gelu_backward);
  BRAID_GUARD(swiglu_forward);
  BRAID_GUARD(swiglu_backward);
  BRAID_GUARD(residual_forward);
  BRAID_GUARD(residual_backward);
  BRAID_GUARD(embedding_forward);
  BRAID_GUARD(embedding_backward);
  BRAID_GUARD(add_positions_forward);
  BRAID_GUARD(add_positions_backward);
  BRAID_GUARD(matmul_forward);
  BRAID_GUARD(matmul_backward);
  BRAID_GUARD(gemm);
  BRAID_GUARD(gather_rows);
  BRAID_GUARD(scatter_rows);
  BRAID_GUARD(scatter_add_rows);
  BRAID_GUARD(zero_rows);
  BRAID_GUARD(add_bias);
  BRAID_GUARD(copy);
  BRAID_GUARD(accumulate);
  BRAID_GUARD(rmsnorm_forward);
  BRAID_GUARD(rmsnorm_backward);
  BRAID_GUARD(layernorm_forward);
  BRAID_GUARD(layernorm_backward);
  BRAID_GUARD(attention_forward);
  BRAID_GUARD(attention_backward);
  BRAID_GUARD(cross_entropy_backward);
  BRAID_GUARD(mse_backward);
  BRAID_GUARD(cross_entropy_forward);
  t.vocab_embedding_forward = &Wrap<&ops::vocab_embedding_forward>::Call;
  t.vocab_embedding_backward = &Wrap<&ops::vocab_embedding_backward>::Call;
  t.vocab_ce_row_max = &Wrap<&ops::vocab_ce_row_max>::Call;
  t.vocab_ce_exp_sums = &Wrap<&ops::vocab_ce_exp_sums>::Call;
  t.vocab_ce_loss = &Wrap<&ops::vocab_ce_loss>::Call;
  t.vocab_ce_backward = &Wrap<&ops::vocab_ce_backward>::Call;
  BRAID_GUARD(mse_rows_forward);
  t.grad_norm = &Wrap<&GradNormInto>::Call;
  t.clip_to_norm = &Wrap<&ClipToNormAt>::Call;
  t.adamw_step = &Wrap<&AdamWStepFlat>::Call;
  BRAID_GUARD(patchify);
  BRAID_GUARD(unpatchify);
  // diffusion.h (DiT)
  BRAID_GUARD(timestep_features);
  BRAID_GUARD(diffusion_noise);
  BRAID_GUARD(keyed_normal);
  BRAID_GUARD(ddim_update);
  BRAID_GUARD(diffusion_to_pixels);
#undef BRAID_GUARD
  if (bf16_activations) {
    ops::Bf16ActivationOps& b = bf16_table_;
#define BRAID_GUARD_BF16(op) b.op = &Wrap<&ops::bf16act::op>::Call
    BRAID_GUARD_BF16(rmsnorm_forward);
    BRAID_GUARD_BF16(layernorm_forward);
    BRAID_GUARD_BF16(matmul_forward);
    BRAID_GUARD_BF16(matmul_forward_f32);
    BRAID_GUARD_BF16(matmul_backward);
    BRAID_GUARD_BF16(attention_forward);
    BRAID_GUARD_BF16(attention_backward);
    BRAID_GUARD_BF16(gelu_forward);
    BRAID_GUARD_BF16(gelu_backward);
    BRAID_GUARD_BF16(swiglu_forward);
    BRAID_GUARD_BF16(swiglu_backward);
#undef BRAID_GUARD_BF16
    t.bf16_activations = &bf16_table_;
    t.name = "guarded-fake-bf16";
  }
}

}  // namespace braid::testing_support
