# The single-source math of the losses, AdamW and the keyed RNG shared by the
# CPU and CUDA kernels (common/ops/math/{loss,adamw,rng}.h).
braid_test(ops_math_loss_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ops_math_loss_test.cc
  LIBS braid_ops braid_optim LABELS ops)
