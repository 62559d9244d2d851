// medgemma-trainer --config config/trainer.yaml [flags]   (--help lists them)
// Serves medgemma.v1.Trainer. SIGTERM/SIGINT interrupt the running job (it resumes on restart).
#include "base/flags.h"
#include "base/log.h"
#include "rpc/service_host.h"
#include "trainer/trainer_server.h"

int main(int argc, char** argv) {
  using namespace medgemma;
  auto config = trainer::TrainerConfigFromArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (!config.ok()) return ExitForUnparsedArgs("medgemma-trainer", config.status());
  SetMinLogLevel(*ParseLogLevel(config->log_level));  // Validate accepted it
  LogInfo("starting medgemma-trainer", config->LogFields());
  auto server = trainer::TrainerServer::Start(*config);
  if (!server.ok()) {
    LogError("start-up failed", {{"error", server.status().ToString()}});
    return 1;
  }
  rpc::RunUntilSignal("medgemma-trainer", (*server)->port(), (*server)->metrics_port(),
                      [&] { (*server)->Shutdown(); });
  return 0;
}
