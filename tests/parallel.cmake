# Parallel layouts (issue 8, docs/PARALLELISM.md): rank arithmetic, layer
# splits and parameter shards (pure), and the tensor-parallel math of the
# block, the LLM and the ViT against the single-process model, with TP
# ranks as threads (~2 s).
braid_test(parallel_layout_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/parallel_layout_test.cc
           LIBS braid_parallel LABELS unit parallel)
braid_test(tp_equivalence_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tp_equivalence_test.cc
           LIBS braid_nn braid_parallel LABELS unit parallel)
