// docs/api/openapi.yaml describes every route the server has, and nothing
// else: the routes of BuildRoutes (Routes::Describe) against the document's
// paths and methods.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <string>

#include "tests/server/api_fixture.h"

namespace edgefleet::server::api::testing {
namespace {

// "METHOD path" for every operation under `paths:` (two-space paths, four-space methods).
std::set<std::string> DocumentedRoutes(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::set<std::string> out;
  bool in_paths = false;
  std::string path;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("paths:", 0) == 0) {
      in_paths = true;
      continue;
    }
    if (!in_paths) continue;
    if (!line.empty() && line[0] != ' ') break;  // the next top-level key
    if (line.size() > 3 && line.rfind("  /", 0) == 0 && line.back() == ':') {
      path = line.substr(2, line.size() - 3);
      continue;
    }
    static const char* const kMethods[] = {"get", "post", "put", "delete", "patch", "head"};
    for (const char* m : kMethods) {
      if (line == std::string("    ") + m + ":") {
        std::string upper(m);
        std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) { return static_cast<char>(c - 32); });
        out.insert(upper + " " + path);
      }
    }
  }
  return out;
}

TEST_F(ApiTest, OpenApiDocumentListsExactlyTheServedRoutes) {
  const std::vector<std::string> described = routes_.Describe();
  const std::set<std::string> served(described.begin(), described.end());
  const std::set<std::string> documented =
      DocumentedRoutes(std::filesystem::path(EDGEFLEET_SOURCE_DIR) / "docs/api/openapi.yaml");
  ASSERT_GE(documented.size(), 10u);
  for (const std::string& r : served) EXPECT_TRUE(documented.count(r)) << r << " is served but not documented";
  for (const std::string& r : documented) EXPECT_TRUE(served.count(r)) << r << " is documented but not served";
}

}  // namespace
}  // namespace edgefleet::server::api::testing
