#include "client/engine_commands.h"

#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_split.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "client/cli_args.h"
#include "client/demo_data.h"
#include "client/image_files.h"
#include "engine/checkpoint.h"
#include "engine/chat_prompt.h"
#include "engine/classifier.h"
#include "engine/file_util.h"
#include "engine/generator.h"
#include "engine/lora_adapter.h"
#include "engine/model_bundle.h"
#include "engine/prompt_batch.h"
#include "engine/safetensors.h"
#include "engine/status_macros.h"
#include "engine/tiny_model.h"
#include "engine/training/fine_tune_run.h"

namespace medgemma::cli {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
const std::set<std::string> kModelFlags = {"model", "device", "dtype", "attention", "adapter"};

std::set<std::string> With(std::set<std::string> base, std::initializer_list<std::string> more) {
  base.insert(more.begin(), more.end());
  return base;
}

absl::StatusOr<ModelBundle> LoadBundle(const Args& args) {
  MG_ASSIGN_OR_RETURN(std::string dir, args.Require("model"));
  MG_ASSIGN_OR_RETURN(ModelOptions options, ParseModelOptions(args.Get("device", "auto"), args.Get("dtype", "auto"),
                                                              args.Get("attention", "auto")));
  return LoadModelBundle(dir, options);
}

absl::StatusOr<std::shared_ptr<const LoraAdapter>> LoadAdapterIfAny(const Args& args, const ModelBundle& bundle) {
  if (!args.Has("adapter")) return std::shared_ptr<const LoraAdapter>();
  return LoraAdapter::Load(args.Get("adapter"), bundle.model->weights(), bundle.model->options().device);
}

absl::StatusOr<Task> LoadTask(const Args& args) {
  if (!args.Has("task")) return DefaultBreakHisTask();
  try {
    YAML::Node root = YAML::LoadFile(args.Get("task"));
    return ParseTask(root["task"] ? root["task"] : root);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(args.Get("task"), ": ", e.what()));
  }
}

json ClassificationJson(const Task& task, const torch::Tensor& probs) {
  const torch::Tensor p = probs.contiguous();
  const float* values = p.data_ptr<float>();
  const Task::Answer answer = task.Summarize(values);
  json per_class = json::array();
  for (size_t i = 0; i < task.labels.size(); ++i) {
    per_class.push_back({{"label", i}, {"name", task.labels[i].name}, {"probability", values[i]}});
  }
  json out = {{"label", answer.label},
              {"label_name", task.labels[answer.label].name},
              {"confidence", values[answer.label]},
              {"probabilities", per_class}};
  if (answer.group >= 0) {
    out["group"] = task.groups[answer.group];
    out["group_probability"] = answer.group_probability;
  }
  return out;
}

std::vector<int64_t> ParseIdList(const std::string& text) {
  std::vector<int64_t> ids;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    int64_t id = 0;
    if (absl::SimpleAtoi(part, &id)) ids.push_back(id);
  }
  return ids;
}
}  // namespace

absl::Status MakeTinyModel(const std::vector<std::string>& argv) {
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, {"out", "seed"}, {}));
  MG_ASSIGN_OR_RETURN(std::string out, args.Require("out"));
  MG_ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", 0));
  MG_RETURN_IF_ERROR(WriteTinyModel(out, static_cast<uint64_t>(seed)));
  std::cout << "wrote tiny Gemma 3 checkpoint to " << out << " (seed " << seed << ")\n";
  return absl::OkStatus();
}

absl::Status MakeDemoData(const std::vector<std::string>& argv) {
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, {"out", "seed", "patients-per-type", "images-per-patient"}, {}));
  MG_ASSIGN_OR_RETURN(std::string out, args.Require("out"));
  DemoDataOptions options;
  MG_ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", 0));
  MG_ASSIGN_OR_RETURN(int64_t patients, args.GetInt("patients-per-type", options.patients_per_type));
  MG_ASSIGN_OR_RETURN(int64_t images, args.GetInt("images-per-patient", options.images_per_patient));
  options.seed = static_cast<uint64_t>(seed);
  options.patients_per_type = static_cast<int>(patients);
  options.images_per_patient = static_cast<int>(images);
  MG_RETURN_IF_ERROR(WriteDemoData(out, options));
  std::cout << "wrote BreakHis-layout demo data to " << out << " (" << 8 * patients * 4 * images << " images)\n";
  return absl::OkStatus();
}

absl::Status ClassifyLocal(const std::vector<std::string>& argv) {
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, With(kModelFlags, {"task", "batch-size"}), {"json"}));
  MG_ASSIGN_OR_RETURN(std::vector<fs::path> files, ExpandImagePaths(args.positional()));
  MG_ASSIGN_OR_RETURN(ModelBundle bundle, LoadBundle(args));
  MG_ASSIGN_OR_RETURN(auto adapter, LoadAdapterIfAny(args, bundle));
  MG_ASSIGN_OR_RETURN(Task task, LoadTask(args));
  MG_ASSIGN_OR_RETURN(Classifier classifier, Classifier::Create(bundle.model, *bundle.tokenizer, task, bundle.add_bos_token));
  MG_ASSIGN_OR_RETURN(int64_t batch_size, args.GetInt("batch-size", 8));
  if (batch_size <= 0) return absl::InvalidArgumentError("--batch-size must be > 0");
  json results = json::array();
  bool any_failed = false;
  for (size_t start = 0; start < files.size(); start += batch_size) {
    std::vector<fs::path> batch_files;
    std::vector<torch::Tensor> pixels;
    for (size_t i = start; i < std::min(files.size(), start + batch_size); ++i) {
      auto loaded = PreprocessImageFile(files[i], bundle.preprocess);
      if (!loaded.ok()) {
        any_failed = true;
        results.push_back({{"file", files[i].string()}, {"error", std::string(loaded.status().message())}});
        if (!args.Has("json")) std::cerr << files[i].string() << ": " << loaded.status().message() << "\n";
        continue;
      }
      batch_files.push_back(files[i]);
      pixels.push_back(*loaded);
    }
    if (pixels.empty()) continue;
    MG_ASSIGN_OR_RETURN(torch::Tensor probs, classifier.Classify(torch::stack(pixels), adapter.get()));
    for (size_t i = 0; i < batch_files.size(); ++i) {
      json r = ClassificationJson(task, probs[i]);
      r["file"] = batch_files[i].string();
      if (!args.Has("json")) {
        std::printf("%s\t%d %s\tp=%.3f", batch_files[i].c_str(), r["label"].get<int>(),
                    r["label_name"].get<std::string>().c_str(), r["confidence"].get<double>());
        if (r.contains("group")) std::printf("\t%s %.3f", r["group"].get<std::string>().c_str(), r["group_probability"].get<double>());
        std::printf("\n");
      }
      results.push_back(r);
    }
  }
  if (args.Has("json")) std::cout << results.dump(2) << "\n";
  return any_failed ? absl::InvalidArgumentError("some images could not be classified") : absl::OkStatus();
}

absl::Status Generate(const std::vector<std::string>& argv) {
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, With(kModelFlags, {"text", "max-new-tokens"}), {}));
  if (args.positional().size() != 1) return absl::InvalidArgumentError("generate takes exactly one image file");
  MG_ASSIGN_OR_RETURN(ModelBundle bundle, LoadBundle(args));
  MG_ASSIGN_OR_RETURN(auto adapter, LoadAdapterIfAny(args, bundle));
  MG_ASSIGN_OR_RETURN(torch::Tensor pixels, PreprocessImageFile(args.positional()[0], bundle.preprocess));
  MG_ASSIGN_OR_RETURN(ChatPrompt chat, ChatPrompt::Create(bundle.tokenizer.get(), bundle.model->config(), bundle.add_bos_token));
  GenerationOptions options;
  MG_ASSIGN_OR_RETURN(options.max_new_tokens, args.GetInt("max-new-tokens", 16));
  options.stop_ids = {bundle.tokenizer->eos_id(), chat.end_of_turn_id()};
  const PromptTokens prompt = chat.ForImageAndText(args.Get("text", DefaultBreakHisTask().prompt));
  MG_ASSIGN_OR_RETURN(auto generated, GenerateGreedy(*bundle.model, {prompt}, pixels.unsqueeze(0), adapter.get(), options));
  std::vector<int> ids(generated[0].begin(), generated[0].end());
  std::cout << bundle.tokenizer->Decode(ids) << "\n";
  return absl::OkStatus();
}

absl::Status Tokenize(const std::vector<std::string>& argv) {
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, {"model", "text", "task"}, {"raw"}));
  MG_ASSIGN_OR_RETURN(std::string dir, args.Require("model"));
  MG_ASSIGN_OR_RETURN(Tokenizer tokenizer, Tokenizer::Load(fs::path(dir) / "tokenizer.model"));
  json out;
  if (args.Has("raw")) {
    out["ids"] = tokenizer.Encode(args.Get("text"));
  } else {
    MG_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(dir));
    MG_ASSIGN_OR_RETURN(bool add_bos, ReadAddBosToken(dir));
    MG_ASSIGN_OR_RETURN(ChatPrompt chat, ChatPrompt::Create(&tokenizer, config, add_bos));
    MG_ASSIGN_OR_RETURN(Task task, LoadTask(args));
    const PromptTokens prompt = chat.ForImageAndText(args.Has("text") ? args.Get("text") : task.prompt);
    out["ids"] = prompt.ids;
    out["token_type_ids"] = prompt.token_type_ids;
  }
  std::cout << out.dump() << "\n";
  return absl::OkStatus();
}

absl::Status Forward(const std::vector<std::string>& argv) {
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, With(kModelFlags, {"inputs", "out", "labels"}), {"full-logits"}));
  MG_ASSIGN_OR_RETURN(std::string inputs_path, args.Require("inputs"));
  MG_ASSIGN_OR_RETURN(std::string out_path, args.Require("out"));
  MG_ASSIGN_OR_RETURN(ModelBundle bundle, LoadBundle(args));
  MG_ASSIGN_OR_RETURN(auto adapter, LoadAdapterIfAny(args, bundle));
  MG_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(inputs_path));
  ModelInputs inputs;
  MG_ASSIGN_OR_RETURN(inputs.input_ids, file.Load("input_ids"));
  if (file.Contains("attention_mask")) { MG_ASSIGN_OR_RETURN(inputs.attention_mask, file.Load("attention_mask")); }
  if (file.Contains("token_type_ids")) { MG_ASSIGN_OR_RETURN(inputs.token_type_ids, file.Load("token_type_ids")); }
  if (file.Contains("pixel_values")) { MG_ASSIGN_OR_RETURN(inputs.pixel_values, file.Load("pixel_values")); }
  const auto& model = *bundle.model;
  const std::vector<int64_t> labels = ParseIdList(args.Get("labels"));
  std::vector<std::pair<std::string, torch::Tensor>> outputs;
  MG_RETURN_IF_ERROR(GuardTorch("forward", [&]() -> absl::Status {
    torch::NoGradGuard no_grad;
    auto hidden = model.Hidden(inputs, LoraContext{adapter.get(), false}, nullptr);
    auto mask = inputs.attention_mask.defined() ? inputs.attention_mask : torch::ones_like(inputs.input_ids);
    auto last = LastTokenHidden(hidden, mask);
    if (!labels.empty()) {
      auto label_logits = model.Logits(last, torch::tensor(labels, torch::kLong)).to(torch::kFloat);
      outputs.emplace_back("label_logits", label_logits);
      outputs.emplace_back("label_probs", torch::softmax(label_logits, -1));
    }
    if (args.Has("full-logits")) outputs.emplace_back("logits", model.Logits(hidden).to(torch::kFloat));
    return absl::OkStatus();
  }));
  return WriteSafetensors(out_path, outputs);
}

absl::Status Preprocess(const std::vector<std::string>& argv) {
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, {"model", "out"}, {}));
  MG_ASSIGN_OR_RETURN(std::string dir, args.Require("model"));
  MG_ASSIGN_OR_RETURN(std::string out, args.Require("out"));
  MG_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(dir));
  MG_ASSIGN_OR_RETURN(PreprocessConfig preprocess, LoadPreprocessConfig(dir, config.vision));
  MG_ASSIGN_OR_RETURN(std::vector<fs::path> files, ExpandImagePaths(args.positional()));
  std::vector<torch::Tensor> pixels;
  for (const auto& f : files) {
    MG_ASSIGN_OR_RETURN(torch::Tensor p, PreprocessImageFile(f, preprocess));
    pixels.push_back(p);
  }
  return WriteSafetensors(out, {{"pixel_values", torch::stack(pixels)}});
}

absl::Status MergeAdapter(const std::vector<std::string>& argv) {
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, With(kModelFlags, {"out"}), {}));
  MG_ASSIGN_OR_RETURN(std::string out, args.Require("out"));
  if (!args.Has("adapter")) return absl::InvalidArgumentError("--adapter is required");
  MG_ASSIGN_OR_RETURN(ModelBundle bundle, LoadBundle(args));
  MG_ASSIGN_OR_RETURN(auto adapter, LoadAdapterIfAny(args, bundle));
  MG_ASSIGN_OR_RETURN(ModelWeights merged, MergeLora(bundle.model->weights(), *adapter));
  MG_RETURN_IF_ERROR(SaveModelCheckpoint(out, bundle.model->config(), merged));
  for (const char* name : {"tokenizer.model", "tokenizer_config.json", "preprocessor_config.json", "processor_config.json",
                           "tokenizer.json", "chat_template.jinja", "chat_template.json"}) {
    if (!fs::exists(bundle.dir / name)) continue;
    MG_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(bundle.dir / name));
    MG_RETURN_IF_ERROR(WriteStringAtomically(fs::path(out) / name, bytes));
  }
  std::cout << "merged " << args.Get("adapter") << " into " << out << "\n";
  return absl::OkStatus();
}

namespace {
absl::StatusOr<TrainingOptions> TrainingOptionsFromArgs(const Args& args) {
  TrainingOptions o;
  MG_ASSIGN_OR_RETURN(o.lora.r, args.GetInt("r", o.lora.r));
  MG_ASSIGN_OR_RETURN(o.lora.alpha, args.GetDouble("alpha", o.lora.alpha));
  MG_ASSIGN_OR_RETURN(o.lora.dropout, args.GetDouble("dropout", o.lora.dropout));
  if (args.Has("target-modules")) o.lora.target_modules = absl::StrSplit(args.Get("target-modules"), ',');
  MG_ASSIGN_OR_RETURN(int64_t epochs, args.GetInt("epochs", o.epochs));
  MG_ASSIGN_OR_RETURN(o.learning_rate, args.GetDouble("lr", o.learning_rate));
  MG_ASSIGN_OR_RETURN(int64_t micro, args.GetInt("micro-batch-size", o.micro_batch_size));
  MG_ASSIGN_OR_RETURN(int64_t accum, args.GetInt("grad-accum", o.gradient_accumulation_steps));
  MG_ASSIGN_OR_RETURN(o.warmup_ratio, args.GetDouble("warmup-ratio", o.warmup_ratio));
  MG_ASSIGN_OR_RETURN(o.max_grad_norm, args.GetDouble("max-grad-norm", o.max_grad_norm));
  MG_ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", static_cast<int64_t>(o.seed)));
  MG_ASSIGN_OR_RETURN(o.max_steps, args.GetInt("max-steps", o.max_steps));
  MG_ASSIGN_OR_RETURN(o.checkpoint_every_steps, args.GetInt("checkpoint-every", o.checkpoint_every_steps));
  o.epochs = static_cast<int>(epochs);
  o.micro_batch_size = static_cast<int>(micro);
  o.gradient_accumulation_steps = static_cast<int>(accum);
  o.seed = static_cast<uint64_t>(seed);
  const std::string loss = args.Get("loss", "full");
  if (loss != "full" && loss != "answer") return absl::InvalidArgumentError("--loss must be full or answer");
  o.loss = loss == "full" ? LossMode::kFullSequence : LossMode::kAnswerOnly;
  o.activation_checkpointing = args.Has("checkpoint-activations");
  o.shuffle = !args.Has("no-shuffle");
  MG_RETURN_IF_ERROR(o.Validate());
  return o;
}
}  // namespace

absl::Status Train(const std::vector<std::string>& argv) {
  MG_ASSIGN_OR_RETURN(
      Args args,
      Args::Parse(argv,
                  With(kModelFlags, {"task", "out", "breakhis-root", "fold", "magnification", "train-csv", "eval-csv",
                                     "r", "alpha", "dropout", "target-modules", "epochs", "lr", "micro-batch-size",
                                     "grad-accum", "warmup-ratio", "max-grad-norm", "seed", "loss", "max-steps",
                                     "checkpoint-every"}),
                  {"no-balance", "checkpoint-activations", "no-shuffle"}));
  MG_ASSIGN_OR_RETURN(std::string out, args.Require("out"));
  MG_ASSIGN_OR_RETURN(ModelBundle bundle, LoadBundle(args));
  FineTuneSpec spec;
  spec.adapter_name = fs::path(out).filename().string();
  MG_ASSIGN_OR_RETURN(spec.task, LoadTask(args));
  MG_ASSIGN_OR_RETURN(spec.options, TrainingOptionsFromArgs(args));
  if (args.Has("breakhis-root")) {
    BreakHisSource source{args.Get("breakhis-root"), "", 1, 100, !args.Has("no-balance")};
    MG_ASSIGN_OR_RETURN(int64_t fold, args.GetInt("fold", 1));
    MG_ASSIGN_OR_RETURN(int64_t mag, args.GetInt("magnification", 100));
    source.fold = static_cast<int>(fold);
    source.magnification = static_cast<int>(mag);
    MG_ASSIGN_OR_RETURN(spec.data, LoadBreakHis(source, spec.task, {}, spec.options.seed));
  } else {
    MG_ASSIGN_OR_RETURN(spec.data, LoadManifest({args.Get("train-csv"), args.Get("eval-csv")}, spec.task, {}));
  }
  std::cerr << "train: " << spec.data.train.size() << " examples, eval: " << spec.data.eval.size() << "\n";
  FineTuneCallbacks callbacks;
  callbacks.on_progress = [](const FineTuneProgress& p) {
    std::cerr << absl::StrFormat("\repoch %d/%d  step %d/%d  loss %.4f  lr %.2e  %.1f samples/s  eta %.0fs ", p.epoch,
                                 p.total_epochs, p.step, p.total_steps, p.train_loss, p.learning_rate,
                                 p.samples_per_second, p.eta_seconds);
  };
  MG_ASSIGN_OR_RETURN(FineTuneResult result, RunFineTune(bundle, spec, out, callbacks));
  std::cerr << "\n";
  MG_ASSIGN_OR_RETURN(std::string metrics, ReadFileToString(fs::path(out) / "metrics.json"));
  std::cout << metrics << "\n";
  return absl::OkStatus();
}

}  // namespace medgemma::cli
