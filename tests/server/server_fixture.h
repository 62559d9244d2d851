// A medgemma-server started in-process on 127.0.0.1 (a real gRPC server on a real port) over the
// tiny model, with three adapters written to its adapters directory, plus client helpers.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "medgemma/v1/classifier.grpc.pb.h"
#include "server/classifier_server.h"
#include "tests/engine/test_support.h"

namespace medgemma::testing {

// Adapters "a1", "a2", "a3" (different random B) in `dir`; returns name -> path.
std::map<std::string, std::string> WriteTestAdapters(const std::filesystem::path& dir);

server::ServerConfig TestServerConfig(const std::filesystem::path& adapters_dir);

struct StartedServer {
  std::unique_ptr<server::ClassifierServer> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Classifier::Stub> classifier;
  std::unique_ptr<v1::AdapterAdmin::Stub> admin;
};
StartedServer StartServer(const server::ServerConfig& config,
                          std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials(),
                          const std::string& host = "127.0.0.1");

v1::ClassifyRequest EncodedRequest(const std::string& id, const std::string& bytes, const std::string& adapter = "");
// The engine's answer for one image, computed directly (no server): the reference for responses.
std::vector<float> EngineProbabilities(const server::ClassifierServer& server, const std::string& png,
                                       const std::string& adapter_name);
std::vector<float> ResponseProbabilities(const v1::ClassifyResponse& response);
// GET http://127.0.0.1:port/metrics, and the value of one sample line.
std::string ScrapeMetrics(int port);
double MetricValue(const std::string& exposition, const std::string& sample);

}  // namespace medgemma::testing
