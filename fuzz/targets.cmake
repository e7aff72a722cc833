# The fuzz targets: for each name in BRAID_FUZZ_TARGETS, its sources
# (BRAID_FUZZ_<name>_SOURCES) and libraries (BRAID_FUZZ_<name>_LIBS). Shared
# by fuzz/CMakeLists.txt (libFuzzer builds) and tests/fuzz_regression.cmake
# (the same sources with replay_main.cc under the normal compiler).
set(BRAID_FUZZ_DIR ${CMAKE_SOURCE_DIR}/fuzz)
set(BRAID_FUZZ_TARGETS job_yaml pools_yaml manifest_jsonl idx image safetensors rpc)

set(BRAID_FUZZ_job_yaml_SOURCES ${BRAID_FUZZ_DIR}/job_yaml_fuzz.cc)
set(BRAID_FUZZ_job_yaml_LIBS braid_config)
# cli/pools_config.cc belongs to the `braid` executable, not to a library.
set(BRAID_FUZZ_pools_yaml_SOURCES ${BRAID_FUZZ_DIR}/pools_yaml_fuzz.cc ${CMAKE_SOURCE_DIR}/cli/pools_config.cc)
set(BRAID_FUZZ_pools_yaml_LIBS braid_config)
set(BRAID_FUZZ_manifest_jsonl_SOURCES ${BRAID_FUZZ_DIR}/manifest_jsonl_fuzz.cc)
set(BRAID_FUZZ_manifest_jsonl_LIBS braid_data)
set(BRAID_FUZZ_idx_SOURCES ${BRAID_FUZZ_DIR}/idx_fuzz.cc)
set(BRAID_FUZZ_idx_LIBS braid_data)
set(BRAID_FUZZ_image_SOURCES ${BRAID_FUZZ_DIR}/image_fuzz.cc)
set(BRAID_FUZZ_image_LIBS braid_data)
set(BRAID_FUZZ_safetensors_SOURCES ${BRAID_FUZZ_DIR}/safetensors_fuzz.cc)
set(BRAID_FUZZ_safetensors_LIBS braid_checkpoint)
set(BRAID_FUZZ_rpc_SOURCES ${BRAID_FUZZ_DIR}/rpc_fuzz.cc)
set(BRAID_FUZZ_rpc_LIBS braid_orchestrator_grpc)
