// braid-llm-worker: one rank of the llm pool. Everything but the role
// lives in the shared worker runtime (common/worker/worker_main.h).
#include "common/worker/worker_main.h"

int main(int argc, char** argv) { return braid::worker::RunWorkerMain(braid::worker::Role::kLlm, argc, argv); }
