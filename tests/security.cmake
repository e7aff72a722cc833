# RPC security (docs/RELIABILITY.md, "Security"; issue 7): bearer tokens,
# TLS, the loopback-only binding rule, message size limits, `braid certs`.
# security_test: in one process (~2 s). security_binary_test: the real
# braid-orchestrator, braid-reorderer, braid-encoder-worker and braid
# binaries (~15 s on 2 cores; needs /usr/bin/openssl, Debian package openssl).
braid_test(security_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/security_test.cc
  LIBS braid_rpc braid_metrics braid_proto
  LABELS reliability security)

if(TARGET braid-orchestrator AND TARGET braid-encoder-worker AND TARGET braid-reorderer AND TARGET braid)
  braid_test(security_binary_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/security_binary_test.cc
    LIBS braid_rpc braid_proto
    LABELS reliability security)
  target_compile_definitions(security_binary_test PRIVATE
    BRAID_ORCHESTRATOR_BIN="$<TARGET_FILE:braid-orchestrator>"
    BRAID_ENCODER_WORKER_BIN="$<TARGET_FILE:braid-encoder-worker>"
    BRAID_REORDERER_BIN="$<TARGET_FILE:braid-reorderer>"
    BRAID_CLI_BIN="$<TARGET_FILE:braid>")
  add_dependencies(security_binary_test braid-orchestrator braid-encoder-worker braid-reorderer braid)
endif()

# `braid up --certs DIR --token-file FILE` end to end (~10 s).
if(TARGET braid)
  add_test(NAME security_braid_up_test
           COMMAND /bin/bash ${CMAKE_CURRENT_SOURCE_DIR}/security_braid_up_test.sh $<TARGET_FILE:braid> ${CMAKE_SOURCE_DIR})
  set_tests_properties(security_braid_up_test PROPERTIES LABELS "integration;reliability;security" TIMEOUT 180)
endif()
