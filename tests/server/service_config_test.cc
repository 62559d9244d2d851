// The settings a container deployment leans on: model.id from the checkpoint directory's name, the
// adapters dir as an adapter root whatever the configured roots, and the endpoint and TLS flags.
#include <gtest/gtest.h>

#include <filesystem>

#include "rpc/service_config.h"
#include "server/server_config.h"

namespace medgemma {
namespace {

TEST(ServiceConfigTest, ModelIdIsTheCheckpointDirectorysName) {
  EXPECT_EQ(rpc::ModelIdFromDir("/var/lib/medgemma/models/medgemma-4b-it"), "medgemma-4b-it");
  EXPECT_EQ(rpc::ModelIdFromDir("/var/lib/medgemma/models/medgemma-4b-it/"), "medgemma-4b-it");
  EXPECT_EQ(rpc::ModelIdFromDir("models/x/../medgemma-4b-it//"), "medgemma-4b-it");
  EXPECT_EQ(rpc::ModelIdFromDir("."), std::filesystem::current_path().filename().string());
}

TEST(ServiceConfigTest, FlagsSetModelIdEndpointsAndTls) {
  auto c = server::ServerConfigFromArgs({"--model", "/m/medgemma-4b-it/", "--listen", "127.0.0.1:0", "--admin-listen",
                                         "127.0.0.1:1", "--health-listen", "127.0.0.1:2", "--tls-cert", "c.pem",
                                         "--tls-key", "k.pem", "--tls-client-ca", "ca.pem"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_id, "medgemma-4b-it");
  EXPECT_EQ(c->admin_listen, "127.0.0.1:1");
  EXPECT_EQ(c->health_listen, "127.0.0.1:2");
  EXPECT_EQ(c->tls.cert, "c.pem");
  EXPECT_EQ(c->tls.key, "k.pem");
  EXPECT_EQ(c->tls.ca, "ca.pem");
  auto named = server::ServerConfigFromArgs({"--model", "/m/medgemma-4b-it", "--model-id", "breast-v2"});
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->model_id, "breast-v2");
}

TEST(ServiceConfigTest, TheAdaptersDirIsAlwaysAnAdapterRoot) {
  auto c = server::ServerConfigFromArgs(
      {"--model", "/m/x", "--adapters-dir", "/adapters", "--adapter-root", "/trainer/jobs"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->AllowedAdapterRoots(), (std::vector<std::string>{"/trainer/jobs", "/adapters"}));
  auto both = server::ServerConfigFromArgs(
      {"--model", "/m/x", "--adapters-dir", "/adapters", "--adapter-root", "/adapters"});
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->AllowedAdapterRoots(), (std::vector<std::string>{"/adapters"}));
  auto none = server::ServerConfigFromArgs({"--model", "/m/x"});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->AllowedAdapterRoots().empty());
}

TEST(ServiceConfigTest, TheAssistantSectionIsReadAndChecked) {
  auto c = server::ParseServerConfig("assistant:\n  system_prompt: Be brief.\n  guardrails_file: g.yaml\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->assistant.system_prompt, "Be brief.");
  EXPECT_EQ(c->assistant.guardrails_file, "g.yaml");
  EXPECT_EQ(c->assistant.disclaimer, assistant::AssistantConfig().disclaimer);
  EXPECT_EQ(server::ParseServerConfig("assistant:\n  sytem_prompt: x\n").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto no_disclaimer = server::ParseServerConfig("assistant: {disclaimer: ''}\n");
  ASSERT_TRUE(no_disclaimer.ok()) << no_disclaimer.status();
  EXPECT_EQ(no_disclaimer->Validate().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace medgemma
