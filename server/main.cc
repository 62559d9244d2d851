// medgemma-server: the gRPC Classify service. Its issue (#5) builds it on the engine; until then
// this binary only states that it is not there yet.
#include <iostream>

int main() {
  std::cerr << "medgemma-server is not implemented yet (issue 5); use medgemma-cli classify --model DIR\n";
  return 1;
}
