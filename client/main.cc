// medgemma-cli: one binary for operators and developers: in-process engine commands, and clients of
// medgemma-server (tokens from --token-file or $MEDGEMMA_TOKEN).
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "client/engine_commands.h"
#include "client/finetune_commands.h"
#include "client/server_commands.h"

namespace {
using Command = absl::Status (*)(const std::vector<std::string>&);

// classify runs in-process with --model, or against a server with --server.
absl::Status Classify(const std::vector<std::string>& argv) {
  for (const auto& a : argv) {
    if (a == "--server" || a.rfind("--server=", 0) == 0) return medgemma::cli::ClassifyRemote(argv);
  }
  return medgemma::cli::ClassifyLocal(argv);
}

struct Entry {
  Command run;
  const char* usage;
};

const std::map<std::string, Entry>& Commands() {
  using namespace medgemma::cli;
  static const std::map<std::string, Entry> commands = {
      {"make-tiny-model", {MakeTinyModel, "--out DIR [--seed N]"}},
      {"make-demo-data", {MakeDemoData, "--out DIR [--seed N] [--patients-per-type N] [--images-per-patient N]"}},
      {"classify", {Classify, "--model DIR [--adapter DIR] [--task YAML] [--json] [--batch-size N] FILE|DIR...\n"
                              "           classify --server HOST:PORT [--adapter NAME] [--json] [--token-file F] [--tls-ca F] FILE|DIR..."}},
      {"adapters", {Adapters, "list | load NAME PATH [--default] | unload NAME | set-default [NAME]  --server HOST:PORT [--token-file F]"}},
      {"generate", {Generate, "--model DIR [--adapter DIR] [--text PROMPT] [--max-new-tokens N] FILE"}},
      {"tokenize", {Tokenize, "--model DIR [--text TEXT] [--raw]"}},
      {"forward", {Forward, "--model DIR --inputs IN.safetensors --out OUT.safetensors [--labels ID,...] [--full-logits]"}},
      {"preprocess", {Preprocess, "--model DIR --out OUT.safetensors FILE..."}},
      {"merge-adapter", {MergeAdapter, "--model DIR --adapter DIR --out DIR"}},
      {"finetune", {Finetune, "start --adapter-name NAME (--breakhis-root DIR [--fold N] [--magnification N] [--no-balance] |\n"
                              "           --train-csv F --eval-csv F) [hyper-parameter flags as train] [--promote [--min-accuracy X]\n"
                              "           [--require-improvement]] [--watch] | status JOB | watch JOB | cancel JOB | list\n"
                              "           --trainer HOST:PORT [--token-file F] [--tls-ca F]"}},
      {"train", {Train, "--model DIR --out DIR (--breakhis-root DIR [--fold N] [--magnification N] [--no-balance] |\n"
                        "           --train-csv F --eval-csv F) [--epochs N] [--lr X] [--r N] [--alpha X] [--dropout X]\n"
                        "           [--micro-batch-size N] [--grad-accum N] [--warmup-ratio X] [--max-grad-norm X] [--seed N]\n"
                        "           [--loss full|answer] [--max-steps N] [--checkpoint-every N] [--checkpoint-activations]\n"
                        "           [--no-shuffle] [--target-modules a,b] [--task YAML]"}},
  };
  return commands;
}

int Usage() {
  std::cerr << "usage: medgemma-cli COMMAND [flags]\n"
               "model flags: --device cpu|cuda|auto --dtype float32|bfloat16|auto --attention sdpa|eager|auto\n";
  for (const auto& [name, entry] : Commands()) std::cerr << "  " << name << " " << entry.usage << "\n";
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  auto it = Commands().find(argv[1]);
  if (it == Commands().end()) return Usage();
  const absl::Status status = it->second.run(std::vector<std::string>(argv + 2, argv + argc));
  if (!status.ok()) {
    std::cerr << "medgemma-cli " << argv[1] << ": " << status << "\n";
    return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}
