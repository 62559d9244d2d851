#include "base/csv.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>

#include "base/status_macros.h"

namespace medgemma {
namespace {

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

bool IsLineBreak(char c) { return c == '\n' || c == '\r'; }

std::string Shown(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x20 && byte < 0x7F) return absl::StrCat("'", std::string(1, c), "'");
  return absl::StrFormat("byte 0x%02X", byte);
}

// One pass over the text; `line_` follows the line breaks consumed, inside quotes too.
class CsvParser {
 public:
  explicit CsvParser(std::string_view text) : text_(text) {}

  absl::StatusOr<std::vector<CsvRecord>> Records() {
    std::vector<CsvRecord> records;
    while (pos_ < text_.size()) {
      CsvRecord record{{}, line_};
      if (!IsLineBreak(text_[pos_])) {
        do {
          MG_ASSIGN_OR_RETURN(std::string field, Field());
          record.fields.push_back(std::move(field));
        } while (Consume(','));
      }
      SkipLineBreak();
      records.push_back(std::move(record));
    }
    return records;
  }

 private:
  bool Consume(char c) {
    if (pos_ >= text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  // CRLF, LF or a lone CR: one line break.
  void SkipLineBreak() {
    const bool cr = Consume('\r');
    if (Consume('\n') || cr) ++line_;
  }

  absl::StatusOr<std::string> Field() { return pos_ < text_.size() && text_[pos_] == '"' ? Quoted() : Unquoted(); }

  absl::StatusOr<std::string> Unquoted() {
    const size_t start = pos_;
    for (; pos_ < text_.size() && text_[pos_] != ',' && !IsLineBreak(text_[pos_]); ++pos_) {
      if (text_[pos_] == '"') {
        return absl::InvalidArgumentError(absl::StrCat(
            "line ", line_, ": a quote inside an unquoted field (quote the whole field and write its quotes as \"\")"));
      }
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  absl::StatusOr<std::string> Quoted() {
    const int opened = line_;
    ++pos_;  // the opening quote
    std::string field;
    while (true) {
      if (pos_ >= text_.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", opened, ": a quoted field is never closed (a quote is missing)"));
      }
      const char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        if (!Consume('"')) break;  // the closing quote; "" is a quote in the field
        field.push_back('"');
      } else if (IsLineBreak(c)) {
        const size_t start = pos_;
        SkipLineBreak();
        field.append(text_.substr(start, pos_ - start));
      } else {
        field.push_back(c);
        ++pos_;
      }
    }
    if (pos_ < text_.size() && text_[pos_] != ',' && !IsLineBreak(text_[pos_])) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_, ": ", Shown(text_[pos_]),
                                                     " after a closing quote (expected a comma or a line break)"));
    }
    return field;
  }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
};

bool NeedsQuotes(const std::string& field) { return field.find_first_of(",\"\r\n") != std::string::npos; }

}  // namespace

absl::StatusOr<std::vector<CsvRecord>> ParseCsv(std::string_view text) {
  if (text.substr(0, kByteOrderMark.size()) == kByteOrderMark) text.remove_prefix(kByteOrderMark.size());
  return CsvParser(text).Records();
}

std::string FormatCsvRecord(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line.push_back(',');
    // A lone empty field is quoted: unquoted, its line would read back as a blank line.
    if (!NeedsQuotes(fields[i]) && !(fields.size() == 1 && fields[i].empty())) {
      line.append(fields[i]);
      continue;
    }
    line.push_back('"');
    for (char c : fields[i]) {
      if (c == '"') line.push_back('"');
      line.push_back(c);
    }
    line.push_back('"');
  }
  line.push_back('\n');
  return line;
}

}  // namespace medgemma
