braid_test(schedule_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/schedule_test.cc LIBS braid_schedule LABELS reorder)
