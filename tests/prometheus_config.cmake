# Monitoring configuration (issue 6): promtool check config / check rules /
# test rules on deploy/prometheus/, and the Grafana dashboard's metric names
# against docs/METRICS.md (tests/prometheus_config_test.sh; ~1 s). Needs
# /usr/bin/promtool (Debian package prometheus) and /usr/bin/python3; fails,
# not skips, without them.
add_test(NAME prometheus_config_test
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/prometheus_config_test.sh ${CMAKE_SOURCE_DIR}
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(prometheus_config_test PROPERTIES LABELS "config" TIMEOUT 120)
