# The pure half of the NCCL bootstrap (docs/NCCL.md): unique-id hex text and
# the DP/TP/MP split colours against common/parallel's groups.
braid_test(nccl_id_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/nccl_id_test.cc LIBS braid_nccl_id LABELS comm)
