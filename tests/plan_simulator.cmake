# The step simulator (common/plan/simulator): pure, no processes.
braid_test(plan_simulator_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/plan_simulator_test.cc
           LIBS braid_plan nlohmann_json::nlohmann_json LABELS plan)
