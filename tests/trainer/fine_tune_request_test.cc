// One declaration of a fine-tune's inputs: medgemma-cli flags derived from FineTuneRequest, the
// trainer's YAML defaults read as a Hyperparameters message, and the one resolution both use,
// with unknown keys and values rejected everywhere.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <limits>
#include <map>

#include "base/file_util.h"
#include "base/status_macros.h"
#include "engine/lora_adapter.h"
#include "engine/training/initial_adapter.h"
#include "medgemma/v1/trainer.pb.h"
#include "tests/engine/test_support.h"
#include "trainer/fine_tune_request.h"
#include "trainer/proto_flags.h"
#include "trainer/trainer_config.h"

namespace medgemma {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;
using trainer::MessageFlags;

bool Contains(const absl::Status& s, const std::string& text) {
  return s.message().find(text) != absl::string_view::npos;
}

// What `finetune start` (or `train`, with skip {"promote"}) makes of `argv`.
absl::StatusOr<v1::FineTuneRequest> FromFlags(const std::vector<std::string>& argv,
                                              const std::set<std::string>& skip = {}) {
  MG_ASSIGN_OR_RETURN(MessageFlags flags, MessageFlags::For(v1::FineTuneRequest::descriptor(), skip));
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, FlagSet("test", flags.Flags())));
  v1::FineTuneRequest request;
  MG_RETURN_IF_ERROR(flags.Fill(args, &request));
  return request;
}

// The flags' names and help, as a FlagSet holds them (value "" is a switch).
std::map<std::string, Flag> FlagsByName(const std::set<std::string>& skip = {}) {
  std::map<std::string, Flag> out;
  auto flags = MessageFlags::For(v1::FineTuneRequest::descriptor(), skip);
  EXPECT_TRUE(flags.ok()) << flags.status();
  if (flags.ok()) {
    for (const Flag& f : flags->Flags()) EXPECT_TRUE(out.emplace(f.name, f).second) << "twice: --" << f.name;
  }
  return out;
}

TEST(TrainerRequestFlagsTest, EveryRequestFieldIsAFlagUnderItsNameAndItsOldSpelling) {
  const auto flags = FlagsByName();
  for (const char* name : {"adapter-name", "breakhis-root", "folds-csv", "fold", "magnification", "train-csv",
                           "eval-csv", "lora-r", "r", "lora-alpha", "alpha", "lora-dropout", "dropout",
                           "target-modules", "epochs", "learning-rate", "lr", "micro-batch-size",
                           "gradient-accumulation-steps", "grad-accum", "warmup-ratio", "max-grad-norm", "seed", "loss",
                           "max-steps", "weight-decay", "checkpoint-every-steps", "checkpoint-every", "eval-batch-size",
                           "min-accuracy", "init-adapter"}) {
    ASSERT_TRUE(flags.count(name)) << name;
    EXPECT_FALSE(flags.at(name).value.empty()) << name << " takes a value";
  }
  for (const char* name : {"balance", "no-balance", "shuffle", "no-shuffle", "activation-checkpointing",
                           "checkpoint-activations", "promote", "require-improvement"}) {
    ASSERT_TRUE(flags.count(name)) << name;
    EXPECT_TRUE(flags.at(name).value.empty()) << name << " is a switch";
  }
  EXPECT_EQ(flags.at("lr").help, "same as --learning-rate");
  EXPECT_NE(flags.at("loss").help.find("[FULL_SEQUENCE (full), ANSWER_ONLY (answer)]"), std::string::npos)
      << flags.at("loss").help;

  const auto train = FlagsByName({"promote"});
  EXPECT_FALSE(train.count("promote"));
  EXPECT_FALSE(train.count("min-accuracy"));
  EXPECT_TRUE(train.count("init-adapter"));
}

TEST(TrainerRequestFlagsTest, TheDemoScriptsFlagsMakeTheRequestTheyAlwaysMade) {
  auto r = FromFlags({"--adapter-name", "breakhis-demo", "--breakhis-root", "/data", "--fold", "1", "--magnification",
                      "100", "--loss", "answer", "--lr", "5e-3", "--epochs", "8", "--grad-accum", "2", "--seed", "42",
                      "--promote", "--min-accuracy", "0.9", "--require-improvement", "--no-shuffle",
                      "--target-modules", "q_proj,v_proj", "--target-modules", "o_proj"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->adapter_name(), "breakhis-demo");
  ASSERT_TRUE(r->dataset().has_breakhis());
  EXPECT_EQ(r->dataset().breakhis().root(), "/data");
  EXPECT_EQ(r->dataset().breakhis().fold(), 1);
  EXPECT_FALSE(r->dataset().breakhis().has_balance());
  const auto& h = r->hyperparameters();
  EXPECT_EQ(h.loss(), v1::ANSWER_ONLY);
  EXPECT_FLOAT_EQ(h.learning_rate(), 5e-3f);
  EXPECT_EQ(h.epochs(), 8);
  EXPECT_EQ(h.gradient_accumulation_steps(), 2);
  EXPECT_EQ(h.seed(), 42);
  EXPECT_TRUE(h.has_shuffle());
  EXPECT_FALSE(h.shuffle());
  EXPECT_FALSE(h.has_lora_r());
  EXPECT_EQ(std::vector<std::string>(h.target_modules().begin(), h.target_modules().end()),
            (std::vector<std::string>{"q_proj", "v_proj", "o_proj"}));
  EXPECT_TRUE(r->promote().enabled());
  EXPECT_FLOAT_EQ(r->promote().min_accuracy(), 0.9f);
  EXPECT_TRUE(r->promote().require_improvement());

  auto names = FromFlags({"--loss", "ANSWER_ONLY", "--learning-rate", "1e-4", "--train-csv", "t.csv",
                          "--max-grad-norm", "0", "--activation-checkpointing=false"});
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_EQ(names->hyperparameters().loss(), v1::ANSWER_ONLY);
  EXPECT_TRUE(names->hyperparameters().has_max_grad_norm());  // an explicit 0: no clipping
  EXPECT_TRUE(names->hyperparameters().has_activation_checkpointing());
  EXPECT_FALSE(names->hyperparameters().activation_checkpointing());
  EXPECT_TRUE(names->dataset().has_manifest());
}

TEST(TrainerRequestFlagsTest, BadFlagsAreInvalidArgumentsNamingTheFlag) {
  struct Case {
    std::vector<std::string> argv;
    std::vector<std::string> message;
  };
  const std::vector<Case> cases = {
      {{"--loss", "foo"}, {"--loss: unknown value 'foo'", "FULL_SEQUENCE", "ANSWER_ONLY"}},
      {{"--lr", "fast"}, {"--lr: 'fast' is not a number"}},
      {{"--epochs", "2.5"}, {"--epochs: '2.5' is not a 32-bit integer"}},
      {{"--lr", "1", "--learning-rate", "2"}, {"--learning-rate and --lr set the same field"}},
      {{"--shuffle", "--no-shuffle"}, {"--shuffle and --no-shuffle set the same field"}},
      {{"--breakhis-root", "/d", "--train-csv", "t.csv"}, {"pick different source choices"}},
      {{"--no-balance", "--eval-csv", "e.csv"}, {"--no-balance and --eval-csv pick different source choices"}},
      {{"--no-such-flag", "1"}, {"unknown flag --no-such-flag"}},
  };
  for (const auto& c : cases) {
    auto r = FromFlags(c.argv);
    ASSERT_FALSE(r.ok()) << c.argv[0];
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    for (const auto& m : c.message) EXPECT_TRUE(Contains(r.status(), m)) << r.status() << " lacks " << m;
  }
  EXPECT_FALSE(FromFlags({"--promote"}, {"promote"}).ok());  // train offers no promotion
}

TEST(TrainerDefaultsTest, TheCheckedInYamlIsTheEnginesRecipe) {
  auto text = ReadFileToString(fs::path(MEDGEMMA_CONFIG_DIR) / "trainer.yaml");
  ASSERT_TRUE(text.ok()) << text.status();
  auto config = trainer::ParseTrainerConfig(*text);
  ASSERT_TRUE(config.ok()) << config.status();
  const TrainingOptions recipe;
  const TrainingOptions& d = config->defaults;
  EXPECT_EQ(d.lora.r, recipe.lora.r);
  EXPECT_EQ(d.lora.alpha, recipe.lora.alpha);
  EXPECT_EQ(d.lora.dropout, recipe.lora.dropout);
  EXPECT_EQ(d.lora.target_modules, recipe.lora.target_modules);
  EXPECT_EQ(d.epochs, recipe.epochs);
  EXPECT_EQ(d.learning_rate, recipe.learning_rate);  // 0.0005 exactly, not the float's 0.000500000024
  EXPECT_EQ(d.warmup_ratio, recipe.warmup_ratio);
  EXPECT_EQ(d.max_grad_norm, recipe.max_grad_norm);
  EXPECT_EQ(d.micro_batch_size, recipe.micro_batch_size);
  EXPECT_EQ(d.gradient_accumulation_steps, recipe.gradient_accumulation_steps);
  EXPECT_EQ(d.seed, recipe.seed);
  EXPECT_EQ(d.loss, recipe.loss);
  EXPECT_EQ(d.checkpoint_every_steps, recipe.checkpoint_every_steps);
}

TEST(TrainerDefaultsTest, UnknownKeysAndValuesAreErrorsThatNameThem) {
  struct Case {
    std::string defaults;
    std::vector<std::string> message;
  };
  const std::vector<Case> cases = {
      {"{loss: FOO}", {"defaults.loss: unknown value 'FOO'", "FULL_SEQUENCE (full), ANSWER_ONLY (answer)"}},
      {"{learning_rat: 0.1}", {"defaults: unknown key 'learning_rat'", "learning_rate"}},
      {"{lora_r: eight}", {"defaults.lora_r: 'eight' is not a 32-bit integer"}},
      {"{target_modules: {a: 1}}", {"defaults.target_modules needs a list"}},
      {"{seed: -1}", {"defaults.seed must be >= 0"}},
      {"[1, 2]", {"defaults must be a mapping"}},
  };
  for (const auto& c : cases) {
    auto config = trainer::ParseTrainerConfig("model: {dir: m}\ndata_roots: [d]\ndefaults: " + c.defaults + "\n");
    ASSERT_FALSE(config.ok()) << c.defaults;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    for (const auto& m : c.message) EXPECT_TRUE(Contains(config.status(), m)) << config.status() << " lacks " << m;
  }
  auto aliases = trainer::ParseTrainerConfig("defaults: {loss: answer, shuffle: false, max_grad_norm: 0}\n");
  ASSERT_TRUE(aliases.ok()) << aliases.status();
  EXPECT_EQ(aliases->defaults.loss, LossMode::kAnswerOnly);
  EXPECT_FALSE(aliases->defaults.shuffle);
  EXPECT_EQ(aliases->defaults.max_grad_norm, 0);
}

class TrainerResolveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(data());
    std::string rows = "path,label\n";
    for (int i = 0; i < 2; ++i) {
      const std::string name = "im" + std::to_string(i) + ".png";
      ASSERT_TRUE(WriteStringAtomically(data() / name, testing::RandomPng(40, 30, i)).ok());
      rows += name + "," + std::to_string(i) + "\n";
    }
    ASSERT_TRUE(WriteStringAtomically(data() / "m.csv", rows).ok());
    request_.set_adapter_name("a");
    request_.mutable_dataset()->mutable_manifest()->set_train_csv((data() / "m.csv").string());
    request_.mutable_dataset()->mutable_manifest()->set_eval_csv((data() / "m.csv").string());
    context_.data_roots = {data().string()};
    context_.defaults.epochs = 3;
  }
  absl::StatusOr<FineTuneSpec> Resolve() {
    return trainer::ResolveFineTuneRequest(request_, context_, testing::TinyBundle().model->weights());
  }
  fs::path data() const { return dir_.path() / "data"; }
  TempDir dir_;
  v1::FineTuneRequest request_;
  trainer::FineTuneContext context_;
};

TEST_F(TrainerResolveTest, UnsetFieldsTakeTheDefaultsAndSetOnesAreUsedAsWritten) {
  auto defaults = Resolve();
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->options.epochs, 3);
  EXPECT_EQ(defaults->options.max_grad_norm, TrainingOptions().max_grad_norm);
  EXPECT_TRUE(defaults->options.shuffle);
  EXPECT_EQ(defaults->data.train.size(), 2u);

  auto* h = request_.mutable_hyperparameters();
  h->set_max_grad_norm(0);
  h->set_warmup_ratio(0.1f);
  h->set_shuffle(false);
  h->set_loss(v1::ANSWER_ONLY);
  h->set_weight_decay(0.01f);
  auto set = Resolve();
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->options.max_grad_norm, 0);
  EXPECT_EQ(set->options.warmup_ratio, 0.1);  // the decimal written, so ceil(0.1 * 20) is 2 as in Python
  EXPECT_EQ(set->options.weight_decay, 0.01);
  EXPECT_FALSE(set->options.shuffle);
  EXPECT_EQ(set->options.loss, LossMode::kAnswerOnly);
}

TEST_F(TrainerResolveTest, OutOfRangeAndUnknownValuesNameTheField) {
  request_.mutable_hyperparameters()->set_loss(static_cast<v1::LossMode>(7));
  auto loss = Resolve();
  EXPECT_EQ(loss.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(loss.status(), "hyperparameters.loss: unknown value 7; allowed: FULL_SEQUENCE"))
      << loss.status();
  request_.mutable_hyperparameters()->clear_loss();
  request_.mutable_hyperparameters()->set_epochs(0);  // explicit zero is not "the default"
  auto epochs = Resolve();
  EXPECT_TRUE(Contains(epochs.status(), "epochs must be > 0")) << epochs.status();
}

// NaN compares false against every bound, infinity passes `>= 0`: a job would run on them.
TEST_F(TrainerResolveTest, NonFiniteValuesAreRefused) {
  request_.mutable_promote()->set_min_accuracy(std::numeric_limits<float>::quiet_NaN());
  auto nan_accuracy = Resolve();
  EXPECT_EQ(nan_accuracy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(nan_accuracy.status(), "promote.min_accuracy must be in [0, 1]")) << nan_accuracy.status();
  request_.mutable_promote()->clear_min_accuracy();
  request_.mutable_hyperparameters()->set_weight_decay(std::numeric_limits<float>::infinity());
  auto inf_decay = Resolve();
  EXPECT_EQ(inf_decay.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(inf_decay.status(), "weight_decay must be >= 0")) << inf_decay.status();
}

// Found by tests/fuzz/fine_tune_request_fuzzer.cc: the reader's NOT_FOUND reached the client.
TEST_F(TrainerResolveTest, AMissingInitAdapterIsInvalidArgument) {
  request_.set_init_adapter((data() / "no-such-adapter").string());
  auto missing = Resolve();
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument) << missing.status();
  EXPECT_TRUE(Contains(missing.status(), "init_adapter: ")) << missing.status();
}

TEST_F(TrainerResolveTest, InitAdapterMustLieInsideTheRootsAndFitTheRun) {
  const auto& base = testing::TinyBundle().model->weights();
  LoraConfig config;
  config.r = 4;
  auto small = LoraAdapter::Create(config, base, torch::kCPU, 3);
  ASSERT_TRUE(small.ok());
  ASSERT_TRUE((*small)->Save(data() / "r4").ok());
  request_.set_init_adapter((data() / "r4").string());
  auto mismatch = Resolve();
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(mismatch.status(), "its r is 4, lora_r is 8")) << mismatch.status();

  request_.mutable_hyperparameters()->set_lora_r(4);
  auto fits = Resolve();
  ASSERT_TRUE(fits.ok()) << fits.status();
  EXPECT_EQ(fits->init_adapter, data() / "r4");

  ASSERT_TRUE((*small)->Save(dir_.path() / "outside").ok());
  request_.set_init_adapter((dir_.path() / "outside").string());
  EXPECT_TRUE(Contains(Resolve().status(), "init_adapter " + (dir_.path() / "outside").string() + " is outside"));
}

TEST(TrainingInitialAdapterTest, StartsFromTheSavedWeightsWithTheRunsDropout) {
  TempDir dir;
  const auto& base = testing::TinyBundle().model->weights();
  LoraConfig saved_config;
  saved_config.dropout = 0;
  auto saved = LoraAdapter::Create(saved_config, base, torch::kCPU, 11);
  ASSERT_TRUE(saved.ok());
  for (auto& [name, w] : (*saved)->Modules()) w->b.normal_(0, 0.1);
  ASSERT_TRUE((*saved)->Save(dir.path() / "init").ok());

  LoraConfig run;
  run.dropout = 0.2;
  auto started = InitialAdapter(run, dir.path() / "init", base, torch::kCPU, 99);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ((*started)->config().dropout, 0.2);
  const auto a = (*saved)->Modules(), b = (*started)->Modules();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(torch::equal(a[i].second->a, b[i].second->a)) << a[i].first;
    EXPECT_TRUE(torch::equal(a[i].second->b, b[i].second->b)) << a[i].first;
  }
  run.target_modules = {"q_proj"};
  auto fewer = InitialAdapter(run, dir.path() / "init", base, torch::kCPU, 99);
  EXPECT_EQ(fewer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(fewer.status(), "modules where target_modules select")) << fewer.status();
}

}  // namespace
}  // namespace medgemma
