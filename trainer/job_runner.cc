#include "trainer/job_runner.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/time/clock.h>
#include <absl/time/time.h>

#include <filesystem>
#include <random>

#include "base/log.h"
#include "base/status_macros.h"
#include "rpc/proto_utf8.h"
#include "trainer/fine_tune_request.h"
#include "trainer/promoter.h"

namespace medgemma::trainer {
namespace fs = std::filesystem;
namespace {

constexpr auto kPersistEvery = std::chrono::seconds(1);

bool IsTerminal(v1::JobState state) {
  return state == v1::SUCCEEDED || state == v1::FAILED || state == v1::CANCELLED;
}

int64_t NowSeconds() { return absl::ToUnixSeconds(absl::Now()); }

std::string NewJobId() {
  std::random_device random;
  return absl::StrCat("ft-", absl::FormatTime("%Y%m%d-%H%M%S", absl::Now(), absl::UTCTimeZone()), "-",
                      absl::StrFormat("%06x", random() & 0xffffff));
}

// One line per state change; FAILED at error level, with the job's error.
void LogJobState(const v1::JobStatus& s) {
  std::vector<LogField> fields = {
      {"job_id", s.job_id()}, {"adapter_name", s.adapter_name()}, {"state", v1::JobState_Name(s.state())}};
  if (!s.error().empty()) fields.push_back({"error", s.error()});
  if (!s.adapter_path().empty()) fields.push_back({"adapter_path", s.adapter_path()});
  Log(s.state() == v1::FAILED ? LogLevel::kError : LogLevel::kInfo, "job state", fields);
}

v1::EvalMetrics ToProto(const EvalMetrics& m) {
  v1::EvalMetrics p;
  p.set_accuracy(static_cast<float>(m.accuracy));
  p.set_f1_weighted(static_cast<float>(m.f1_weighted));
  p.set_binary_accuracy(static_cast<float>(m.binary_accuracy));
  p.set_binary_f1(static_cast<float>(m.binary_f1));
  p.set_num_examples(m.num_examples);
  for (int c : m.confusion) p.add_confusion(c);
  return p;
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobRunner>> JobRunner::Create(const TrainerConfig& config, const ModelBundle* bundle,
                                                             JobStore* store, TrainerMetrics* metrics) {
  std::unique_ptr<JobRunner> runner(new JobRunner(config, bundle, store, metrics));
  MG_ASSIGN_OR_RETURN(std::vector<JobRecord> records, store->List());
  for (auto& r : records) {
    const std::string id = r.status.job_id();
    runner->order_.push_back(id);
    runner->jobs_[id] = Entry{std::move(r), 1};
  }
  runner->CountStates();
  return runner;
}

JobRunner::~JobRunner() { Stop(); }

void JobRunner::Start() { worker_ = std::thread([this] { WorkLoop(); }); }

void JobRunner::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (worker_.joinable()) worker_.join();
}

absl::StatusOr<v1::Job> JobRunner::Submit(const v1::FineTuneRequest& request) {
  MG_RETURN_IF_ERROR(ResolveFineTuneRequest(request, config_.fine_tune_context(), bundle_->model->weights()).status());
  v1::JobStatus status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int queued = 0;
    for (const auto& [id, entry] : jobs_) queued += entry.record.status.state() == v1::QUEUED;
    if (queued >= config_.max_queued_jobs) {
      return absl::ResourceExhaustedError(absl::StrCat(queued, " jobs are already queued (max_queued_jobs)"));
    }
    status.set_job_id(NewJobId());
    status.set_adapter_name(request.adapter_name());
    status.set_state(v1::QUEUED);
    status.set_created_at(NowSeconds());
    status.set_updated_at(status.created_at());
    status.set_resumed_from_step(-1);
    JobRecord record{request, status};
    MG_RETURN_IF_ERROR(store_->Insert(record));
    order_.push_back(status.job_id());
    jobs_[status.job_id()] = Entry{record, 1};
    CountStates();
  }
  // Logged before the worker can see the job, so QUEUED always precedes its RUNNING line.
  LogJobState(status);
  changed_.notify_all();
  v1::Job job;
  job.set_job_id(status.job_id());
  job.set_state(status.state());
  return job;
}

absl::StatusOr<v1::JobStatus> JobRunner::Get(const std::string& job_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
  return it->second.record.status;
}

std::vector<v1::JobStatus> JobRunner::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::JobStatus> out;
  for (const auto& id : order_) out.push_back(jobs_.at(id).record.status);
  return out;
}

absl::StatusOr<JobRunner::Update> JobRunner::WaitForUpdate(const std::string& job_id, uint64_t after,
                                                           std::chrono::system_clock::time_point deadline) const {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
  changed_.wait_until(lock, deadline, [&] { return it->second.version > after || stopping_; });
  if (stopping_ && it->second.version <= after) return absl::UnavailableError("trainer is shutting down");
  return Update{it->second.record.status, it->second.version};
}

absl::StatusOr<v1::JobStatus> JobRunner::Cancel(const std::string& job_id, std::chrono::milliseconds wait) {
  v1::JobStatus status;
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
    status = it->second.record.status;
    if (IsTerminal(status.state())) {
      return absl::FailedPreconditionError(
          absl::StrCat("job '", job_id, "' has already ended (", v1::JobState_Name(status.state()), ")"));
    }
    if (status.state() == v1::RUNNING) {
      cancel_requested_ = job_id;
      changed_.wait_for(lock, wait, [&] { return IsTerminal(it->second.record.status.state()); });
      return it->second.record.status;
    }
    // Still queued: ended here, under the lock, so the worker cannot start it meanwhile.
    it->second.record.status.set_state(v1::CANCELLED);
    it->second.record.status.set_updated_at(NowSeconds());
    ++it->second.version;
    status = it->second.record.status;
    CountStates();
  }
  changed_.notify_all();
  LogJobState(status);
  MG_RETURN_IF_ERROR(store_->UpdateStatus(status));
  return status;
}

void JobRunner::CountStates() {
  std::map<std::string, int> counts;
  for (int s = v1::QUEUED; s <= v1::CANCELLED; ++s) counts[v1::JobState_Name(static_cast<v1::JobState>(s))] = 0;
  for (const auto& [id, entry] : jobs_) ++counts[v1::JobState_Name(entry.record.status.state())];
  metrics_->SetJobsByState(counts);
}

void JobRunner::Publish(v1::JobStatus status, bool persist) {
  status.set_updated_at(NowSeconds());
  rpc::MakeStringsValidUtf8(&status);  // errors quote file names: keep every reply serializable
  if (persist) {
    absl::Status stored = store_->UpdateStatus(status);
    if (!stored.ok()) status.set_error(absl::StrCat("job store: ", stored.ToString()));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& entry = jobs_[status.job_id()];
    entry.record.status = std::move(status);
    ++entry.version;
    CountStates();
  }
  changed_.notify_all();
}

bool JobRunner::PickNext(std::string* job_id) {
  for (v1::JobState wanted : {v1::RUNNING, v1::QUEUED}) {
    for (const auto& id : order_) {
      if (jobs_.at(id).record.status.state() == wanted) {
        *job_id = id;
        return true;
      }
    }
  }
  return false;
}

void JobRunner::WorkLoop() {
  while (true) {
    std::string job_id;
    {
      std::unique_lock<std::mutex> lock(mu_);
      changed_.wait(lock, [&] { return stopping_ || PickNext(&job_id); });
      if (stopping_) return;
    }
    RunJob(job_id);
  }
}

void JobRunner::ApplyProgress(const FineTuneProgress& p, v1::JobStatus* status) {
  status->set_epoch(p.epoch);
  status->set_total_epochs(p.total_epochs);
  status->set_step(p.step);
  status->set_total_steps(p.total_steps);
  status->set_train_loss(static_cast<float>(p.train_loss));
  status->set_learning_rate(static_cast<float>(p.learning_rate));
  status->set_samples_per_second(static_cast<float>(p.samples_per_second));
  status->set_eta_seconds(static_cast<float>(p.eta_seconds));
  status->set_resumed_from_step(p.resumed_from_step);
  status->set_peak_gpu_memory_allocated_bytes(p.peak_gpu_allocated_bytes);
  status->set_peak_gpu_memory_reserved_bytes(p.peak_gpu_reserved_bytes);
  if (p.baseline) *status->mutable_baseline() = ToProto(*p.baseline);
  status->clear_per_epoch();
  for (const auto& m : p.per_epoch) *status->add_per_epoch() = ToProto(m);
  if (!p.per_epoch.empty()) *status->mutable_latest() = ToProto(p.per_epoch.back());
}

void JobRunner::RunJob(const std::string& job_id) {
  JobRecord record;
  {
    // Claimed under the lock that Cancel takes: a cancel before this ended the queued job, which
    // is then not started; one after it sees RUNNING and stops the job within a step.
    std::lock_guard<std::mutex> lock(mu_);
    Entry& entry = jobs_.at(job_id);
    if (IsTerminal(entry.record.status.state())) return;
    entry.record.status.set_state(v1::RUNNING);
    ++entry.version;
    record = entry.record;
  }
  v1::JobStatus status = record.status;
  Publish(status, true);
  LogJobState(status);

  auto spec = ResolveFineTuneRequest(record.request, config_.fine_tune_context(), bundle_->model->weights());
  if (!spec.ok()) {
    status.set_state(v1::FAILED);
    status.set_error(spec.status().ToString());
    Publish(status, true);
    LogJobState(status);
    return;
  }
  const fs::path job_dir = fs::absolute(fs::path(config_.state_dir) / "jobs" / job_id);
  auto last_persist = std::chrono::steady_clock::now() - kPersistEvery;
  size_t evaluations = 0;
  FineTuneCallbacks callbacks;
  callbacks.on_progress = [&](const FineTuneProgress& p) {
    ApplyProgress(p, &status);
    if (p.step > 0) metrics_->ObserveStep(p);
    if (p.baseline) metrics_->SetEvalAccuracy("baseline", p.baseline->accuracy);
    if (!p.per_epoch.empty()) metrics_->SetEvalAccuracy("latest", p.per_epoch.back().accuracy);
    const size_t seen = p.per_epoch.size() + (p.baseline ? 1 : 0);
    const bool persist = seen != evaluations || std::chrono::steady_clock::now() - last_persist >= kPersistEvery;
    evaluations = seen;
    if (persist) last_persist = std::chrono::steady_clock::now();
    Publish(status, persist);
  };
  callbacks.cancelled = [&] {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_ || cancel_requested_ == job_id;
  };
  auto result = RunFineTune(*bundle_, *spec, job_dir, callbacks);
  bool cancel_requested;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancel_requested = cancel_requested_ == job_id;
    if (cancel_requested) cancel_requested_.clear();
  }
  if (!result.ok()) {
    const bool interrupted_by_shutdown = result.status().code() == absl::StatusCode::kCancelled && !cancel_requested;
    if (!interrupted_by_shutdown) {
      status.set_state(result.status().code() == absl::StatusCode::kCancelled ? v1::CANCELLED : v1::FAILED);
      if (status.state() == v1::FAILED) status.set_error(result.status().ToString());
    }
    Publish(status, true);
    if (interrupted_by_shutdown) {
      LogInfo("job interrupted; it resumes on restart", {{"job_id", job_id}, {"step", status.step()}});
    } else {
      LogJobState(status);
    }
    return;
  }
  status.set_adapter_path(result->adapter_dir.string());
  if (record.request.promote().enabled() && !result->progress.per_epoch.empty()) {
    const PromotionOutcome outcome =
        Promote(config_, record.request.promote(), spec->adapter_name, result->adapter_dir.string(),
                result->progress.per_epoch.back(), spec->data.eval);
    metrics_->CountPromotion(outcome.promoted ? "promoted" : outcome.failed ? "failed" : "refused");
    status.set_promoted(outcome.promoted);
    status.set_promotion_message(outcome.message);
    Log(outcome.promoted ? LogLevel::kInfo : LogLevel::kWarning, "promotion",
        {{"job_id", job_id}, {"adapter_name", spec->adapter_name}, {"promoted", outcome.promoted},
         {"message", outcome.message}});
  }
  status.set_state(v1::SUCCEEDED);
  Publish(status, true);
  LogJobState(status);
}

}  // namespace medgemma::trainer
