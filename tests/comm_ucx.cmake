braid_test(comm_ucx_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/comm_ucx_test.cc LIBS braid_comm_ucx LABELS comm)
