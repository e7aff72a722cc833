# GPU tests (label `gpu`): built whenever the CUDA backend is, run by ctest
# everywhere; with no device they exit 77 after saying why, which ctest
# shows as "Skipped" (tests/gpu/gpu_test_main.cc). One ctest entry per binary.
# Each area adds its binaries in tests/gpu_<area>.cmake with braid_gpu_test.
# FILTER: the gtest cases of this entry (the others go to braid_gpu_test_part
# entries of the same binary).
function(braid_gpu_test name)
  cmake_parse_arguments(T "" "FILTER" "SOURCES;LIBS" ${ARGN})
  if(NOT BRAID_CUDA_ENABLED)
    return()
  endif()
  add_executable(${name} ${T_SOURCES} ${CMAKE_SOURCE_DIR}/tests/gpu/gpu_test_main.cc)
  target_link_libraries(${name} PRIVATE ${T_LIBS} braid_gpu GTest::gtest)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR})
  set(filter_arg "")
  if(T_FILTER)
    set(filter_arg "--gtest_filter=${T_FILTER}")
  endif()
  add_test(NAME ${name} COMMAND ${name} ${filter_arg} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES LABELS "gpu" SKIP_RETURN_CODE 77 TIMEOUT 900)
endfunction()

# braid_gpu_test_part(NAME TARGET t FILTER f MIN_DEVICES n): another ctest
# entry of GPU test binary t running the gtest cases f, skipped (exit 77,
# gpu_test_main.cc) on machines with fewer than n CUDA devices.
function(braid_gpu_test_part name)
  cmake_parse_arguments(T "" "TARGET;FILTER;MIN_DEVICES" "" ${ARGN})
  if(NOT TARGET ${T_TARGET})
    return()
  endif()
  add_test(NAME ${name} COMMAND ${T_TARGET} --gtest_filter=${T_FILTER} --braid_min_devices=${T_MIN_DEVICES}
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(${name} PROPERTIES LABELS "gpu" SKIP_RETURN_CODE 77 TIMEOUT 900)
endfunction()

braid_gpu_test(gpu_ops_activation_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/ops_activation_test.cc
  LIBS braid_ops braid_ops_cuda)

braid_gpu_test(gpu_backend_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/backend_test.cc
  LIBS braid_ops braid_tensor braid_ops_cuda)

braid_gpu_test(gpu_llm_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/llm_test.cc
  LIBS braid_nn braid_ops_cuda)

braid_gpu_test(gpu_train_test
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/gpu/train_test.cc
  LIBS braid_train braid_ops_cuda)
