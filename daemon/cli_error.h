// cli_error.h — how a provisiond command reports a failure: one line on stderr, exit status 1.
// Shared by the admin, `ca`, `manifest` and `tidy` commands so the line has one form.
#pragma once

#include <string>
#include <string_view>

namespace provisiond::cli {

// Prints "provisiond: <what>" and a newline on stderr. Returns 1, the exit status of a command
// that failed, so a command ends with `return cli::Error(...)`.
int Error(const std::string& what);

// The same with the subcommand's name first: "provisiond: <command>: <what>" (`ca`, `manifest`
// and `tidy` name themselves in their errors).
int Error(std::string_view command, const std::string& what);

}  // namespace provisiond::cli
