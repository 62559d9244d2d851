#include "trainer/job_store.h"

#include <absl/strings/str_cat.h>
#include <sqlite3.h>

#include "rpc/proto_utf8.h"

namespace medgemma::trainer {
namespace {

absl::Status SqliteError(sqlite3* db, const std::string& what) {
  return absl::InternalError(absl::StrCat("sqlite ", what, ": ", sqlite3_errmsg(db)));
}

// A prepared statement that finalizes itself.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) { ok_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) == SQLITE_OK; }
  ~Statement() { sqlite3_finalize(stmt_); }
  bool ok() const { return ok_; }
  void BindText(int index, const std::string& text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void BindBlob(int index, const std::string& bytes) {
    sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  }
  void BindInt(int index, int64_t value) { sqlite3_bind_int64(stmt_, index, value); }
  int64_t Int(int column) { return sqlite3_column_int64(stmt_, column); }
  int Step() { return sqlite3_step(stmt_); }
  std::string Text(int column) {
    const unsigned char* text = sqlite3_column_text(stmt_, column);
    return text ? std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
                : std::string();
  }
  std::string Blob(int column) {
    const void* data = sqlite3_column_blob(stmt_, column);
    return std::string(static_cast<const char*>(data), static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  bool ok_ = false;
};

// Proto3 refuses to parse a string field that is not valid UTF-8, so outside text is repaired
// before it is stored.
template <typename Message>
std::string SerializeValidUtf8(const Message& message) {
  Message copy = message;
  rpc::MakeStringsValidUtf8(&copy);
  return copy.SerializeAsString();
}

// A record that cannot be read back (a damaged database page, a record from a broken build) fails
// that one job, visibly, instead of taking listing and start-up down with it.
JobRecord UnreadableRecord(const std::string& job_id, v1::JobState state) {
  JobRecord r;
  r.status.set_job_id(job_id);
  r.status.set_state(state == v1::SUCCEEDED || state == v1::CANCELLED ? state : v1::FAILED);
  r.status.set_error("the trainer's stored record of this job is unreadable");
  rpc::MakeStringsValidUtf8(&r.status);
  return r;
}
}  // namespace

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    absl::Status error = SqliteError(db, absl::StrCat("open ", path.string()));
    sqlite3_close(db);
    return error;
  }
  std::unique_ptr<JobStore> store(new JobStore(db));
  sqlite3_busy_timeout(db, 5000);
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                          "CREATE TABLE IF NOT EXISTS jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT UNIQUE "
                          "NOT NULL, state INTEGER NOT NULL, request BLOB NOT NULL, status BLOB NOT NULL, "
                          "updated_at INTEGER NOT NULL)"}) {
    if (absl::Status s = store->Exec(sql); !s.ok()) return s;
  }
  return store;
}

JobStore::~JobStore() { sqlite3_close(db_); }

absl::Status JobStore::Exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    absl::Status s = absl::InternalError(absl::StrCat("sqlite '", sql, "': ", error ? error : "?"));
    sqlite3_free(error);
    return s;
  }
  return absl::OkStatus();
}

absl::Status JobStore::Insert(const JobRecord& record) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement insert(db_, "INSERT INTO jobs (job_id, state, request, status, updated_at) VALUES (?, ?, ?, ?, ?)");
  if (!insert.ok()) return SqliteError(db_, "prepare insert");
  insert.BindText(1, record.status.job_id());
  insert.BindInt(2, record.status.state());
  insert.BindBlob(3, SerializeValidUtf8(record.request));
  insert.BindBlob(4, SerializeValidUtf8(record.status));
  insert.BindInt(5, record.status.updated_at());
  if (insert.Step() != SQLITE_DONE) return SqliteError(db_, "insert");
  return absl::OkStatus();
}

absl::Status JobStore::UpdateStatus(const v1::JobStatus& status) {
  std::lock_guard<std::mutex> lock(mu_);
  Statement update(db_, "UPDATE jobs SET state = ?, status = ?, updated_at = ? WHERE job_id = ?");
  if (!update.ok()) return SqliteError(db_, "prepare update");
  update.BindInt(1, status.state());
  update.BindBlob(2, SerializeValidUtf8(status));
  update.BindInt(3, status.updated_at());
  update.BindText(4, status.job_id());
  if (update.Step() != SQLITE_DONE) return SqliteError(db_, "update");
  if (sqlite3_changes(db_) != 1) return absl::NotFoundError(absl::StrCat("no job ", status.job_id()));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<JobRecord>> JobStore::List() {
  std::lock_guard<std::mutex> lock(mu_);
  Statement select(db_, "SELECT request, status, job_id, state FROM jobs ORDER BY seq");
  if (!select.ok()) return SqliteError(db_, "prepare select");
  std::vector<JobRecord> records;
  int rc;
  while ((rc = select.Step()) == SQLITE_ROW) {
    JobRecord r;
    const std::string job_id = select.Text(2);
    const bool readable = r.request.ParseFromString(select.Blob(0)) && r.status.ParseFromString(select.Blob(1)) &&
                          r.status.job_id() == job_id;
    if (!readable) r = UnreadableRecord(job_id, static_cast<v1::JobState>(select.Int(3)));
    records.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, "select");
  return records;
}

}  // namespace medgemma::trainer
