# Analytic module costs of the planner (common/plan/model_cost): pure, hand-computed values.
braid_test(plan_model_cost_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/plan_model_cost_test.cc
           LIBS braid_plan braid_config LABELS plan)
