// medgemma-server --config config/server.yaml [--model DIR] [--listen HOST:PORT] [--metrics-listen HOST:PORT] ...
// Serves medgemma.v1.Classifier and AdapterAdmin; SIGTERM/SIGINT drain in-flight work and exit.
#include <csignal>
#include <iostream>
#include <thread>

#include "server/classifier_server.h"

namespace {
volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  using namespace medgemma::server;
  auto config = ServerConfigFromArgs(std::vector<std::string>(argv + 1, argv + argc));
  if (!config.ok()) {
    std::cerr << "medgemma-server: " << config.status() << "\n";
    return 2;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  auto server = ClassifierServer::Start(*config);
  if (!server.ok()) {
    std::cerr << "medgemma-server: " << server.status() << "\n";
    return 1;
  }
  std::cout << "medgemma-server listening on port " << (*server)->port() << ", metrics on port "
            << (*server)->metrics_port() << std::endl;
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::cout << "medgemma-server: draining" << std::endl;
  (*server)->Shutdown(std::chrono::seconds(config->shutdown_grace_seconds));
  std::cout << "medgemma-server: stopped" << std::endl;
  return 0;
}
