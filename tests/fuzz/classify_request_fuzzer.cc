// Untrusted Classify calls: the input is the wire bytes of one ClassifyRequest, sent as they are
// (grpc::GenericStub) to an in-process medgemma-server on 127.0.0.1 over the tiny model with one
// adapter "a1". The server's own deserialization, request validation, image decoding, adapter
// resolution, batching and the model all see it. Every call must end in a status, and one that
// succeeds answers the request's own id with probabilities that sum to 1.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <google/protobuf/stubs/logging.h>
#include <torch/torch.h>

#include <cmath>
#include <future>

#include "engine/lora_adapter.h"
#include "medgemma/v1/classifier.pb.h"
#include "server/classifier_server.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/fuzz_target.h"

namespace {
namespace fs = std::filesystem;

struct Client {
  std::unique_ptr<medgemma::server::ClassifierServer> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::GenericStub> stub;
};

medgemma::server::ServerConfig Config() {
  const fs::path adapters = medgemma::fuzz::ScratchDir() / "adapters";
  auto adapter = medgemma::LoraAdapter::Create(medgemma::LoraConfig{}, medgemma::fuzz::TinyModel().model->weights(),
                                               torch::kCPU, 7);
  MEDGEMMA_FUZZ_CHECK(adapter.ok() && (*adapter)->Save(adapters / "a1").ok());
  medgemma::server::ServerConfig c;
  c.model_dir = medgemma::fuzz::TinyModel().dir.string();
  c.device = "cpu";
  c.attention = "eager";
  c.listen = "127.0.0.1:0";
  c.metrics_listen = "";
  c.auth_tokens_env = "";
  c.adapters_dir = adapters.string();
  c.batching.max_batch_size = 4;
  c.batching.max_queue_delay_us = 0;
  c.batching.preprocess_threads = 1;
  c.image_limits = {1u << 20, 1 << 22};  // as image_decode_fuzzer: the checks at fuzzing speed
  c.shutdown_grace_seconds = 1;
  return c;
}

Client& TheClient() {
  static Client* client = [] {
    auto* c = new Client();
    // Parsing invalid UTF-8 in string fields logs an error each time: noise at fuzzing speed.
    google::protobuf::SetLogHandler(nullptr);
    auto started = medgemma::server::ClassifierServer::Start(Config());
    if (!started.ok()) {
      std::fprintf(stderr, "fuzz setup: server: %s\n", started.status().ToString().c_str());
      std::abort();
    }
    c->server = std::move(*started);
    c->channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(c->server->port()), grpc::InsecureChannelCredentials());
    c->stub = std::make_unique<grpc::GenericStub>(c->channel);
    return c;
  }();
  return *client;
}

void CheckAnswer(const medgemma::v1::ClassifyRequest& request, const grpc::ByteBuffer& reply) {
  std::vector<grpc::Slice> slices;
  MEDGEMMA_FUZZ_CHECK(reply.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  medgemma::v1::ClassifyResponse response;
  MEDGEMMA_FUZZ_CHECK(response.ParseFromString(bytes));
  MEDGEMMA_FUZZ_CHECK(response.request_id() == request.request_id());
  double sum = 0;
  for (const auto& p : response.probabilities()) sum += p.probability();
  MEDGEMMA_FUZZ_CHECK(std::abs(sum - 1) < 1e-3);
}
}  // namespace

MEDGEMMA_FUZZ_TARGET(classify_request) {
  Client& client = TheClient();
  grpc::Slice slice(data.data(), data.size());
  const grpc::ByteBuffer request_bytes(&slice, 1);
  grpc::ByteBuffer reply;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  std::promise<grpc::Status> done;
  client.stub->UnaryCall(&context, "/medgemma.v1.Classifier/Classify", grpc::StubOptions(), &request_bytes, &reply,
                         [&done](grpc::Status status) { done.set_value(std::move(status)); });
  const grpc::Status status = done.get_future().get();
  // The deadline is the harness's, for a hang; the server answering UNKNOWN or INTERNAL is its bug.
  MEDGEMMA_FUZZ_CHECK(status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED);
  MEDGEMMA_FUZZ_CHECK(status.error_code() != grpc::StatusCode::UNKNOWN);
  MEDGEMMA_FUZZ_CHECK(status.error_code() != grpc::StatusCode::INTERNAL);
  if (!status.ok()) return;
  medgemma::v1::ClassifyRequest request;
  MEDGEMMA_FUZZ_CHECK(request.ParseFromArray(data.data(), static_cast<int>(data.size())));
  CheckAnswer(request, reply);
}
