# Parallel layouts (issue 8, docs/PARALLELISM.md): rank arithmetic, layer
# splits and parameter shards (pure), and the tensor-parallel math of the
# block, the LLM and the ViT against the single-process model, with TP
# ranks as threads (~2 s).
braid_test(parallel_layout_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/parallel_layout_test.cc
           LIBS braid_parallel LABELS unit parallel)
braid_test(tp_equivalence_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tp_equivalence_test.cc
           LIBS braid_nn braid_parallel braid_checkpoint LABELS unit parallel)

# Real worker processes under `braid run` (tests/parallel_equivalence_test.py):
# the demo job with TP and PP layouts against the single-process trainer, 20 steps,
# losses and final parameters within 1e-4; each case 15-20 s on 2 cores.
if(TARGET braid)
  foreach(case llm_tp2 llm_tp3 enc_tp2_llm_tp3 tp_dp llm_pp2 llm_tp2_pp2 resume_tp2_pp2)
    add_test(NAME parallel_equivalence_${case}
             COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/parallel_equivalence_test.py $<TARGET_FILE:braid> ${case}
             WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties(parallel_equivalence_${case} PROPERTIES LABELS "integration;parallel" TIMEOUT 600)
  endforeach()
endif()
