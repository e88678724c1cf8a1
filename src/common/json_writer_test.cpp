#include "common/json_writer.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <limits>

namespace parley {
namespace {

namespace json = boost::json;

TEST(JsonWriterTest, NestedContainersGetTheirCommasAndParseBack) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject()
      .Field("a", int64_t{1})
      .Key("list")
      .BeginArray()
      .Int(1)
      .BeginObject()
      .EndObject()
      .BeginArray()
      .EndArray()
      .Null()
      .Bool(false)
      .EndArray()
      .Key("o")
      .BeginObject()
      .Field("x", true)
      .Field("y", std::string_view("z"))
      .EndObject()
      .Key("raw")
      .Raw("\"id-7\"")
      .EndObject();
  EXPECT_EQ(out, R"({"a":1,"list":[1,{},[],null,false],"o":{"x":true,"y":"z"},"raw":"id-7"})");
  EXPECT_NO_THROW(json::parse(out));
}

TEST(JsonWriterTest, StringsEscapeExactlyWhatJsonRequires) {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all.push_back(static_cast<char>(c));
  all += "é漢😀";  // UTF-8 passes through unescaped
  std::string out;
  JsonWriter(out).String(all);
  EXPECT_EQ(json::parse(out).as_string(), all);
  EXPECT_NE(out.find("é漢😀"), std::string::npos);
  EXPECT_NE(out.find("\\u001f"), std::string::npos);
  EXPECT_NE(out.find("\\\""), std::string::npos);
  EXPECT_NE(out.find("\\\\"), std::string::npos);
}

TEST(JsonWriterTest, IntegersKeepTheirFullRange) {
  std::string out;
  JsonWriter(out)
      .BeginArray()
      .Int(std::numeric_limits<int64_t>::min())
      .Int(std::numeric_limits<int64_t>::max())
      .Int(0)
      .EndArray();
  const json::array parsed = json::parse(out).as_array();
  EXPECT_EQ(parsed[0].as_int64(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(parsed[1].as_int64(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(parsed[2].as_int64(), 0);
}

}  // namespace
}  // namespace parley
