#include "trainer/trainer_server.h"

#include <filesystem>

#include "base/log.h"
#include "base/status_macros.h"

namespace medgemma::trainer {

absl::StatusOr<std::unique_ptr<TrainerServer>> TrainerServer::Start(const TrainerConfig& config) {
  MG_RETURN_IF_ERROR(config.Validate());
  std::unique_ptr<TrainerServer> s(new TrainerServer());
  s->config_ = config;
  MG_ASSIGN_OR_RETURN(ModelOptions options, ParseModelOptions(config.device, config.dtype, config.attention));
  MG_ASSIGN_OR_RETURN(s->bundle_, LoadModelBundle(config.model_dir, options));
  LogInfo("model loaded", {{"model_dir", config.model_dir},
                           {"device", options.device.str()},
                           {"dtype", DtypeName(options.dtype)}});
  MG_ASSIGN_OR_RETURN(s->store_, JobStore::Open(std::filesystem::path(config.state_dir) / "jobs.db"));
  s->metrics_ = std::make_unique<TrainerMetrics>();
  MG_ASSIGN_OR_RETURN(s->runner_, JobRunner::Create(s->config_, &s->bundle_, s->store_.get(), s->metrics_.get()));
  MG_ASSIGN_OR_RETURN(s->auth_, rpc::TokenAuthorizer::Load(config.auth_tokens_file, config.auth_tokens_env));
  MG_ASSIGN_OR_RETURN(s->audit_, AuditLog::Open(config.audit));
  s->service_ = std::make_unique<TrainerService>(s->runner_.get(), &s->auth_);
  MG_ASSIGN_OR_RETURN(s->host_, rpc::ServiceHost::Start(config, {s->service_.get()}, s->metrics_->registry(), {},
                                                        {s->audit_.get(), &s->auth_, {"medgemma.v1.Trainer"}}));
  s->runner_->Start();
  return s;
}

void TrainerServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  host_->SetServing(false);
  // Watches end (UNAVAILABLE) when the runner stops, so the server's shutdown need not wait out the
  // grace period for them.
  runner_->Stop();
  host_->Shutdown(std::chrono::seconds(config_.shutdown_grace_seconds));
}

TrainerServer::~TrainerServer() {
  if (host_) Shutdown();
}

}  // namespace medgemma::trainer
