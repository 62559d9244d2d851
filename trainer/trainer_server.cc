#include "trainer/trainer_server.h"

#include <absl/strings/str_cat.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>

#include <filesystem>

#include "engine/status_macros.h"
#include "rpc/credentials.h"

namespace medgemma::trainer {

absl::StatusOr<std::unique_ptr<TrainerServer>> TrainerServer::Start(const TrainerConfig& config) {
  MG_RETURN_IF_ERROR(config.Validate());
  std::unique_ptr<TrainerServer> s(new TrainerServer());
  s->config_ = config;
  MG_ASSIGN_OR_RETURN(ModelOptions options, ParseModelOptions(config.device, config.dtype, config.attention));
  MG_ASSIGN_OR_RETURN(s->bundle_, LoadModelBundle(config.model_dir, options));
  MG_ASSIGN_OR_RETURN(s->store_, JobStore::Open(std::filesystem::path(config.state_dir) / "jobs.db"));
  s->metrics_ = std::make_unique<TrainerMetrics>();
  MG_ASSIGN_OR_RETURN(s->runner_, JobRunner::Create(s->config_, &s->bundle_, s->store_.get(), s->metrics_.get()));
  MG_ASSIGN_OR_RETURN(s->auth_, rpc::TokenAuthorizer::Load(config.auth_tokens_file, config.auth_tokens_env));
  s->service_ = std::make_unique<TrainerService>(s->runner_.get(), &s->auth_);
  MG_ASSIGN_OR_RETURN(auto credentials, rpc::MakeServerCredentials(config.tls));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen, credentials, &s->port_);
  builder.RegisterService(s->service_.get());
  s->server_ = builder.BuildAndStart();
  if (!s->server_ || s->port_ == 0) return absl::UnavailableError(absl::StrCat("cannot listen on ", config.listen));
  if (!config.metrics_listen.empty()) {
    try {
      s->metrics_port_ = s->metrics_->Expose(config.metrics_listen);
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", config.metrics_listen, ": ", e.what()));
    }
  }
  s->runner_->Start();
  return s;
}

void TrainerServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  server_->GetHealthCheckService()->SetServingStatus(false);
  // Watchers wake when the runner stops; then the server can finish their calls.
  runner_->Stop();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(config_.shutdown_grace_seconds));
}

TrainerServer::~TrainerServer() {
  if (server_) Shutdown();
}

}  // namespace medgemma::trainer
