// medgemma-cli: one binary for operators and developers: in-process engine commands, and clients of
// medgemma-server and medgemma-trainer (tokens from --token-file or $MEDGEMMA_TOKEN). Each command
// declares its own flags; `medgemma-cli COMMAND --help` lists them.
#include <absl/strings/str_cat.h>

#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "base/flags.h"
#include "client/bench_command.h"
#include "client/engine_commands.h"
#include "client/finetune_commands.h"
#include "client/health_command.h"
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
  const char* summary;  // one line
};

const std::map<std::string, Entry>& Commands() {
  using namespace medgemma::cli;
  static const std::map<std::string, Entry> commands = {
      {"make-tiny-model", {MakeTinyModel, "write a tiny random Gemma 3 checkpoint (tests, demos)"}},
      {"make-demo-data", {MakeDemoData, "write a synthetic data set in BreakHis' layout"}},
      {"classify", {Classify, "classify images in-process (--model) or through medgemma-server (--server)"}},
      {"adapters", {Adapters, "list, load, unload or set the default adapter of a medgemma-server"}},
      {"bench", {Bench, "load-test a medgemma-server: images/s and latency per concurrency level"}},
      {"health", {Health, "grpc.health.v1 check of a server or trainer (exit 0 when SERVING)"}},
      {"generate", {Generate, "generate text for one image, in-process"}},
      {"tokenize", {Tokenize, "token ids of a prompt, as the classifier (or, --ask, the Assistant) builds it"}},
      {"forward", {Forward, "run the model on saved inputs and write logits (parity checks)"}},
      {"preprocess", {Preprocess, "write the pixel tensors the model would see for images"}},
      {"merge-adapter", {MergeAdapter, "fold a LoRA adapter into a copy of the base checkpoint"}},
      {"finetune", {Finetune, "start, watch, cancel or list fine-tune jobs on medgemma-trainer"}},
      {"train", {Train, "run a LoRA fine-tune in-process (what medgemma-trainer runs per job)"}},
  };
  return commands;
}

// What `medgemma-cli --help` prints: the commands, then the flags every command takes.
const medgemma::FlagSet& TopLevelFlags() {
  static const medgemma::FlagSet flags = [] {
    std::string usage = "medgemma-cli COMMAND [flags]   (medgemma-cli COMMAND --help lists its flags)\n\ncommands:";
    for (const auto& [name, entry] : Commands()) {
      absl::StrAppend(&usage, "\n  ", name, std::string(18 - name.size(), ' '), entry.summary);
    }
    return medgemma::FlagSet(usage, {});
  }();
  return flags;
}
}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << TopLevelFlags().Help();
    return 2;
  }
  auto it = Commands().find(args[0]);
  if (it == Commands().end() && args[0].rfind("-", 0) != 0) {
    std::cerr << "medgemma-cli: unknown command '" << args[0] << "'\n\n" << TopLevelFlags().Help();
    return 2;
  }
  // Flags before any command: --help, --version, or an error naming the flag.
  const absl::Status status = it == Commands().end()
                                  ? medgemma::Args::Parse(args, TopLevelFlags()).status()
                                  : it->second.run(std::vector<std::string>(args.begin() + 1, args.end()));
  if (medgemma::IsHelpOrVersion(status)) {
    std::cout << status.message() << std::flush;
    return 0;
  }
  if (it == Commands().end()) {
    std::cerr << "medgemma-cli: " << (status.ok() ? "a command is required" : status.message()) << "\n\n"
              << TopLevelFlags().Help();
    return 2;
  }
  if (!status.ok()) {
    std::cerr << "medgemma-cli " << args[0] << ": " << status << "\n";
    return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}
