#include "config/command_line.h"

#include <CLI/CLI.hpp>
#include <cstddef>
#include <memory>
#include <utility>

namespace parley {
namespace {

constexpr std::string_view kDescription = "Parley chat server";

constexpr std::string_view kFooter =
    "Every option except --config can also be set in the TOML file given by --config, under\n"
    "its [section] as the option name with underscores (e.g. [limits] max_frame_bytes =\n"
    "65536), or in the environment as PARLEY_ and the option name in upper case with\n"
    "underscores (e.g. PARLEY_LISTEN, PARLEY_DATA_DIR, PARLEY_MAX_FRAME_BYTES; lists are\n"
    "comma-separated, e.g. PARLEY_ALLOWED_ORIGINS=https://a.example,https://b.example).\n"
    "Precedence, lowest first: built-in defaults < --config file < environment < flags.";

std::string_view ValueName(const ConfigField::Member& member) {
  switch (member.index()) {
    case 0:
      return "TEXT";
    case 1:
      return "INT";
    case 2:
      return "UINT";
    case 3:
      return "NUMBER";
    default:
      return "LIST";
  }
}

bool IsList(const ConfigField& field) {
  return std::holds_alternative<std::vector<std::string> Config::*>(field.member);
}

std::string SectionGroup(std::string_view section) {
  return "Options in [" + std::string(section) + "]";
}

CommandLine Exit(int code, std::string output) {
  CommandLine result;
  result.exit_now = true;
  result.exit_code = code;
  result.output = std::move(output);
  return result;
}

CommandLine Invalid(std::string_view message) {
  return Exit(2, "parleyd: " + std::string(message) + "\nRun 'parleyd --help' for the options.\n");
}

}  // namespace

CommandLine ParseCommandLine(int argc, const char* const* argv,
                             const std::vector<std::string>& env) {
  const std::span<const ConfigField> fields = ConfigFields();
  const Config defaults;

  CLI::App app{std::string(kDescription), "parleyd"};
  app.set_version_flag("--version", std::string(kParleydVersion), "Print the version and exit");
  app.footer(std::string(kFooter));
  app.get_formatter()->column_width(44);

  std::string config_path;
  app.add_option("--config", config_path,
                 "TOML configuration file; its settings override the built-in defaults")
      ->type_name("FILE");

  // Flags are captured as text and applied after the file and the environment, through the
  // same SetFieldFromText as the environment, so both report bad values the same way.
  std::vector<std::string> scalar_values(fields.size());
  std::vector<std::vector<std::string>> list_values(fields.size());
  std::vector<CLI::Option*> options(fields.size());
  for (size_t i = 0; i < fields.size(); ++i) {
    const ConfigField& field = fields[i];
    const std::string description = std::string(field.help) + " [env " + EnvVarName(field) + "]";
    CLI::Option* option = IsList(field)
                              ? app.add_option(FlagName(field), list_values[i], description)
                              : app.add_option(FlagName(field), scalar_values[i], description);
    const std::string default_text = FieldToText(defaults, field);
    if (!IsList(field)) {
      // Last one wins, so a wrapper script can append an override to a fixed command line.
      option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
    option->type_name(std::string(ValueName(field.member)))
        ->default_str(default_text.empty() ? "\"\"" : default_text)
        ->group(SectionGroup(field.section));
    options[i] = option;
  }

  // CLI11 reports --help, --version and bad flags by throwing; nothing escapes this function.
  try {
    if (argc > 0 && argv != nullptr) {
      app.parse(argc, argv);
    } else {
      app.parse(std::vector<std::string>{});
    }
  } catch (const CLI::CallForHelp&) {
    return Exit(0, app.help());
  } catch (const CLI::CallForAllHelp&) {
    return Exit(0, app.help("", CLI::AppFormatMode::All));
  } catch (const CLI::CallForVersion&) {
    return Exit(0, std::string(kParleydVersion) + "\n");
  } catch (const CLI::ParseError& error) {
    return Invalid(error.what());
  }

  Config config;
  if (!config_path.empty()) {
    Result<Config> loaded = LoadConfigFile(config_path, std::move(config));
    if (!loaded) return Invalid(loaded.error().message);
    config = std::move(loaded).value();
  }

  Result<Config> with_env = ApplyEnvironment(env, std::move(config));
  if (!with_env) return Invalid(with_env.error().message);
  config = std::move(with_env).value();

  for (size_t i = 0; i < fields.size(); ++i) {
    if (options[i]->count() == 0) continue;
    const ConfigField& field = fields[i];
    // A list flag may repeat and each occurrence may be a comma list; joining the
    // occurrences lets SetFieldFromText split, trim and drop empty items as it does for the
    // environment, so `--allowed-origins ""` clears a list set by the file or environment.
    std::string text = scalar_values[i];
    if (IsList(field)) {
      text.clear();
      for (const std::string& item : list_values[i]) text += item + ",";
    }
    if (Status status = SetFieldFromText(config, field, text, FlagName(field)); !status) {
      return Invalid(status.error().message);
    }
  }

  if (Status status = ValidateConfig(config); !status) {
    return Invalid("invalid configuration: " + status.error().message);
  }

  CommandLine result;
  result.config = std::move(config);
  return result;
}

}  // namespace parley
