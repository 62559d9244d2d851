// What hosts a medgemma service's gRPC services, identical for medgemma-server and medgemma-trainer:
// one listening port (refused clearly when it cannot be bound, and never shared with another
// process through SO_REUSEPORT), TLS from the config, the max message size, the standard health
// service (also on a plaintext health-only port when configured), an optional second API port
// with services of its own, server reflection when configured, INVALID_ARGUMENT for requests that
// do not parse, the call logger, and the Prometheus /metrics endpoint with medgemma_build_info.
// Plus the run-until-signal loop of both mains.
#pragma once

#include <absl/status/statusor.h>
#include <absl/strings/string_view.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rpc/action_audit.h"
#include "rpc/service_config.h"

namespace medgemma::rpc {

class ServiceHost {
 public:
  // A second API port with services of its own (medgemma-server's admin port), so that a network
  // policy can keep them from clients that may reach the main port.
  struct Endpoint {
    std::string address;  // empty: none
    std::vector<grpc::Service*> services;
  };

  // Starts serving `services` (which must outlive the host) on config.listen, `admin`'s on its
  // address, health alone on config.health_listen and `metrics` (plus medgemma_build_info) on
  // config.metrics_listen when those are set. Health answers SERVING from the start. Calls of
  // `audit.services` get audit lines (rpc/action_audit.h) on every port.
  static absl::StatusOr<std::unique_ptr<ServiceHost>> Start(const ServiceConfig& config,
                                                            const std::vector<grpc::Service*>& services,
                                                            std::shared_ptr<prometheus::Registry> metrics,
                                                            const Endpoint& admin = {}, const ActionAudit& audit = {});
  ~ServiceHost();

  int port() const { return port_; }
  int admin_port() const { return admin_port_; }  // 0 without an admin endpoint
  int metrics_port() const { return metrics_port_; }  // 0 without a metrics endpoint

  // Health for every service ("" included).
  void SetServing(bool serving);
  // NOT_SERVING, no new calls, then waits up to `grace` for calls in flight before cancelling them.
  void Shutdown(std::chrono::seconds grace);

 private:
  ServiceHost() = default;

  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> admin_server_;   // null without an admin endpoint
  std::unique_ptr<grpc::CallbackGenericService> health_only_;  // answers UNIMPLEMENTED beside health
  std::unique_ptr<grpc::Server> health_server_;  // null without health_listen
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0, admin_port_ = 0, metrics_port_ = 0;
  bool shut_down_ = false;
};

// The rest of a service binary's main once its service has started: announces readiness on stdout
// ("<program> listening on port N, metrics on port M", the line scripts and tests wait for), blocks
// until SIGTERM or SIGINT, then runs `shutdown` (the graceful drain), logging each step.
void RunUntilSignal(absl::string_view program, int port, int metrics_port, const std::function<void()>& shutdown);

}  // namespace medgemma::rpc
