#include "rpc/service_host.h"

#include <absl/strings/str_cat.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <csignal>
#include <iostream>
#include <thread>

#include "base/log.h"
#include "base/status_macros.h"
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

}  // namespace

absl::StatusOr<std::unique_ptr<ServiceHost>> ServiceHost::Start(const ServiceConfig& config,
                                                                const std::vector<grpc::Service*>& services,
                                                                std::shared_ptr<prometheus::Registry> metrics) {
  MG_ASSIGN_OR_RETURN(auto credentials, MakeServerCredentials(config.tls));
  std::unique_ptr<ServiceHost> host(new ServiceHost());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.SetOption(std::make_unique<ReflectionOption>(config.reflection));
  // gRPC sets SO_REUSEPORT by default: a second server on a busy port would then start and take
  // a share of the traffic instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(config.listen, credentials, &host->port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.max_message_bytes));
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(MakeUnparsedRequestInterceptorFactory());  // first: the logger sees its status
  interceptors.push_back(MakeCallLoggerFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  for (grpc::Service* service : services) builder.RegisterService(service);
  host->server_ = builder.BuildAndStart();
  if (!host->server_ || host->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen, " (address in use, or not an address of this host)"));
  }
  host->SetServing(true);
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
                        {"metrics_listen", config.metrics_listen},
                        {"metrics_port", host->metrics_port_}});
  return host;
}

ServiceHost::~ServiceHost() {
  if (server_) Shutdown(std::chrono::seconds(0));
}

void ServiceHost::SetServing(bool serving) { server_->GetHealthCheckService()->SetServingStatus(serving); }

void ServiceHost::Shutdown(std::chrono::seconds grace) {
  if (shut_down_) return;
  shut_down_ = true;
  SetServing(false);
  server_->Shutdown(std::chrono::system_clock::now() + grace);
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
