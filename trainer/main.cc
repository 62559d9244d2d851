// medgemma-trainer: LoRA fine-tune jobs over gRPC. Its issue (#6) builds it on the engine; until
// then this binary only states that it is not there yet.
#include <iostream>

int main() {
  std::cerr << "medgemma-trainer is not implemented yet (issue 6)\n";
  return 1;
}
