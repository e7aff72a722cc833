# Orchestrator (services/orchestrator) and its rpc/metrics helpers.
# Core: plain classes, no server. gRPC: in-process server on port 0 and the
# braid-orchestrator binary.
braid_test(orchestrator_core_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/orchestrator_job_table_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/orchestrator_worker_table_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/orchestrator_scheduler_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/orchestrator_rendezvous_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/orchestrator_step_committer_test.cc
          ${CMAKE_CURRENT_SOURCE_DIR}/orchestrator_recovery_test.cc
  LIBS braid_orchestrator_core nlohmann_json::nlohmann_json
  LABELS orchestrator)
target_compile_definitions(orchestrator_core_test PRIVATE BRAID_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
braid_test(orchestrator_auto_layout_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/orchestrator_auto_layout_test.cc
           LIBS braid_orchestrator_auto braid_config LABELS orchestrator plan)
target_compile_definitions(orchestrator_auto_layout_test PRIVATE BRAID_SOURCE_DIR="${CMAKE_SOURCE_DIR}")

if(TARGET braid-orchestrator AND TARGET braid-encoder-worker)
  braid_test(orchestrator_grpc_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/orchestrator_grpc_test.cc
            ${CMAKE_CURRENT_SOURCE_DIR}/orchestrator_rpc_test.cc
    LIBS braid_orchestrator_grpc braid_metrics
    LABELS orchestrator)
  target_compile_definitions(orchestrator_grpc_test PRIVATE BRAID_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    BRAID_ORCHESTRATOR_BIN="$<TARGET_FILE:braid-orchestrator>"
    BRAID_ENCODER_WORKER_BIN="$<TARGET_FILE:braid-encoder-worker>")
  add_dependencies(orchestrator_grpc_test braid-orchestrator braid-encoder-worker)
  braid_test(orchestrator_metrics_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/orchestrator_metrics_test.cc
    LIBS braid_orchestrator_metrics
    LABELS orchestrator observability)
  braid_test(rpc_observability_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/rpc_observability_test.cc
    LIBS braid_orchestrator_grpc braid_metrics
    LABELS observability)
endif()
