#include "client/metrics_scrape.h"

#include <absl/strings/ascii.h>
#include <absl/strings/match.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_split.h>

#include "base/status_macros.h"
#include "client/http_get.h"

namespace medgemma::cli {
namespace {

void SkipBlanks(absl::string_view& rest) {
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
}

bool Consume(absl::string_view& rest, char c) {
  if (rest.empty() || rest.front() != c) return false;
  rest.remove_prefix(1);
  return true;
}

// [a-zA-Z_:][a-zA-Z0-9_:]* (metric names; label names are the same without ':'); empty if none.
std::string TakeName(absl::string_view& rest) {
  size_t n = 0;
  while (n < rest.size() && (absl::ascii_isalpha(rest[n]) || rest[n] == '_' || rest[n] == ':' ||
                             (n > 0 && absl::ascii_isdigit(rest[n])))) {
    ++n;
  }
  std::string name(rest.substr(0, n));
  rest.remove_prefix(n);
  return name;
}

// The rest of a quoted label value, after its opening quote: \\, \" and \n unescaped.
absl::StatusOr<std::string> TakeQuoted(absl::string_view& rest) {
  std::string value;
  while (!rest.empty()) {
    const char c = rest.front();
    rest.remove_prefix(1);
    if (c == '"') return value;
    if (c != '\\' || rest.empty()) {
      value.push_back(c);
      continue;
    }
    const char escaped = rest.front();
    rest.remove_prefix(1);
    value.push_back(escaped == 'n' ? '\n' : escaped);
  }
  return absl::InvalidArgumentError("unterminated label value");
}

absl::StatusOr<MetricLabels> TakeLabels(absl::string_view& rest) {
  MetricLabels labels;
  SkipBlanks(rest);
  while (!Consume(rest, '}')) {
    const std::string name = TakeName(rest);
    if (name.empty()) return absl::InvalidArgumentError("expected a label name");
    SkipBlanks(rest);
    if (!Consume(rest, '=')) return absl::InvalidArgumentError(absl::StrCat("expected '=' after label ", name));
    SkipBlanks(rest);
    if (!Consume(rest, '"')) return absl::InvalidArgumentError(absl::StrCat("expected '\"' opening label ", name));
    MG_ASSIGN_OR_RETURN(labels[name], TakeQuoted(rest));
    SkipBlanks(rest);
    if (!Consume(rest, ',') && (rest.empty() || rest.front() != '}')) {
      return absl::InvalidArgumentError("expected ',' or '}' after a label");
    }
    SkipBlanks(rest);
  }
  return labels;
}

// NAME[{labels}] VALUE [TIMESTAMP]
absl::StatusOr<MetricSample> ParseSampleLine(absl::string_view rest) {
  MetricSample sample;
  sample.name = TakeName(rest);
  if (sample.name.empty()) return absl::InvalidArgumentError("expected a metric name");
  SkipBlanks(rest);
  if (Consume(rest, '{')) {
    MG_ASSIGN_OR_RETURN(sample.labels, TakeLabels(rest));
  }
  const std::vector<absl::string_view> fields = absl::StrSplit(rest, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  int64_t timestamp = 0;
  if (fields.empty() || fields.size() > 2 || !absl::SimpleAtod(fields[0], &sample.value) ||
      (fields.size() == 2 && !absl::SimpleAtoi(fields[1], &timestamp))) {
    return absl::InvalidArgumentError(absl::StrCat("expected a value (and optional timestamp) after ", sample.name));
  }
  return sample;
}

bool LabelsInclude(const MetricLabels& labels, const MetricLabels& match) {
  for (const auto& [name, value] : match) {
    auto it = labels.find(name);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::vector<MetricSample>> ParsePrometheusText(absl::string_view text) {
  std::vector<MetricSample> samples;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    absl::StatusOr<MetricSample> sample = ParseSampleLine(line);
    if (!sample.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("metrics line ", line_number, ": ", sample.status().message()));
    }
    samples.push_back(*std::move(sample));
  }
  return samples;
}

absl::StatusOr<HistogramSnapshot> FindHistogram(const std::vector<MetricSample>& samples, absl::string_view name,
                                                const MetricLabels& match) {
  const std::string bucket = absl::StrCat(name, "_bucket"), sum = absl::StrCat(name, "_sum"),
                    count = absl::StrCat(name, "_count");
  HistogramSnapshot h;
  bool found = false;
  for (const MetricSample& s : samples) {
    if (!LabelsInclude(s.labels, match)) continue;
    if (s.name == bucket) {
      auto le = s.labels.find("le");
      double bound = 0;
      if (le == s.labels.end() || !absl::SimpleAtod(le->second, &bound)) {
        return absl::InvalidArgumentError(absl::StrCat(bucket, " without a numeric le label"));
      }
      h.cumulative[bound] += s.value;
    } else if (s.name == sum) {
      h.sum += s.value;
    } else if (s.name == count) {
      h.count += s.value;
      found = true;
    }
  }
  if (!found) return absl::NotFoundError(absl::StrCat("no histogram ", name, " in the metrics"));
  return h;
}

HistogramSnapshot HistogramDelta(const HistogramSnapshot& after, const HistogramSnapshot& before) {
  HistogramSnapshot d;
  for (const auto& [bound, n] : after.cumulative) {
    auto it = before.cumulative.find(bound);
    d.cumulative[bound] = n - (it == before.cumulative.end() ? 0 : it->second);
  }
  d.sum = after.sum - before.sum;
  d.count = after.count - before.count;
  return d;
}

absl::StatusOr<HttpEndpoint> ParseMetricsUrl(absl::string_view url) {
  absl::string_view rest = url;
  if (absl::ConsumePrefix(&rest, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat("metrics URL ", url, ": only http:// is supported"));
  }
  absl::ConsumePrefix(&rest, "http://");
  HttpEndpoint e;
  const size_t slash = rest.find('/');
  e.path = slash == absl::string_view::npos ? "/metrics" : std::string(rest.substr(slash));
  absl::string_view authority = rest.substr(0, slash);
  size_t colon;
  if (absl::ConsumePrefix(&authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos)
      return absl::InvalidArgumentError(absl::StrCat("metrics URL ", url, ": no ']'"));
    e.host = std::string(authority.substr(0, close));
    colon = close + 1;
    if (colon < authority.size() && authority[colon] != ':') colon = absl::string_view::npos;
  } else {
    colon = authority.rfind(':');
    e.host = std::string(authority.substr(0, colon));
  }
  int port = 0;
  if (e.host.empty() || colon == absl::string_view::npos || colon >= authority.size() ||
      !absl::SimpleAtoi(authority.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("metrics URL ", url, ": expected http://HOST:PORT[/PATH]"));
  }
  e.port = std::to_string(port);
  return e;
}

absl::StatusOr<std::vector<MetricSample>> Scrape(const HttpEndpoint& endpoint, absl::Duration timeout) {
  absl::StatusOr<std::vector<MetricSample>> samples = [&]() -> absl::StatusOr<std::vector<MetricSample>> {
    MG_ASSIGN_OR_RETURN(std::string body, HttpGet(endpoint, timeout));
    return ParsePrometheusText(body);
  }();
  if (!samples.ok()) {
    return absl::Status(samples.status().code(),
                        absl::StrCat("metrics at ", endpoint.ToString(), ": ", samples.status().message()));
  }
  return samples;
}

}  // namespace medgemma::cli
