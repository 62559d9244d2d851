#include "tests/server/server_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <torch/torch.h>
#include <unistd.h>

#include <sstream>

#include "engine/image_decoder.h"
#include "engine/lora_adapter.h"

namespace medgemma::testing {
namespace fs = std::filesystem;

std::map<std::string, std::string> WriteTestAdapters(const fs::path& dir) {
  std::map<std::string, std::string> paths;
  int seed = 100;
  for (const std::string name : {"a1", "a2", "a3"}) {
    auto adapter = LoraAdapter::Create(LoraConfig{}, TinyBundle().model->weights(), torch::kCPU, seed);
    EXPECT_TRUE(adapter.ok());
    torch::manual_seed(seed++);
    {
      torch::NoGradGuard no_grad;
      for (auto& [module, w] : (*adapter)->Modules()) w->b.normal_(0.0, 0.3);
    }
    EXPECT_TRUE((*adapter)->Save(dir / name).ok());
    paths[name] = (dir / name).string();
  }
  return paths;
}

server::ServerConfig TestServerConfig(const fs::path& adapters_dir) {
  server::ServerConfig c;
  c.model_dir = TinyModelDir().string();
  c.model_id = "tiny";
  c.device = "cpu";
  c.attention = "eager";
  c.listen = "127.0.0.1:0";
  c.metrics_listen = "127.0.0.1:0";
  c.adapters_dir = adapters_dir.string();
  c.adapter_roots = {adapters_dir.string()};
  c.batching.max_batch_size = 8;
  c.batching.max_queue_delay_us = 20000;
  c.batching.max_queue_size = 256;
  c.batching.preprocess_threads = 2;
  c.auth_tokens_env = "";
  c.shutdown_grace_seconds = 10;
  return c;
}

StartedServer StartServer(const server::ServerConfig& config, std::shared_ptr<grpc::ChannelCredentials> credentials,
                          const std::string& host) {
  StartedServer s;
  auto started = server::ClassifierServer::Start(config);
  EXPECT_TRUE(started.ok()) << started.status();
  if (!started.ok()) return s;
  s.server = std::move(*started);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  s.channel = grpc::CreateCustomChannel(host + ":" + std::to_string(s.server->port()), credentials, args);
  s.classifier = v1::Classifier::NewStub(s.channel);
  s.admin = v1::AdapterAdmin::NewStub(s.channel);
  return s;
}

v1::ClassifyRequest EncodedRequest(const std::string& id, const std::string& bytes, const std::string& adapter) {
  v1::ClassifyRequest r;
  r.set_request_id(id);
  r.mutable_image()->set_encoded(bytes);
  r.set_adapter(adapter);
  return r;
}

std::vector<float> EngineProbabilities(const server::ClassifierServer& server, const std::string& png,
                                       const std::string& adapter_name) {
  auto image = DecodeImage(png, ImageLimits{});
  auto pixels = PreprocessImage(*image, TinyBundle().preprocess);
  const LoraAdapter* adapter = nullptr;
  server::AdapterHandle handle;
  if (!adapter_name.empty()) {
    handle = *server.registry().Resolve(adapter_name);
    adapter = handle->adapter.get();
  }
  auto probs = server.classifier().Classify(pixels->unsqueeze(0), adapter);
  EXPECT_TRUE(probs.ok());
  auto p = (*probs)[0].contiguous();
  return std::vector<float>(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
}

std::vector<float> ResponseProbabilities(const v1::ClassifyResponse& response) {
  std::vector<float> out;
  for (const auto& c : response.probabilities()) out.push_back(c.probability());
  return out;
}

std::string ScrapeMetrics(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "";
  }
  const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  (void)!::write(fd, request.data(), request.size());
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) response.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return response;
}

double MetricValue(const std::string& exposition, const std::string& sample) {
  std::istringstream lines(exposition);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(sample + " ", 0) == 0) return std::stod(line.substr(sample.size() + 1));
  }
  return -1;
}

}  // namespace medgemma::testing
