# The distributed runtime on a device: in-process ranks each on a guarded
# fake device, against the host runtime and the single-process trainer.
braid_test(worker_device_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/worker_device_test.cc
           LIBS braid_worker braid_train braid_checkpoint braid_test_guarded_device LABELS worker)
