// medgemma-cli subcommands that run the engine in-process (no server involved).
#pragma once

#include <absl/status/status.h>

#include <string>
#include <vector>

namespace medgemma::cli {

absl::Status MakeTinyModel(const std::vector<std::string>& argv);
absl::Status MakeDemoData(const std::vector<std::string>& argv);
absl::Status ClassifyLocal(const std::vector<std::string>& argv);
absl::Status Generate(const std::vector<std::string>& argv);
absl::Status Tokenize(const std::vector<std::string>& argv);
absl::Status Forward(const std::vector<std::string>& argv);
absl::Status Preprocess(const std::vector<std::string>& argv);
absl::Status MergeAdapter(const std::vector<std::string>& argv);
// A LoRA fine-tune in-process (what medgemma-trainer runs per job), writing DIR/adapter and metrics.json.
absl::Status Train(const std::vector<std::string>& argv);

}  // namespace medgemma::cli
