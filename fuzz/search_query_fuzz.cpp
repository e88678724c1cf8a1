// Feeds arbitrary bytes to the search path's query building (store/sqlite/sqlite_search.h): the
// text a user types in GET /v1/search?q=, and the same text as a message body.
//
// Invariants checked, beyond the sanitizers:
// - a query is refused (kInvalidRequest) or gives a MATCH expression FTS5 accepts: no user text
//   can reach FTS5 as syntax;
// - every word of an accepted query carries the conversation's tag, so it cannot match another
//   conversation's terms;
// - a message whose body is the query text is found by it (what is indexed and what is searched
//   are folded alike).
#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "store/sqlite/database.h"
#include "store/sqlite/sqlite_search.h"

namespace {

struct Fixture {
  std::unique_ptr<parley::sqlite::Database> db;
  std::unique_ptr<parley::sqlite::SearchTokenizer> tokenizer;
  parley::sqlite::Statement insert;
  parley::sqlite::Statement match;
  parley::sqlite::Statement clear;
};

Fixture& Get() {
  static Fixture* fixture = [] {
    auto* f = new Fixture;
    f->db = parley::sqlite::Database::Open(":memory:").value();
    if (!f->db
             ->Exec("CREATE VIRTUAL TABLE search_index USING fts5(terms, content='', "
                    "tokenize='ascii')")
             .ok()) {
      std::abort();
    }
    f->tokenizer = parley::sqlite::SearchTokenizer::Create(*f->db).value();
    f->insert = f->db->Prepare("INSERT INTO search_index (rowid, terms) VALUES (1, ?1)").value();
    f->match = f->db->Prepare("SELECT rowid FROM search_index WHERE search_index MATCH ?1").value();
    f->clear = f->db->Prepare("DELETE FROM search_index").value();
    return f;
  }();
  return *fixture;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // the API caps q at 256 bytes; bodies are tested by the store
  Fixture& f = Get();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string tag = parley::sqlite::ConversationTag(text);

  auto query = parley::sqlite::ParseSearchQuery(*f.tokenizer, text);
  if (!query.ok()) {
    if (query.error().code != parley::ErrorCode::kInvalidRequest) std::abort();
    return 0;
  }
  const std::string match = parley::sqlite::MatchExpression(*query, tag);
  if (query->phrases.empty()) return 0;
  for (const auto& phrase : query->phrases) {
    if (phrase.words.empty()) std::abort();
  }

  auto body = parley::sqlite::IndexedText(*f.tokenizer, tag, text);
  if (!body.ok()) std::abort();
  (void)f.clear.Step();
  f.clear.Reset();
  if (!f.insert.Bind(1, *body).ok() || !f.insert.Step().ok()) std::abort();
  f.insert.Reset();

  if (!f.match.Bind(1, match).ok()) std::abort();
  auto row = f.match.Step();
  if (!row.ok()) std::abort();  // FTS5 refused the expression: a quoting bug
  if (!*row) std::abort();      // the text did not find itself
  f.match.Reset();

  // Under another conversation's tag the same words find nothing.
  const std::string other = parley::sqlite::MatchExpression(
      *query, tag == "x0000000000000000" ? "x0000000000000001" : "x0000000000000000");
  if (!f.match.Bind(1, other).ok()) std::abort();
  auto none = f.match.Step();
  if (!none.ok() || *none) std::abort();
  f.match.Reset();
  return 0;
}
