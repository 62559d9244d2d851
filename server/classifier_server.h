// medgemma-server assembled: the model bundle, adapters, batcher, pools, metrics and the service
// host (gRPC with health and reflection, /metrics). Health reports SERVING only after a warm-up
// batch has run, and NOT_SERVING from the moment shutdown starts. Used by main and by the tests, on
// real ports.
#pragma once

#include <absl/status/statusor.h>

#include <memory>

#include "engine/classifier.h"
#include "engine/model_bundle.h"
#include "rpc/auth.h"
#include "rpc/service_host.h"
#include "server/adapter_admin_service.h"
#include "server/adapter_registry.h"
#include "server/classification_pipeline.h"
#include "server/classifier_executor.h"
#include "server/classifier_service.h"
#include "server/http_endpoint.h"
#include "server/oip_model.h"
#include "server/open_inference_service.h"
#include "server/server_config.h"
#include "server/server_metrics.h"
#include "server/thread_pool.h"

namespace medgemma::server {

class ClassifierServer {
 public:
  static absl::StatusOr<std::unique_ptr<ClassifierServer>> Start(const ServerConfig& config);
  ~ClassifierServer();

  int port() const { return host_->port(); }
  int admin_port() const { return host_->admin_port(); }  // 0 without admin_listen
  int metrics_port() const { return host_->metrics_port(); }
  int http_port() const { return http_ ? http_->port() : 0; }  // 0 without http_listen
  const Classifier& classifier() const { return *classifier_; }
  const AdapterRegistry& registry() const { return *registry_; }
  const ClassificationPipeline& pipeline() const { return *pipeline_; }
  const ClassifyScheduler& batcher() const { return *batcher_; }

  // Stops taking calls, lets in-flight calls (and the batches they wait for) finish within `grace`.
  void Shutdown(std::chrono::seconds grace);

 private:
  ClassifierServer() = default;
  absl::Status LoadConfiguredAdapters(const ServerConfig& config);
  // Runs one batch per adapter; returns the base model's batch time.
  absl::StatusOr<double> WarmUp();

  ServerConfig config_;
  ModelBundle bundle_;
  std::unique_ptr<Classifier> classifier_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<AdapterRegistry> registry_;
  std::unique_ptr<ClassifierExecutor> executor_;  // outlives batcher_, its caller
  std::unique_ptr<ClassifyScheduler> batcher_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<ClassificationPipeline> pipeline_;
  rpc::TokenAuthorizer auth_;
  std::unique_ptr<AuditLog> audit_;  // before the services and host that write to it
  std::unique_ptr<ClassifierService> classifier_service_;
  std::unique_ptr<ClassifierService> admin_classifier_service_;  // admin_listen's; a service serves one port
  std::unique_ptr<OipModel> oip_model_;
  std::unique_ptr<OpenInferenceService> oip_service_;
  std::unique_ptr<AdapterLoader> loader_;
  std::unique_ptr<AdapterAdminService> admin_service_;
  std::unique_ptr<rpc::ServiceHost> host_;
  std::unique_ptr<HttpEndpoint> http_;  // null without http_listen
  bool shut_down_ = false;
};

}  // namespace medgemma::server
