# braid_metrics_bench: the direct CPU cost of the metrics (bench/metrics_bench.cc).
add_executable(braid_metrics_bench ${CMAKE_CURRENT_LIST_DIR}/metrics_bench.cc)
target_link_libraries(braid_metrics_bench PRIVATE braid_worker_main braid_orchestrator_metrics benchmark::benchmark)
