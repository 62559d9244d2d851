// The job system: submitted requests become QUEUED records; one worker thread, the only user of
// the model's device, runs them in submission order (a job found RUNNING at start-up first: it
// resumes from its checkpoint). Status changes are published to watchers and persisted; progress
// is persisted at most once a second, evaluations and state changes at once.
#pragma once

#include <absl/status/statusor.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/model_bundle.h"
#include "engine/training/fine_tune_run.h"
#include "medgemma/v1/trainer.pb.h"
#include "trainer/job_store.h"
#include "trainer/trainer_config.h"
#include "trainer/trainer_metrics.h"

namespace medgemma::trainer {

class JobRunner {
 public:
  static absl::StatusOr<std::unique_ptr<JobRunner>> Create(const TrainerConfig& config, const ModelBundle* bundle,
                                                           JobStore* store, TrainerMetrics* metrics);
  ~JobRunner();

  void Start();
  // Interrupts the running job without ending it (it stays RUNNING and resumes on the next start).
  void Stop();

  absl::StatusOr<v1::Job> Submit(const v1::FineTuneRequest& request);
  absl::StatusOr<v1::JobStatus> Get(const std::string& job_id) const;
  // Ends a queued job at once; asks a running one to stop and waits (up to `wait`) until it has.
  absl::StatusOr<v1::JobStatus> Cancel(const std::string& job_id, std::chrono::milliseconds wait);
  std::vector<v1::JobStatus> List() const;

  struct Update {
    v1::JobStatus status;
    uint64_t version = 0;
  };
  // The job's status once its version exceeds `after`, or the current one at `deadline`. Once the
  // runner is stopping, UNAVAILABLE instead of a status the caller has already seen: watchers end
  // rather than hold the server's shutdown for its whole grace period.
  absl::StatusOr<Update> WaitForUpdate(const std::string& job_id, uint64_t after,
                                       std::chrono::system_clock::time_point deadline) const;

 private:
  JobRunner(const TrainerConfig& config, const ModelBundle* bundle, JobStore* store, TrainerMetrics* metrics)
      : config_(config), bundle_(bundle), store_(store), metrics_(metrics) {}
  void WorkLoop();
  void RunJob(const std::string& job_id);
  bool PickNext(std::string* job_id);  // mu_ held
  void Publish(v1::JobStatus status, bool persist);
  void ApplyProgress(const FineTuneProgress& progress, v1::JobStatus* status);
  void CountStates();  // mu_ held

  struct Entry {
    JobRecord record;
    uint64_t version = 0;
  };
  const TrainerConfig config_;
  const ModelBundle* bundle_;
  JobStore* store_;
  TrainerMetrics* metrics_;

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::map<std::string, Entry> jobs_;
  std::vector<std::string> order_;
  std::string cancel_requested_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace medgemma::trainer
