braid_test(comm_gloo_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/comm_gloo_test.cc LIBS braid_comm_gloo LABELS comm)
