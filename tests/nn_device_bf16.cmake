# bf16 activation storage on the guarded fake device (docs/GPU.md, "Mixed
# precision"): the rounding, the reference bf16 ops, the blocks' bf16
# buffers and the three modules and a training run against the float run.
braid_test(nn_device_bf16_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/nn_device_bf16_test.cc
  LIBS braid_nn braid_train braid_config braid_test_guarded_device LABELS nn)
