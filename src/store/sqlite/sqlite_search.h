#pragma once

// The search index's text rules, shared by the writer (what is indexed) and the readers (what
// a query matches), and the query validation that bounds what one search may cost.
//
// Why the terms carry the conversation: a global FTS5 index answers `"a"*` by merging the
// doclists of every term that starts with "a", in every conversation, before the membership
// filter sees a row, so one short query cost seconds and a non-member paid the same. Here
// each indexed term is the conversation's tag followed by the folded word ("x<16 hex>hello"),
// so the term b-tree is clustered by conversation and a query for one conversation visits only
// the terms of that conversation: its cost grows with the conversation, not with the server.
//
// Words are folded by SQLite's own unicode61 tokenizer (remove_diacritics 2), reached through
// the FTS5 extension API, so matching ignores case and diacritics exactly as before; the
// index itself uses the 'ascii' tokenizer, which keeps a tagged term in one piece.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/sqlite/database.h"

namespace parley::sqlite {

/// At most this many words (white-space separated) in a query; more is kInvalidRequest.
inline constexpr size_t kMaxSearchWords = 8;
/// A query word of fewer characters than this matches whole words only, never as a prefix: a
/// one- or two-letter prefix would expand to most of a conversation's vocabulary.
inline constexpr size_t kMinPrefixChars = 3;

/// SQLite's unicode61 tokenizer (remove_diacritics 2) on one connection.
/// Thread-safety: like the Database it was made from (one thread at a time); must be destroyed
/// before it.
class SearchTokenizer {
 public:
  [[nodiscard]] static Result<std::unique_ptr<SearchTokenizer>> Create(Database& db);
  ~SearchTokenizer();
  SearchTokenizer(const SearchTokenizer&) = delete;
  SearchTokenizer& operator=(const SearchTokenizer&) = delete;

  /// The folded words of `text`, in order. Characters that are neither letters nor digits
  /// separate words and are dropped.
  Result<std::vector<std::string>> Words(std::string_view text) const;

 private:
  struct Impl;
  explicit SearchTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The prefix of every term of `conv_id`'s messages: "x" and 16 lower-case hex digits of a
/// 64-bit FNV-1a hash. A collision only makes a query visit another conversation's terms;
/// the membership join still filters the rows.
std::string ConversationTag(std::string_view conv_id);

/// What the index holds for a message body of conversation `tag`: its tagged words.
Result<std::string> IndexedText(const SearchTokenizer& tokenizer, std::string_view tag,
                                std::string_view body);

/// A validated query: for each word of the user's text, its folded words (a word such as
/// "e-mail" folds to two, matched as a phrase), and whether the last one is a prefix.
struct SearchQuery {
  struct Phrase {
    std::vector<std::string> words;
    bool prefix = false;
  };
  std::vector<Phrase> phrases;  // empty: nothing can match (the words held no letter or digit)
};

/// kInvalidRequest for a blank query or one of more than kMaxSearchWords words. Words without
/// letters or digits are dropped. Never fails otherwise, whatever the bytes.
Result<SearchQuery> ParseSearchQuery(const SearchTokenizer& tokenizer, std::string_view query);

/// The FTS5 MATCH expression of `query` within conversation `tag`: one quoted phrase per word,
/// ANDed; "" when the query has no phrases. Quoting cannot be broken out of: terms hold only
/// the tag and folded letters and digits, never a quote.
std::string MatchExpression(const SearchQuery& query, std::string_view tag);

}  // namespace parley::sqlite
