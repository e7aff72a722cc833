# Deployment manifests (deploy/k8s kustomize base and overlays, deploy/slurm,
# yamllint on deploy/): rendered and validated offline against the Kubernetes
# schemas and braid's rules (tests/deploy_manifests_test.sh; its tools come
# from scripts/setup_tools.sh). With the braid binary it also loads the
# planner cluster specs of deploy/k8s. ~5 s.
set(deploy_test_args "")
if(TARGET braid)
  set(deploy_test_args $<TARGET_FILE:braid>)
endif()
add_test(NAME deploy_manifests_test
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/deploy_manifests_test.sh ${deploy_test_args}
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(deploy_manifests_test PROPERTIES LABELS "deploy" TIMEOUT 300)
