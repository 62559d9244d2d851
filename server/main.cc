// medgemma-server --config config/server.yaml [flags]   (--help lists them)
// Serves medgemma.v1.Classifier and AdapterAdmin; SIGTERM/SIGINT drain in-flight work and exit.
#include "base/flags.h"
#include "base/log.h"
#include "rpc/service_host.h"
#include "server/classifier_server.h"

int main(int argc, char** argv) {
  using namespace medgemma;
  auto config = server::ServerConfigFromArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (!config.ok()) return ExitForUnparsedArgs("medgemma-server", config.status());
  SetMinLogLevel(*ParseLogLevel(config->log_level));  // Validate accepted it
  LogInfo("starting medgemma-server", config->LogFields());
  auto server = server::ClassifierServer::Start(*config);
  if (!server.ok()) {
    LogError("start-up failed", {{"error", server.status().ToString()}});
    return 1;
  }
  rpc::RunUntilSignal("medgemma-server", (*server)->port(), (*server)->metrics_port(),
                      [&] { (*server)->Shutdown(std::chrono::seconds(config->shutdown_grace_seconds)); });
  return 0;
}
