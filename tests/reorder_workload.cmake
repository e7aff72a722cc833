braid_test(reorder_workload_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/reorder_workload_test.cc
           LIBS braid_reorder LABELS reorder)
