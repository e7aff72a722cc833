# common/data tests (IDX, fortunes, tokenizer, images, manifests, task mixer).
braid_test(data_test
  SOURCES
    ${CMAKE_CURRENT_SOURCE_DIR}/data_idx_test.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/data_fortunes_test.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/data_tokenizer_test.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/data_image_io_test.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/data_manifest_test.cc
    ${CMAKE_CURRENT_SOURCE_DIR}/data_task_mixer_test.cc
  LIBS braid_data
  LABELS data)
