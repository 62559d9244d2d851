#include "client/engine_commands.h"

#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_split.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "base/flags.h"
#include "client/demo_data.h"
#include "client/image_files.h"
#include "engine/checkpoint.h"
#include "engine/chat_prompt.h"
#include "engine/classifier.h"
#include "engine/decode_batch.h"
#include "base/file_util.h"
#include "engine/generator.h"
#include "engine/lora_adapter.h"
#include "engine/model_bundle.h"
#include "engine/prompt_batch.h"
#include "engine/safetensors.h"
#include "engine/torch_guard.h"
#include "engine/tiny_model.h"
#include "engine/training/fine_tune_run.h"
#include "medgemma/v1/trainer.pb.h"
#include "trainer/fine_tune_request.h"
#include "trainer/proto_flags.h"

namespace medgemma::cli {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
// The flags LoadBundle reads.
const std::vector<Flag>& ModelFlags() {
  static const std::vector<Flag> flags = {
      {"model", "DIR", "HF-format checkpoint directory (config.json, *.safetensors, tokenizer.model)"},
      {"device", "DEVICE", "cpu | cuda | cuda:N | auto (default)"},
      {"dtype", "DTYPE", "float32 | bfloat16 | float16 | auto (default: bfloat16 on CUDA, float32 on CPU)"},
      {"attention", "IMPL", "sdpa | eager | auto (default)"}};
  return flags;
}
const Flag kAdapterFlag = {"adapter", "DIR", "LoRA adapter directory to apply (default: none)"};
const Flag kTaskFlag = {"task", "YAML", "task file: prompt and labels (default: BreakHis, 8 classes)"};

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
// One request through a DecodeBatch of one slot, admitted and stepped to its end.
absl::StatusOr<std::vector<int64_t>> DecodeAlone(std::shared_ptr<const Gemma3Model> model, SequenceRequest request) {
  const int64_t capacity = static_cast<int64_t>(request.prompt.ids.size()) + request.max_new_tokens;
  MG_ASSIGN_OR_RETURN(DecodeBatch batch, DecodeBatch::Create(std::move(model), {1, capacity}));
  std::vector<int64_t> ids;
  MG_ASSIGN_OR_RETURN(std::vector<TokenEvent> events, batch.Admit({std::move(request)}));
  while (true) {
    for (const auto& e : events) ids.push_back(e.token);
    if (batch.active() == 0) return ids;
    MG_ASSIGN_OR_RETURN(events, batch.Step());
  }
}

}  // namespace

absl::Status MakeTinyModel(const std::vector<std::string>& argv) {
  static const FlagSet flags("medgemma-cli make-tiny-model --out DIR [flags]",
                             {{"out", "DIR", "where to write the checkpoint"},
                              {"seed", "N", "random seed of the weights (default 0)"},
                              {"text-layers", "N", "decoder layers"},
                              {"sliding-window", "N", "sliding-window attention span"},
                              {"rope-scaling", "X", "RoPE scaling factor of the global layers"},
                              {"image-tokens", "N", "soft tokens per image"}});
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, flags));
  MG_ASSIGN_OR_RETURN(std::string out, args.Require("out"));
  MG_ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", 0));
  TinyModelOptions options;
  MG_ASSIGN_OR_RETURN(options.text_layers, args.GetInt("text-layers", options.text_layers));
  MG_ASSIGN_OR_RETURN(options.sliding_window, args.GetInt("sliding-window", options.sliding_window));
  MG_ASSIGN_OR_RETURN(options.rope_scaling, args.GetDouble("rope-scaling", options.rope_scaling));
  MG_ASSIGN_OR_RETURN(options.image_tokens, args.GetInt("image-tokens", options.image_tokens));
  MG_RETURN_IF_ERROR(WriteTinyModel(out, static_cast<uint64_t>(seed), options));
  std::cout << "wrote tiny Gemma 3 checkpoint to " << out << " (seed " << seed << ")\n";
  return absl::OkStatus();
}

absl::Status MakeDemoData(const std::vector<std::string>& argv) {
  static const FlagSet flags("medgemma-cli make-demo-data --out DIR [flags]",
                             {{"out", "DIR", "where to write the BreakHis-layout data set"},
                              {"seed", "N", "random seed of the images (default 0)"},
                              {"patients-per-type", "N", "patients per tumour type"},
                              {"images-per-patient", "N", "images per patient and magnification"}});
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, flags));
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
  static const FlagSet flags =
      FlagSet("medgemma-cli classify --model DIR [flags] FILE|DIR...\n"
              "       (with --server HOST:PORT, medgemma-server classifies: see classify --server X --help)",
              {kAdapterFlag,
               kTaskFlag,
               {"batch-size", "N", "images per forward pass (default 8)"},
               {"json", "", "print JSON instead of one line per image"}})
          .Add(ModelFlags());
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, flags));
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
      // DCMTK is the server's: the CLI sends DICOM files to it (classify --server) instead.
      absl::StatusOr<torch::Tensor> loaded = IsDicomFile(files[i])
                                                 ? absl::InvalidArgumentError("a DICOM file: classify it with --server")
                                                 : PreprocessImageFile(files[i], bundle.preprocess);
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
  static const FlagSet flags = FlagSet("medgemma-cli generate --model DIR [flags] IMAGE",
                                       {kAdapterFlag,
                                        {"text", "PROMPT", "the user turn's text (default: the BreakHis prompt)"},
                                        {"max-new-tokens", "N", "tokens to generate at most (default 16)"},
                                        {"decode-batch", "",
                                         "decode through the continuous batch (engine/decode_batch.h), the Assistant's "
                                         "path, instead of GenerateGreedy"},
                                        {"temperature", "T", "with --decode-batch: sample at T (default 0: greedy)"},
                                        {"top-p", "P", "with --decode-batch: nucleus sampling mass (default 1)"},
                                        {"seed", "N", "with --decode-batch: the sampling seed (default 0)"},
                                        {"json", "", "print the ids and the text as JSON"}})
                                   .Add(ModelFlags());
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, flags));
  if (args.positional().size() != 1) return absl::InvalidArgumentError("generate takes exactly one image file");
  MG_ASSIGN_OR_RETURN(ModelBundle bundle, LoadBundle(args));
  MG_ASSIGN_OR_RETURN(auto adapter, LoadAdapterIfAny(args, bundle));
  MG_ASSIGN_OR_RETURN(torch::Tensor pixels, PreprocessImageFile(args.positional()[0], bundle.preprocess));
  MG_ASSIGN_OR_RETURN(ChatPrompt chat, ChatPrompt::Create(bundle.tokenizer.get(), bundle.model->config(), bundle.add_bos_token));
  GenerationOptions options;
  MG_ASSIGN_OR_RETURN(options.max_new_tokens, args.GetInt("max-new-tokens", 16));
  options.stop_ids = {bundle.tokenizer->eos_id(), chat.end_of_turn_id()};
  const PromptTokens prompt = chat.ForImageAndText(args.Get("text", DefaultBreakHisTask().prompt));
  std::vector<int64_t> generated;
  if (args.Has("decode-batch")) {
    SequenceRequest request{0, prompt, pixels.unsqueeze(0), adapter, options.max_new_tokens, options.stop_ids, {}};
    MG_ASSIGN_OR_RETURN(request.sampling.temperature, args.GetDouble("temperature", 0));
    MG_ASSIGN_OR_RETURN(request.sampling.top_p, args.GetDouble("top-p", 1));
    MG_ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", 0));
    request.sampling.seed = static_cast<uint64_t>(seed);
    MG_ASSIGN_OR_RETURN(generated, DecodeAlone(bundle.model, std::move(request)));
  } else {
    if (args.Has("temperature") || args.Has("top-p") || args.Has("seed")) {
      return absl::InvalidArgumentError("--temperature, --top-p and --seed go with --decode-batch");
    }
    MG_ASSIGN_OR_RETURN(auto rows, GenerateGreedy(*bundle.model, {prompt}, pixels.unsqueeze(0), adapter.get(), options));
    generated = std::move(rows[0]);
  }
  std::vector<int> ids(generated.begin(), generated.end());
  const std::string text = bundle.tokenizer->Decode(ids);
  if (args.Has("json")) {
    // A cut through a multi-byte character leaves invalid UTF-8: shown as U+FFFD, never a throw.
    std::cout << json{{"ids", generated}, {"text", text}}.dump(-1, ' ', false, json::error_handler_t::replace)
              << "\n";
  } else {
    std::cout << text << "\n";
  }
  return absl::OkStatus();
}

absl::Status Tokenize(const std::vector<std::string>& argv) {
  static const FlagSet flags("medgemma-cli tokenize --model DIR [flags]",
                             {{"model", "DIR", "checkpoint directory whose tokenizer.model to use"},
                              {"text", "TEXT", "text to tokenize (default: the task's prompt)"},
                              kTaskFlag,
                              {"raw", "", "tokenize the text alone, without the chat template and image"},
                              {"ask", "", "apply_chat_template's ids (one <bos>): the Assistant's prompt"},
                              {"system", "TEXT", "with --ask: the system message, folded into the user turn"},
                              {"image", "", "with --ask: an image before the text (default: text only)"}});
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, flags));
  MG_ASSIGN_OR_RETURN(std::string dir, args.Require("model"));
  if (!args.Has("ask") && (args.Has("system") || args.Has("image"))) {
    return absl::InvalidArgumentError("--system and --image go with --ask");
  }
  MG_ASSIGN_OR_RETURN(Tokenizer tokenizer, Tokenizer::Load(fs::path(dir) / "tokenizer.model"));
  json out;
  if (args.Has("raw")) {
    out["ids"] = tokenizer.Encode(args.Get("text"));
  } else {
    MG_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(dir));
    MG_ASSIGN_OR_RETURN(bool add_bos, ReadAddBosToken(dir));
    MG_ASSIGN_OR_RETURN(ChatPrompt chat, ChatPrompt::Create(&tokenizer, config, add_bos));
    PromptTokens prompt;
    if (args.Has("ask")) {
      ChatTurn turn{std::nullopt, args.Get("text"), args.Has("image")};
      if (args.Has("system")) turn.system = args.Get("system");
      prompt = chat.ForTurn(turn);
      out["rendered"] = ChatPrompt::Render(turn);
    } else {
      MG_ASSIGN_OR_RETURN(Task task, LoadTask(args));
      prompt = chat.ForImageAndText(args.Has("text") ? args.Get("text") : task.prompt);
    }
    out["ids"] = prompt.ids;
    out["token_type_ids"] = prompt.token_type_ids;
  }
  std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  return absl::OkStatus();
}

absl::Status Forward(const std::vector<std::string>& argv) {
  static const FlagSet flags =
      FlagSet("medgemma-cli forward --model DIR --inputs IN.safetensors --out OUT.safetensors [flags]",
              {kAdapterFlag,
               {"inputs", "FILE", "safetensors with input_ids [attention_mask token_type_ids pixel_values]"},
               {"out", "FILE", "safetensors to write the outputs to"},
               {"labels", "ID,...", "token ids whose last-position logits and probabilities to write"},
               {"full-logits", "", "also write the logits over the whole vocabulary"}})
          .Add(ModelFlags());
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, flags));
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
  static const FlagSet flags("medgemma-cli preprocess --model DIR --out OUT.safetensors [flags] FILE|DIR...",
                             {{"model", "DIR", "checkpoint directory whose preprocessing config to use"},
                              {"out", "FILE", "safetensors to write pixel_values to"}});
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, flags));
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
  static const FlagSet flags = FlagSet("medgemma-cli merge-adapter --model DIR --adapter DIR --out DIR [flags]",
                                       {kAdapterFlag, {"out", "DIR", "where to write the merged checkpoint"}})
                                   .Add(ModelFlags());
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, flags));
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

absl::Status Train(const std::vector<std::string>& argv) {
  // The request `finetune start` sends (promotion aside), from the same flags, resolved and
  // validated by the trainer's own code; unset fields take TrainingOptions' defaults.
  MG_ASSIGN_OR_RETURN(trainer::MessageFlags request_flags,
                      trainer::MessageFlags::For(v1::FineTuneRequest::descriptor(), {"promote"}));
  const FlagSet flags = FlagSet("medgemma-cli train --model DIR --out DIR [flags]\n"
                                "       (FineTuneRequest's fields are flags; --adapter-name defaults to --out's last component)",
                                {{"out", "DIR", "where to write the adapter, checkpoints and metrics.json"}, kTaskFlag})
                            .Add(ModelFlags())
                            .Add(request_flags.Flags());
  MG_ASSIGN_OR_RETURN(Args args, Args::Parse(argv, flags));
  MG_ASSIGN_OR_RETURN(std::string out, args.Require("out"));
  v1::FineTuneRequest request;
  std::string out_dir = out;
  while (out_dir.size() > 1 && out_dir.back() == '/') out_dir.pop_back();
  request.set_adapter_name(fs::path(out_dir).filename().string());
  MG_RETURN_IF_ERROR(request_flags.Fill(args, &request));
  trainer::FineTuneContext context;
  MG_ASSIGN_OR_RETURN(context.task, LoadTask(args));
  MG_ASSIGN_OR_RETURN(ModelBundle bundle, LoadBundle(args));
  MG_ASSIGN_OR_RETURN(FineTuneSpec spec, trainer::ResolveFineTuneRequest(request, context, bundle.model->weights()));
  std::cerr << "train: " << spec.data.train.size() << " examples, eval: " << spec.data.eval.size() << "\n";
  FineTuneCallbacks callbacks;
  callbacks.on_progress = [](const FineTuneProgress& p) {
    std::cerr << absl::StrFormat("\repoch %d/%d  step %d/%d  loss %.4f  lr %.2e  %.1f samples/s  peak %.1f GiB  eta %.0fs ",
                                 p.epoch, p.total_epochs, p.step, p.total_steps, p.train_loss, p.learning_rate,
                                 p.samples_per_second, p.peak_gpu_allocated_bytes / double{1 << 30}, p.eta_seconds);
  };
  MG_ASSIGN_OR_RETURN(FineTuneResult result, RunFineTune(bundle, spec, out, callbacks));
  std::cerr << "\n";
  MG_ASSIGN_OR_RETURN(std::string metrics, ReadFileToString(fs::path(out) / "metrics.json"));
  std::cout << metrics << "\n";
  return absl::OkStatus();
}

}  // namespace medgemma::cli
