#include "client/http_get.h"

#include <absl/strings/ascii.h>
#include <absl/strings/match.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_split.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "base/status_macros.h"

namespace medgemma::cli {
namespace {

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Socket& operator=(Socket&&) = delete;
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

std::string Errno() { return std::strerror(errno); }

// Waits until `fd` is ready for `events` (the socket is non-blocking, so every wait is bounded).
absl::Status WaitReady(int fd, short events, absl::Time deadline) {
  while (true) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return absl::DeadlineExceededError("timed out");
    pollfd p{fd, events, 0};
    const int rc = poll(&p, 1, static_cast<int>(ms));
    if (rc > 0) return absl::OkStatus();
    if (rc < 0 && errno != EINTR) return absl::UnavailableError(Errno());
  }
}

absl::StatusOr<Socket> ConnectBy(const HttpEndpoint& endpoint, absl::Time deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(endpoint.host.c_str(), endpoint.port.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(absl::StrCat("cannot resolve ", endpoint.host, ": ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);
  std::string error = "no address";
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    Socket s(socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (s.fd() < 0) {
      error = Errno();
      continue;
    }
    if (connect(s.fd(), a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      error = Errno();
      continue;
    }
    if (absl::Status ready = WaitReady(s.fd(), POLLOUT, deadline); !ready.ok()) {
      error = std::string(ready.message());
      continue;
    }
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) {
      error = std::strerror(so_error);
      continue;
    }
    return s;
  }
  return absl::UnavailableError(absl::StrCat("cannot connect: ", error));
}

absl::Status SendAll(const Socket& s, absl::string_view data, absl::Time deadline) {
  while (!data.empty()) {
    const ssize_t n = send(s.fd(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (errno == EAGAIN || errno == EINTR) {
      MG_RETURN_IF_ERROR(WaitReady(s.fd(), POLLOUT, deadline));
    } else {
      return absl::UnavailableError(absl::StrCat("send: ", Errno()));
    }
  }
  return absl::OkStatus();
}

// Everything until the server closes the connection (HTTP/1.0), at most kMaxResponseBytes.
absl::StatusOr<std::string> ReceiveAll(const Socket& s, absl::Time deadline) {
  constexpr size_t kMaxResponseBytes = size_t{64} << 20;
  std::string response;
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = recv(s.fd(), buffer, sizeof(buffer), 0);
    if (n == 0) return response;
    if (n > 0) {
      response.append(buffer, static_cast<size_t>(n));
      if (response.size() > kMaxResponseBytes) return absl::ResourceExhaustedError("response over 64 MiB");
    } else if (errno == EAGAIN || errno == EINTR) {
      MG_RETURN_IF_ERROR(WaitReady(s.fd(), POLLIN, deadline));
    } else {
      return absl::UnavailableError(absl::StrCat("recv: ", Errno()));
    }
  }
}

// The body of a complete HTTP response, which must be a 200 with an identity-coded body.
absl::StatusOr<std::string> ResponseBody(const std::string& response) {
  const size_t head_end = response.find("\r\n\r\n");
  if (head_end == std::string::npos) return absl::DataLossError("incomplete HTTP response");
  const std::vector<absl::string_view> head = absl::StrSplit(absl::string_view(response).substr(0, head_end), "\r\n");
  const std::vector<absl::string_view> status_line = absl::StrSplit(head[0], absl::MaxSplits(' ', 2));
  if (status_line.size() < 2 || !absl::StartsWith(status_line[0], "HTTP/")) {
    return absl::DataLossError(absl::StrCat("not an HTTP response: ", head[0]));
  }
  if (status_line[1] != "200") return absl::UnavailableError(absl::StrCat("HTTP answer ", head[0]));
  std::string body = response.substr(head_end + 4);
  for (size_t i = 1; i < head.size(); ++i) {
    const std::vector<absl::string_view> header = absl::StrSplit(head[i], absl::MaxSplits(':', 1));
    if (header.size() != 2) continue;
    const std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(header[0]));
    const absl::string_view value = absl::StripAsciiWhitespace(header[1]);
    size_t length = 0;
    if (name == "content-length" && absl::SimpleAtoi(value, &length) && length != body.size()) {
      return absl::DataLossError(absl::StrCat("body of ", body.size(), " bytes, Content-Length ", length));
    }
    // Neither is asked for (HTTP/1.0, no Accept-Encoding); refusing beats parsing garbage.
    if ((name == "transfer-encoding" || name == "content-encoding") && !absl::EqualsIgnoreCase(value, "identity")) {
      return absl::UnimplementedError(absl::StrCat("unsupported ", header[0], ": ", value));
    }
  }
  return body;
}

}  // namespace

std::string HttpEndpoint::ToString() const {
  const bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat("http://", v6 ? "[" : "", host, v6 ? "]" : "", ":", port, path);
}

absl::StatusOr<std::string> HttpGet(const HttpEndpoint& endpoint, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  MG_ASSIGN_OR_RETURN(Socket s, ConnectBy(endpoint, deadline));
  const bool v6 = endpoint.host.find(':') != std::string::npos;
  const std::string request =
      absl::StrCat("GET ", endpoint.path, " HTTP/1.0\r\nHost: ", v6 ? "[" : "", endpoint.host, v6 ? "]" : "", ":",
                   endpoint.port, "\r\nAccept: text/plain\r\nConnection: close\r\n\r\n");
  MG_RETURN_IF_ERROR(SendAll(s, request, deadline));
  MG_ASSIGN_OR_RETURN(std::string response, ReceiveAll(s, deadline));
  return ResponseBody(response);
}

}  // namespace medgemma::cli
