braid_test(host_cores_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/host_cores_test.cc LIBS braid_base)
