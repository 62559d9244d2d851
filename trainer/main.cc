// medgemma-trainer --config config/trainer.yaml [--model DIR] [--listen HOST:PORT]
//   [--metrics-listen HOST:PORT] [--state-dir DIR] [--data-root DIR]... [--server HOST:PORT]...
// Serves medgemma.v1.Trainer. SIGTERM/SIGINT interrupt the running job (it resumes on restart).
#include <csignal>
#include <iostream>
#include <thread>

#include "trainer/trainer_server.h"

namespace {
volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  using namespace medgemma::trainer;
  auto config = TrainerConfigFromArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (!config.ok()) {
    std::cerr << "medgemma-trainer: " << config.status() << "\n";
    return 2;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  auto server = TrainerServer::Start(*config);
  if (!server.ok()) {
    std::cerr << "medgemma-trainer: " << server.status() << "\n";
    return 1;
  }
  std::cout << "medgemma-trainer listening on port " << (*server)->port() << ", metrics on port "
            << (*server)->metrics_port() << std::endl;
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::cout << "medgemma-trainer: stopping" << std::endl;
  (*server)->Shutdown();
  std::cout << "medgemma-trainer: stopped" << std::endl;
  return 0;
}
