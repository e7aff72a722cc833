# The step model and the layout planner (common/plan): pure.
braid_test(plan_planner_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/plan_planner_test.cc LIBS braid_plan LABELS plan)
