# The worker runtime: module runners over the in-process fabric, checked
# against the single-process trainer.
braid_test(worker_inproc_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/worker_inproc_test.cc
           LIBS braid_worker braid_train braid_checkpoint LABELS worker)
