// Promotion reaches every replica behind a name: a Kubernetes headless Service resolves to one
// address per ready pod, and a gRPC channel to the name would reach only one of them.
#pragma once

#include <string>
#include <vector>

namespace medgemma::trainer {

struct ReplicaAddress {
  std::string address;  // "ip:port" ("[ip]:port" for IPv6) to connect to
  std::string host;     // the configured host name: what a TLS certificate names
};

// `host_port` resolved to every address of its host, IPv4 ones when there are any (a dual-stack
// name lists each replica twice), IPv6 ones otherwise. A name that does not resolve comes back
// as it is, for the connection to report.
std::vector<ReplicaAddress> ResolveReplicas(const std::string& host_port);

}  // namespace medgemma::trainer
