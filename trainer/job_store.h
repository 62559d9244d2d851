// Job records in SQLite (WAL, synchronous FULL): the request as submitted and the latest status,
// both as serialized protos, plus the columns the trainer queries by. Every write is one
// transaction, so a crash leaves each job at its last recorded status.
#pragma once

#include <absl/status/statusor.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "medgemma/v1/trainer.pb.h"

struct sqlite3;

namespace medgemma::trainer {

struct JobRecord {
  v1::FineTuneRequest request;
  v1::JobStatus status;
};

class JobStore {
 public:
  static absl::StatusOr<std::unique_ptr<JobStore>> Open(const std::filesystem::path& path);
  ~JobStore();

  absl::Status Insert(const JobRecord& record);
  absl::Status UpdateStatus(const v1::JobStatus& status);
  // Every job in submission order.
  absl::StatusOr<std::vector<JobRecord>> List();

 private:
  explicit JobStore(sqlite3* db) : db_(db) {}
  absl::Status Exec(const std::string& sql);
  std::mutex mu_;
  sqlite3* db_;
};

}  // namespace medgemma::trainer
