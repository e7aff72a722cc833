# Job spec parsing and validation (common/config).
braid_test(config_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/config_test.cc LIBS braid_config)
