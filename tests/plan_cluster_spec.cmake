# Cluster specs for the planner (common/plan/cluster_spec.h) and the shipped
# deploy/clusters/*.yaml: pure parsing, no processes.
braid_test(plan_cluster_spec_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/plan_cluster_spec_test.cc
           LIBS braid_plan LABELS plan)
