// medgemma-trainer assembled: the model bundle, the SQLite job store, the job runner and its
// worker thread, metrics, and the service host (Trainer, health, reflection, /metrics). Used by
// main and by the tests.
#pragma once

#include <absl/status/statusor.h>

#include <memory>

#include "engine/model_bundle.h"
#include "rpc/auth.h"
#include "rpc/service_host.h"
#include "trainer/job_runner.h"
#include "trainer/job_store.h"
#include "trainer/trainer_config.h"
#include "trainer/trainer_metrics.h"
#include "trainer/trainer_service.h"

namespace medgemma::trainer {

class TrainerServer {
 public:
  static absl::StatusOr<std::unique_ptr<TrainerServer>> Start(const TrainerConfig& config);
  ~TrainerServer();

  int port() const { return host_->port(); }
  int metrics_port() const { return host_->metrics_port(); }
  JobRunner& runner() { return *runner_; }

  // Stops taking calls and interrupts the running job, which stays RUNNING and resumes on restart.
  void Shutdown();

 private:
  TrainerServer() = default;
  TrainerConfig config_;
  ModelBundle bundle_;
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<TrainerMetrics> metrics_;
  std::unique_ptr<JobRunner> runner_;
  rpc::TokenAuthorizer auth_;
  std::unique_ptr<AuditLog> audit_;  // a line per Trainer call (rpc/action_audit.h)
  std::unique_ptr<TrainerService> service_;
  std::unique_ptr<rpc::ServiceHost> host_;
  bool shut_down_ = false;
};

}  // namespace medgemma::trainer
