// What hosts a medgemma service's gRPC services, identical for medgemma-server and medgemma-trainer:
// one listening port (refused clearly when it cannot be bound, and never shared with another
// process through SO_REUSEPORT), TLS from the config, the max message size, the standard health
// service, server reflection when configured, INVALID_ARGUMENT for requests that do not parse, the
// call logger, and the Prometheus /metrics endpoint. Plus the run-until-signal loop of both mains.
#pragma once

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <grpcpp/server.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "rpc/service_config.h"

namespace medgemma::rpc {

class ServiceHost {
 public:
  // Starts serving `services` (which must outlive the host) on config.listen, and `metrics` on
  // config.metrics_listen when that is set. Health answers SERVING from the start.
  static absl::StatusOr<std::unique_ptr<ServiceHost>> Start(const ServiceConfig& config,
                                                            const std::vector<grpc::Service*>& services,
                                                            std::shared_ptr<prometheus::Registry> metrics);
  ~ServiceHost();

  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }  // 0 without a metrics endpoint

  // Health for every service ("" included).
  void SetServing(bool serving);
  // NOT_SERVING, no new calls, then waits up to `grace` for calls in flight before cancelling them.
  void Shutdown(std::chrono::seconds grace);

 private:
  ServiceHost() = default;

  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0, metrics_port_ = 0;
  bool shut_down_ = false;
};

// The rest of a service binary's main once its service has started: announces readiness on stdout
// ("<program> listening on port N, metrics on port M", the line scripts and tests wait for), blocks
// until SIGTERM or SIGINT, then runs `shutdown` (the graceful drain), logging each step.
void RunUntilSignal(absl::string_view program, int port, int metrics_port, const std::function<void()>& shutdown);

}  // namespace medgemma::rpc
