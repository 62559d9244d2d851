#include "rpc/service_host.h"

#include <absl/strings/str_cat.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>
#include <prometheus/gauge.h>

#include <algorithm>
#include <csignal>
#include <iostream>
#include <thread>

#include "base/log.h"
#include "base/status_macros.h"
#include "base/version.h"
#include "grpc/health/v1/health.pb.h"
#include "rpc/call_logger.h"
#include "rpc/unparsed_request.h"

namespace medgemma::rpc {
namespace {

volatile std::sig_atomic_t g_signal = 0;
void OnSignal(int signal) { g_signal = signal; }

// Reflection per host, as configured. Linking gRPC's reflection library registers its plugin for
// every ServerBuilder of the process, so the option takes it out as well as putting it in.
class ReflectionOption final : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool enabled) : enabled_(enabled) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->erase(std::remove_if(plugins->begin(), plugins->end(),
                                  [](const std::unique_ptr<grpc::ServerBuilderPlugin>& plugin) {
                                    return dynamic_cast<grpc::reflection::ProtoServerReflectionPlugin*>(plugin.get()) !=
                                           nullptr;
                                  }),
                   plugins->end());
    if (enabled_) plugins->push_back(std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>());
  }

 private:
  const bool enabled_;
};

// One listening port of a host: `services` on `address`, with gRPC health, the request-parse
// interceptor, the call logger, the message size limit and (when asked) reflection. A port with no
// services of its own (health only) takes `unimplemented`, which answers every other method:
// gRPC refuses to start a server that has no service to poll for.
absl::StatusOr<std::unique_ptr<grpc::Server>> BuildServer(const ServiceConfig& config, const std::string& address,
                                                          std::shared_ptr<grpc::ServerCredentials> credentials,
                                                          const std::vector<grpc::Service*>& services,
                                                          bool reflection, int* port, const ActionAudit& audit,
                                                          grpc::CallbackGenericService* unimplemented = nullptr) {
  grpc::ServerBuilder builder;
  if (unimplemented != nullptr) builder.RegisterCallbackGenericService(unimplemented);
  builder.SetOption(std::make_unique<ReflectionOption>(reflection));
  // gRPC sets SO_REUSEPORT by default: a second server on a busy port would then start and take
  // a share of the traffic instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(address, std::move(credentials), port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.max_message_bytes));
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(MakeUnparsedRequestInterceptorFactory());  // first: the logger sees its status
  interceptors.push_back(MakeCallLoggerFactory());
  if (audit.log != nullptr && audit.log->enabled()) interceptors.push_back(MakeActionAuditFactory(audit));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || *port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, " (address in use, or not an address of this host)"));
  }
  return server;
}

void AddBuildInfo(prometheus::Registry& registry) {
  const BuildInfo& b = GetBuildInfo();
  prometheus::BuildGauge()
      .Name("medgemma_build_info")
      .Help("Always 1; the labels say what this process was built from")
      .Register(registry)
      .Add({{"version", b.version}, {"commit", b.commit}, {"torch", b.torch}, {"cuda", b.cuda}})
      .Set(1);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServiceHost>> ServiceHost::Start(const ServiceConfig& config,
                                                                const std::vector<grpc::Service*>& services,
                                                                std::shared_ptr<prometheus::Registry> metrics,
                                                                const Endpoint& admin, const ActionAudit& audit) {
  MG_ASSIGN_OR_RETURN(auto credentials, MakeServerCredentials(config.tls));
  std::unique_ptr<ServiceHost> host(new ServiceHost());
  grpc::EnableDefaultHealthCheckService(true);
  // The built-in health service has no protobuf descriptor; reflection finds grpc.health.v1's in
  // the generated pool, which this reference links in.
  if (config.reflection) grpc::health::v1::HealthCheckRequest::descriptor();
  MG_ASSIGN_OR_RETURN(host->server_,
                      BuildServer(config, config.listen, credentials, services, config.reflection, &host->port_, audit));
  if (!admin.address.empty()) {
    MG_ASSIGN_OR_RETURN(host->admin_server_, BuildServer(config, admin.address, credentials, admin.services,
                                                         config.reflection, &host->admin_port_, audit));
  }
  int health_port = 0;
  if (!config.health_listen.empty()) {
    host->health_only_ = std::make_unique<grpc::CallbackGenericService>();
    MG_ASSIGN_OR_RETURN(host->health_server_,
                        BuildServer(config, config.health_listen, grpc::InsecureServerCredentials(), {}, false,
                                    &health_port, {}, host->health_only_.get()));
  }
  host->SetServing(true);
  AddBuildInfo(*metrics);
  if (!config.metrics_listen.empty()) {
    try {
      host->exposer_ = std::make_unique<prometheus::Exposer>(config.metrics_listen);
      host->exposer_->RegisterCollectable(metrics);
      host->metrics_port_ = host->exposer_->GetListeningPorts().at(0);
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", config.metrics_listen, ": ", e.what()));
    }
  }
  LogInfo("listening", {{"listen", config.listen},
                        {"port", host->port_},
                        {"admin_listen", admin.address},
                        {"admin_port", host->admin_port_},
                        {"metrics_listen", config.metrics_listen},
                        {"metrics_port", host->metrics_port_},
                        {"health_listen", config.health_listen},
                        {"health_port", health_port}});
  return host;
}

ServiceHost::~ServiceHost() {
  if (server_) Shutdown(std::chrono::seconds(0));
}

void ServiceHost::SetServing(bool serving) {
  for (grpc::Server* server : {server_.get(), admin_server_.get(), health_server_.get()}) {
    if (server) server->GetHealthCheckService()->SetServingStatus(serving);
  }
}

void ServiceHost::Shutdown(std::chrono::seconds grace) {
  if (shut_down_) return;
  shut_down_ = true;
  SetServing(false);
  const auto deadline = std::chrono::system_clock::now() + grace;
  server_->Shutdown(deadline);
  if (admin_server_) admin_server_->Shutdown(deadline);
  if (health_server_) health_server_->Shutdown(std::chrono::system_clock::now());
}

void RunUntilSignal(absl::string_view program, int port, int metrics_port, const std::function<void()>& shutdown) {
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  std::cout << program << " listening on port " << port << ", metrics on port " << metrics_port << std::endl;
  while (g_signal == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  LogInfo("shutting down", {{"signal", g_signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
  shutdown();
  LogInfo("stopped");
}

}  // namespace medgemma::rpc
