# braid_bench: CPU op throughput and the demo train step, each against
# ceilings (OpenBLAS sgemm, memcpy) measured at start-up in the same run.
# Run it with scripts/bench.sh; see docs/PERFORMANCE.md.
add_executable(braid_bench
  ${CMAKE_CURRENT_LIST_DIR}/ops_bench.cc
  ${CMAKE_CURRENT_LIST_DIR}/train_step_bench.cc)
target_link_libraries(braid_bench PRIVATE braid_ops braid_train benchmark::benchmark OpenMP::OpenMP_CXX)
