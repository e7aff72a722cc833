# Routing plans and their checks (common/reorder): pure, no processes.
braid_test(reorder_routing_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/reorder_routing_test.cc
           LIBS braid_reorder LABELS reorder)
braid_test(reorder_balance_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/reorder_balance_test.cc
           LIBS braid_reorder LABELS reorder)
braid_test(reorder_cost_profile_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/reorder_cost_profile_test.cc
           LIBS braid_reorder LABELS reorder)
if(TARGET braid_reorderer_core)
  braid_test(reorderer_step_cache_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/reorderer_step_cache_test.cc
             LIBS braid_reorderer_core LABELS reorder)
endif()
