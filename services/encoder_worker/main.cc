// braid-encoder-worker: one rank of the encoder pool. Everything but the role
// lives in the shared worker runtime (common/worker/worker_main.h).
#include "common/worker/worker_main.h"

int main(int argc, char** argv) { return braid::worker::RunWorkerMain(braid::worker::Role::kEncoder, argc, argv); }
