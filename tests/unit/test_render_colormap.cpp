// Colour maps: matplotlib tables against the Toolbox references, Zennit palettes against values
// computed with Zennit's own cmap.py, the CMSL language and the name lookup.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "lrp/core/error.hpp"
#include "lrp/render/colormap.hpp"
#include "support/test_npy_reader.hpp"
#include "support/test_paths.hpp"

using lrp::render::Colormap;
using lrp::render::get_colormap;

namespace {

std::string render_ref(const std::string& file) {
  return lrp::test::shared_path("reference/lrp_toolbox/LeNet-5/render/" + file);
}

// FNV-1a over the 8-bit palette (entry * 255, exact for Zennit palettes).
std::uint64_t palette_hash(const Colormap& cm) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const auto& rgb : cm.table())
    for (double v : rgb) {
      h ^= static_cast<std::uint64_t>(v * 255.0);
      h *= 0x100000001b3ull;
    }
  return h;
}

}  // namespace

// The four matplotlib tables are computed from matplotlib's segment data; they must equal
// matplotlib's own 256-entry tables (saved by the reference run) bit for bit.
TEST(RenderColormap, MatplotlibTablesEqualReferenceLuts) {
  for (const std::string name : {"jet", "binary", "seismic", "bwr"}) {
    SCOPED_TRACE(name);
    const auto ref = lrp::test::read_test_npy(render_ref("lut_" + name + "_256.npy"));
    ASSERT_EQ(ref.shape, (std::vector<std::size_t>{256, 3}));
    const Colormap cm = get_colormap(name);
    ASSERT_EQ(cm.kind(), Colormap::Kind::Table);
    ASSERT_EQ(cm.table().size(), 256u);
    for (std::size_t i = 0; i < 256; ++i)
      for (std::size_t c = 0; c < 3; ++c)
        EXPECT_EQ(cm.table()[i][c], ref.data[3 * i + c]) << "entry " << i << " channel " << c;
  }
}

// matplotlib's lookup: v in [0,1] → entry min(floor(256 v), 255); below 0 first, above 1 last.
TEST(RenderColormap, TableIndexRule) {
  const Colormap jet = get_colormap("jet");
  EXPECT_EQ(jet.index(0.0), 0u);
  EXPECT_EQ(jet.index(1.0 / 256 - 1e-12), 0u);
  EXPECT_EQ(jet.index(1.0 / 256), 1u);
  EXPECT_EQ(jet.index(0.5), 128u);
  EXPECT_EQ(jet.index(255.0 / 256 - 1e-12), 254u);
  EXPECT_EQ(jet.index(1.0), 255u);
  EXPECT_EQ(jet.index(-3.0), 0u);
  EXPECT_EQ(jet.index(7.0), 255u);
  const auto black = jet(std::nan(""));
  EXPECT_EQ(black, (lrp::render::Rgb{0, 0, 0}));
}

// Zennit's imgify lookup: entry trunc(clip(255 v, 0, 255)).
TEST(RenderColormap, PaletteIndexRule) {
  const Colormap gray = get_colormap("gray");
  ASSERT_EQ(gray.kind(), Colormap::Kind::Palette);
  EXPECT_EQ(gray.index(0.5), 127u);
  EXPECT_EQ(gray.index(1.0), 255u);
  EXPECT_EQ(gray.index(254.9 / 255), 254u);
  EXPECT_EQ(gray.index(-1.0), 0u);
}

// Expected hashes and entries 100 and 200 of every built-in Zennit palette (and two extra CMSL
// sources exercising unindexed colours between anchors, a short first anchor, whitespace and a
// first index of ff), computed with zennit/cmap.py ColorMap(source).palette() at 6204e31.
TEST(RenderColormap, ZennitPalettesMatchZennit) {
  struct Expect {
    const char* name;
    const char* source;
    std::uint64_t hash;
    int e100[3], e200[3];
  };
  const Expect expected[] = {
      {"gray", "000,fff", 0x3ac8574c48f9b025ull, {100, 100, 100}, {200, 200, 200}},
      {"wred", "fff,f00", 0x22b2abebe2fa9325ull, {255, 155, 155}, {255, 55, 55}},
      {"wblue", "fff,00f", 0xb59e29060bda9525ull, {155, 155, 255}, {55, 55, 255}},
      {"hot", "000,f00,ff0,fff", 0xb2f788926ea88041ull, {255, 45, 0}, {255, 255, 90}},
      {"cold", "000,00f,0ff", 0x16853cca1412a772ull, {0, 0, 200}, {0, 145, 255}},
      {"coldnhot", "0ff,00f,80:000,f00,ff0,fff", 0xbf7c5ce6682bf444ull, {0, 0, 111}, {255, 182, 0}},
      {"zennit-bwr", "00f,80:fff,f00", 0x55e9ced78307f601ull, {199, 199, 255}, {255, 110, 110}},
      {"france", "0055a4,80:fff,ef4135", 0x54fa723b9f57f444ull, {199, 217, 235}, {245, 147, 140}},
      {"zennit-seismic", "0000d0,80:d0d0d0,d00000", 0x042f245ea2a4a753ull, {162, 162, 208}, {208, 90, 90}},
      {"coolio", "00d0d0,80:d0d0d0,d000d0", 0x380d4ac84cdbb368ull, {162, 208, 208}, {208, 90, 208}},
      {"coleus", "00d000,80:d0d0d0,d000d0", 0xed38364a39f63668ull, {162, 208, 162}, {208, 90, 208}},
      {nullptr, "3:f00, 0f0 ,00f,c0:ff0,fff", 0x11ee7ccbb10a12d7ull, {0, 244, 10}, {255, 255, 32}},
      {nullptr, "ff:000,fff", 0xbc399a4181bf82a6ull, {0, 0, 0}, {0, 0, 0}},
  };
  for (const Expect& e : expected) {
    SCOPED_TRACE(e.source);
    const Colormap cm = e.name ? get_colormap(e.name) : get_colormap(e.source);
    ASSERT_EQ(cm.kind(), Colormap::Kind::Palette);
    EXPECT_EQ(palette_hash(cm), e.hash);
    for (int c = 0; c < 3; ++c) {
      EXPECT_EQ(cm.table()[100][static_cast<std::size_t>(c)] * 255.0, e.e100[c]);
      EXPECT_EQ(cm.table()[200][static_cast<std::size_t>(c)] * 255.0, e.e200[c]);
    }
    if (e.name) {
      EXPECT_EQ(palette_hash(lrp::render::colormap_from_cmsl(e.source)), e.hash);
    }
  }
  // The names bwr and seismic are matplotlib's maps, not Zennit's.
  EXPECT_EQ(get_colormap("bwr").kind(), Colormap::Kind::Table);
  EXPECT_EQ(get_colormap("seismic").kind(), Colormap::Kind::Table);
}

TEST(RenderColormap, MalformedCmslIsConfigError) {
  for (const std::string src : {"fff,", "80:,fff", "fff,,000", "00f,80:fff,40:f00", "00f,zz", "00f 0f0", "00f,8:"}) {
    SCOPED_TRACE(src);
    EXPECT_THROW(lrp::render::colormap_from_cmsl(src), lrp::ConfigError);
  }
}

TEST(RenderColormap, NamesAndUnknownName) {
  const auto names = lrp::render::colormap_names();
  const char* const expected[] = {"jet",        "binary",         "seismic",       "bwr",        "gray-red",
                                  "gray-red2",  "black-green",    "black-firered", "blue-black-yellow",
                                  "zennit-bwr", "zennit-seismic", "coldnhot",      "france",     "hot",
                                  "cold",       "gray",           "wred",          "wblue",      "coolio",
                                  "coleus"};
  for (const std::string n : expected) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
    EXPECT_NO_THROW(get_colormap(n)) << n;
  }
  EXPECT_EQ(lrp::render::colormap_catalog().size(), names.size());
  try {
    get_colormap("viridis");
    FAIL() << "no exception";
  } catch (const lrp::ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("viridis"), std::string::npos) << msg;
    EXPECT_NE(msg.find("jet"), std::string::npos) << msg;
    EXPECT_NE(msg.find("coleus"), std::string::npos) << msg;
  }
  EXPECT_THROW(get_colormap("jte,"), lrp::ConfigError);
}
