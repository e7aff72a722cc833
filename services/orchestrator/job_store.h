// JobStore: the orchestrator's job table on disk, an SQLite database in its
// state directory (<state-dir>/orchestrator.db; WAL, synchronous=FULL), so
// that a restarted orchestrator knows its jobs (docs/RELIABILITY.md,
// "Orchestrator restart"). One row per job:
//   jobs(id TEXT PRIMARY KEY, seq INTEGER, state TEXT, config TEXT, record TEXT)
// `record` is the Job as JSON (JobToJson), `config` the resolved spec YAML,
// `seq` the submission order. Each Put is one transaction.
//
// Threads: one connection, used under the JobTable's mutex.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/base/status.h"
#include "services/orchestrator/core_types.h"

struct sqlite3;

namespace braid::orchestrator {

// A Job as JSON and back (the last step's metrics and timeline are not
// kept: they come back with the next committed step).
nlohmann::json JobToJson(const Job& job);
StatusOr<Job> JobFromJson(const nlohmann::json& j);

struct StoredJob {
  Job job;
  std::string config_yaml;  // the resolved spec
};

class JobStore {
 public:
  // Opens (creating it and its table if missing). Unavailable naming the
  // file when it cannot be opened or is not a braid job store.
  static StatusOr<std::unique_ptr<JobStore>> Open(const std::string& path);
  ~JobStore();
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  // Inserts or replaces the job's row.
  Status Put(const Job& job, const std::string& config_yaml);
  // Every job, in submission order. DataLoss naming the job for a row that
  // does not parse.
  StatusOr<std::vector<StoredJob>> LoadAll();

  const std::string& path() const { return path_; }

 private:
  JobStore(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  Status Exec(const std::string& sql);

  std::string path_;
  sqlite3* db_ = nullptr;
  int64_t next_seq_ = 1;
};

}  // namespace braid::orchestrator
