# How a DP group's device ranks agree on NCCL or the host-staged Gloo
# fallback for their gradient all-reduce (common/worker/dp_allreduce_choice.h).
braid_test(worker_dp_allreduce_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/worker_dp_allreduce_test.cc
           LIBS braid_dp_allreduce_choice braid_nccl_id LABELS worker)
