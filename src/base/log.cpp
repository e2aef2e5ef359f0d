#include "base/log.hpp"

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <span>

namespace oxide::log {
namespace {

constexpr std::string_view kLevelNames[] = {"trace", "debug", "info", "warn", "error", "off"};

spdlog::level::level_enum ToSpdlog(Level level) {
  switch (level) {
    case Level::kTrace:
      return spdlog::level::trace;
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
    case Level::kOff:
      break;
  }
  return spdlog::level::off;
}

// The logger and the settings Write needs. Replaced only by Setup, which runs before any
// other thread exists, so readers need no lock.
struct ProcessLog {
  std::shared_ptr<spdlog::logger> logger;
  Format format = Format::kText;
  std::string name;
};

ProcessLog MakeLog(const Options& o) {
  spdlog::sink_ptr sink;
  if (o.stream != nullptr) {
    sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*o.stream, /*force_flush=*/true);
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  }
  auto logger = std::make_shared<spdlog::logger>(o.name, std::move(sink));
  // spdlog stamps the time (UTC, milliseconds); the rest of the line is built by Write, so the
  // level names and the JSON shape are ours.
  const char* pattern = o.format == Format::kJson ? R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ",%v)"
                                                  : "%Y-%m-%dT%H:%M:%S.%eZ %v";
  logger->set_formatter(
      std::make_unique<spdlog::pattern_formatter>(pattern, spdlog::pattern_time_type::utc));
  logger->set_level(ToSpdlog(o.level));
  logger->flush_on(spdlog::level::trace);  // journald and tests see each line at once
  return {std::move(logger), o.format, o.name};
}

ProcessLog& Current() {
  static ProcessLog log = MakeLog(Options{});
  return log;
}

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// logfmt: bare when the value is one plain word, else JSON-quoted (so a line stays one line).
void AppendTextValue(std::string& out, std::string_view v) {
  bool plain = !v.empty() && std::none_of(v.begin(), v.end(), [](char c) {
    return c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
  });
  if (plain) {
    out += v;
  } else {
    AppendJsonString(out, v);
  }
}

std::string FormatFields(Format format, std::string_view message, const Field* begin,
                         const Field* end) {
  // Messages may end in a command's output: no trailing blank, and one event stays one line.
  size_t last = message.find_last_not_of(" \t\r\n");
  message = message.substr(0, last == std::string_view::npos ? 0 : last + 1);
  std::string out;
  if (format == Format::kJson) {
    out += "\"msg\":";
    AppendJsonString(out, message);
    for (const Field& f : std::span(begin, end)) {
      out += ',';
      AppendJsonString(out, f.key());
      out += ':';
      if (f.number()) {
        out += f.value();
      } else {
        AppendJsonString(out, f.value());
      }
    }
    return out;
  }
  for (char c : message) {
    if (c == '\n') {
      out += "\\n";
    } else if (c != '\r') {
      out += c;
    }
  }
  for (const Field& f : std::span(begin, end)) {
    out += ' ';
    out += f.key();
    out += '=';
    AppendTextValue(out, f.value());
  }
  return out;
}

void WriteFields(Level level, std::string_view message, const Field* begin, const Field* end) {
  const ProcessLog& log = Current();
  std::string line;
  if (log.format == Format::kJson) {
    line += "\"level\":";
    AppendJsonString(line, ToString(level));
    line += ",\"name\":";
    AppendJsonString(line, log.name);
    line += ',';
    line += FormatFields(Format::kJson, message, begin, end);
    line += '}';
  } else {
    std::string_view name = ToString(level);
    line += name;
    line.append(6 - name.size(), ' ');  // aligns the messages of "info" and "error" lines
    line += log.name;
    line += ": ";
    line += FormatFields(Format::kText, message, begin, end);
  }
  log.logger->log(ToSpdlog(level), spdlog::string_view_t(line.data(), line.size()));
}

}  // namespace

std::string_view ToString(Level level) { return kLevelNames[static_cast<size_t>(level)]; }

Result<Level> ParseLevel(std::string_view s) {
  for (size_t i = 0; i < std::size(kLevelNames); ++i) {
    if (s == kLevelNames[i]) return static_cast<Level>(i);
  }
  return InvalidArgument("unknown log level '" + std::string(s) +
                         "' (trace, debug, info, warn, error, off)");
}

std::string_view ToString(Format format) { return format == Format::kJson ? "json" : "text"; }

Result<Format> ParseFormat(std::string_view s) {
  if (s == "text") return Format::kText;
  if (s == "json") return Format::kJson;
  return InvalidArgument("unknown log format '" + std::string(s) + "' (text, json)");
}

std::string Field::Number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  std::string s(buf);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string FormatMessage(Format format, std::string_view message, Fields fields) {
  return FormatFields(format, message, fields.begin(), fields.end());
}

std::string FormatMessage(Format format, std::string_view message,
                          const std::vector<Field>& fields) {
  return FormatFields(format, message, fields.data(), fields.data() + fields.size());
}

void Write(Level level, std::string_view message, Fields fields) {
  if (Enabled(level)) WriteFields(level, message, fields.begin(), fields.end());
}

void Write(Level level, std::string_view message, const std::vector<Field>& fields) {
  if (Enabled(level)) WriteFields(level, message, fields.data(), fields.data() + fields.size());
}

void Setup(const Options& options) { Current() = MakeLog(options); }

bool Enabled(Level level) {
  return level != Level::kOff && Current().logger->should_log(ToSpdlog(level));
}

Result<Options> Flags::ToOptions(std::string name) const {
  Options o;
  o.name = std::move(name);
  if (!level.empty()) {
    auto parsed = ParseLevel(level);
    if (!parsed.ok()) return parsed.status();
    o.level = *parsed;
  }
  if (verbose > 0) o.level = std::min(o.level, verbose == 1 ? Level::kDebug : Level::kTrace);
  auto parsed_format = ParseFormat(format);
  if (!parsed_format.ok()) return parsed_format.status();
  o.format = *parsed_format;
  return o;
}

}  // namespace oxide::log
