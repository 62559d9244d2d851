// medgemma-cli finetune: clients of medgemma-trainer.
#pragma once

#include <absl/status/status.h>

#include <string>
#include <vector>

namespace medgemma::cli {

// finetune start|status|watch|cancel|list --trainer HOST:PORT ...
absl::Status Finetune(const std::vector<std::string>& argv);

}  // namespace medgemma::cli
