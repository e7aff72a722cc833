# The ViT and the DiT on the guarded fake device, bit-equal to the host.
braid_test(nn_device_vit_dit_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/nn_device_vit_dit_test.cc
  LIBS braid_nn braid_test_guarded_device LABELS nn)
