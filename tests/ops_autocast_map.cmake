# The bf16 weight-mirror bookkeeping of the autocast CUDA backend
# (common/ops/cuda/shadow_map.h: host-only, built in every configuration).
braid_test(ops_autocast_map_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ops_autocast_map_test.cc LIBS braid_base LABELS ops)
