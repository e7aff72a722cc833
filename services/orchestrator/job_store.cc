#include "services/orchestrator/job_store.h"

#include <sqlite3.h>

namespace braid::orchestrator {
using nlohmann::json;

json JobToJson(const Job& job) {
  json history = json::array();
  for (const JobHistoryEvent& e : job.history) history.push_back({{"unix", e.unix}, {"text", e.text}});
  return {{"id", job.id},
          {"name", job.name},
          {"state", static_cast<int>(job.state)},
          {"reason", job.reason},
          {"layout", LayoutToJson(job.layout)},
          {"step", job.step},
          {"total_steps", job.total_steps},
          {"run_dir", job.run_dir},
          {"submitted_unix", job.submitted_unix},
          {"started_unix", job.started_unix},
          {"finished_unix", job.finished_unix},
          {"attempt", job.attempt},
          {"restarts", job.restarts},
          {"max_restarts", job.max_restarts},
          {"resume_step", job.resume_step},
          {"resume_checkpoint", job.resume_checkpoint},
          {"initial_step", job.initial_step},
          {"initial_checkpoint", job.initial_checkpoint},
          {"history", std::move(history)}};
}

StatusOr<Job> JobFromJson(const json& j) {
  Job job;
  try {
    job.id = j.at("id").get<std::string>();
    job.name = j.at("name").get<std::string>();
    const int state = j.at("state").get<int>();
    if (state < 1 || state > 6) return Status::DataLoss("job " + job.id + ": bad state " + std::to_string(state));
    job.state = static_cast<JobState>(state);
    job.reason = j.at("reason").get<std::string>();
    if (!LayoutFromJson(j.at("layout"), &job.layout)) return Status::DataLoss("job " + job.id + ": bad layout");
    job.step = j.at("step").get<int64_t>();
    job.total_steps = j.at("total_steps").get<int64_t>();
    job.run_dir = j.at("run_dir").get<std::string>();
    job.submitted_unix = j.at("submitted_unix").get<double>();
    job.started_unix = j.at("started_unix").get<double>();
    job.finished_unix = j.at("finished_unix").get<double>();
    job.attempt = j.at("attempt").get<int>();
    job.restarts = j.at("restarts").get<int>();
    job.max_restarts = j.at("max_restarts").get<int>();
    job.resume_step = j.at("resume_step").get<int64_t>();
    job.resume_checkpoint = j.at("resume_checkpoint").get<std::string>();
    job.initial_step = j.at("initial_step").get<int64_t>();
    job.initial_checkpoint = j.at("initial_checkpoint").get<std::string>();
    for (const json& e : j.at("history"))
      job.history.push_back({e.at("unix").get<double>(), e.at("text").get<std::string>()});
  } catch (const json::exception& e) {
    return Status::DataLoss("job record " + (job.id.empty() ? std::string("?") : job.id) + ": " + e.what());
  }
  return job;
}

StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::Unavailable("job store " + path + ": " + msg);
  }
  std::unique_ptr<JobStore> store(new JobStore(path, db));
  sqlite3_busy_timeout(db, 5000);
  RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL"));
  RETURN_IF_ERROR(store->Exec("PRAGMA synchronous=FULL"));
  RETURN_IF_ERROR(store->Exec(
      "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, state TEXT NOT NULL, "
      "config TEXT NOT NULL, record TEXT NOT NULL)"));
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(seq), 0) FROM jobs", -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    store->next_seq_ = sqlite3_column_int64(st, 0) + 1;
  sqlite3_finalize(st);
  return store;
}

JobStore::~JobStore() { sqlite3_close(db_); }

Status JobStore::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return Status::Unavailable("job store " + path_ + ": " + msg + " (in: " + sql + ")");
  }
  return Status::Ok();
}

Status JobStore::Put(const Job& job, const std::string& config_yaml) {
  // The row keeps its seq when it exists (INSERT ... ON CONFLICT).
  static const char* kSql =
      "INSERT INTO jobs (id, seq, state, config, record) VALUES (?1, ?2, ?3, ?4, ?5) "
      "ON CONFLICT(id) DO UPDATE SET state = excluded.state, config = excluded.config, record = excluded.record";
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, kSql, -1, &st, nullptr) != SQLITE_OK)
    return Status::Unavailable("job store " + path_ + ": " + sqlite3_errmsg(db_));
  const std::string record = JobToJson(job).dump();
  const std::string state = JobStateName(job.state);
  sqlite3_bind_text(st, 1, job.id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, next_seq_);
  sqlite3_bind_text(st, 3, state.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, config_yaml.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 5, record.c_str(), -1, SQLITE_TRANSIENT);
  const int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return Status::Unavailable("job store " + path_ + ": cannot save job " + job.id + ": " + sqlite3_errmsg(db_));
  if (sqlite3_changes(db_) > 0) ++next_seq_;
  return Status::Ok();
}

StatusOr<std::vector<StoredJob>> JobStore::LoadAll() {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT id, config, record FROM jobs ORDER BY seq", -1, &st, nullptr) != SQLITE_OK)
    return Status::Unavailable("job store " + path_ + ": " + sqlite3_errmsg(db_));
  std::vector<StoredJob> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    auto text = [&](int col) {
      const unsigned char* p = sqlite3_column_text(st, col);
      return p ? std::string(reinterpret_cast<const char*>(p)) : std::string();
    };
    const std::string id = text(0);
    const json j = json::parse(text(2), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      sqlite3_finalize(st);
      return Status::DataLoss("job store " + path_ + ": job " + id + ": record is not JSON");
    }
    StatusOr<Job> job = JobFromJson(j);
    if (!job.ok()) {
      sqlite3_finalize(st);
      return Status::DataLoss("job store " + path_ + ": " + job.status().message());
    }
    out.push_back({std::move(*job), text(1)});
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return Status::Unavailable("job store " + path_ + ": " + sqlite3_errmsg(db_));
  return out;
}

}  // namespace braid::orchestrator
