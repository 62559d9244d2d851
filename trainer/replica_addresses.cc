#include "trainer/replica_addresses.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <absl/strings/str_cat.h>

#include <set>

namespace medgemma::trainer {

std::vector<ReplicaAddress> ResolveReplicas(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos || host_port.front() == '[') return {{host_port, host_port}};
  const std::string host = host_port.substr(0, colon), port = host_port.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return {{host_port, host}};
  std::set<std::string> v4, v6;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char ip[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr, ip, sizeof(ip));
      v4.insert(absl::StrCat(ip, ":", port));
    } else if (a->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr, ip, sizeof(ip));
      v6.insert(absl::StrCat("[", ip, "]:", port));
    }
  }
  freeaddrinfo(found);
  std::vector<ReplicaAddress> replicas;
  for (const std::string& address : v4.empty() ? v6 : v4) replicas.push_back({address, host});
  if (replicas.empty()) replicas.push_back({host_port, host});
  return replicas;
}

}  // namespace medgemma::trainer
