// The literal-float models (float_model.hpp): mode 3 payloads written before mode 4 existed
// still decode, both layouts round-trip at the same size, and mode 4 payloads that are cut,
// padded or forged are rejected as kCorrupt without leaving the block.
#include "codec/float_model.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "codec/residual_coder.hpp"
#include "codec/scratch.hpp"
#include "codec/test_data.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::codec {
namespace {

using internal::FloatRaw;
using testing::GaussianWeights;

// Mode 3 payloads as the encoder wrote them before mode 4 existed (2 Dec 2026), of the elements
// OldStyleFloats makes; devices hold patches with such blocks, so they must decode forever.
// Do not regenerate: a failure here means old patches no longer apply.
const char kMode3Bf16[] =
    "030075a00800990273a70300c20500f00400f70300a00400cf0300a004583ce17e00579a7a010fac1f0034eb"
    "0d00af4733d4f7b7cd20d62f8a6cec27b3fc50bf7df17f7165a1772e08521fd29adc262c8b2449977637b9bb"
    "90511b5bc98d6d5bb7942fed61c0d7e73086b5df6a98037b027b41671f0b7aba51051246bcd8497b681797b7"
    "1d6e345ce410c172ac55e042e857d6fb2e932f50d88d5a16a66b47ea59980fc858618bb44d9afb54c83aa093"
    "dafa613ebaf968aa6359c54b33e2095d8d9dec7e7679e6503ae9d81b0782a46890a1cfa6ab0226c8f26955e4"
    "653c8fd405262cd779b44630abfb5ac56b2fecc10a4c223200b067aa85bd08e03a7bd94fc133d1d55f14a954"
    "a0d18054f33f789e48fb59e1b8012c501c55e041b49de8cec1c4d9762a9710bc196b49c69eb448ff4aae73b5"
    "d5f775bab731db05d1a4d93fc9";
const char kMode3Fp16[] =
    "03000ea00700990209b40400d50500c80400f00400ff0500a00450c812ba019404b921dcd6be19dc92e12616"
    "3dc69ff204485f7cc1a521815a50ea6ea3b922af76c3efc3d240b2847029daeed2a60f6d8344df22a7d92c48"
    "2469e309842eb7d1b4b5925a4983b858dd1e047ad455540a2851a3f21a3b49de139a2f78895b74cc0d34e012"
    "f9201a5c39b0b2eae01732faaf6e9dfdb864122f8312361ba7458b9a728d4754775630f570e46335ac8ba545"
    "1334bb1f2a214f07a09d8436f51b769feb2a7f6857fd98b352bca5cd5cbc09ee7a233acb1ebfd831afe684aa"
    "ced281ed8d1d5010a4431ba442f31cd3af466026429ebcd2540572949d678fa446414dc4e26be795b64687c9"
    "6af7a7d5e2aff925ec0abe82992e2219000c5667507de17a8f7070e978afd97862f066128d6a7c95e2a9a12a"
    "28a20768aaccef6778f43412f69fd5f0e03e002c830247ab048e20d1a233e873567088972d3ba8f45210e155"
    "46d79274637886f648fda7925d3187da54f37e75d7f52d62b6ed02448f94d9fa697201";
const char kMode3Fp32[] =
    "030074a0a1a20800f20173870500b704008805009503009503008e0400880530d4019315c5767f012c2b6b04"
    "cab5fc031c56f0103b90479a9e7900ac30e697db11c2c47e67c4a7711dc6766f259ec2f37a203d556359ba1d"
    "43e4384112cbae8fd8ba46c9fed42ab1497beb2cf6637beeccd7c05697fb7e464151b753173092973494d25a"
    "8abf5cc8aec5b8f4c18d0decdf2c724547c16e7ee093ad22bda0426b5232c8a6d6a5ec674dbefb2398aa9711"
    "2f520a08ca7f50d7fbe0115e5a3b04d9a6c31612fe4f7907475cc8d11e12ead90dd54ab90f193da94cdbc834"
    "b0547e248bde67802193b4b6ac54ad88fb71c678c90854c81e9ebc07a0dd635986e993a280e107a1615e432c"
    "39a63ebf925083c268f13be063d8aaff2a41f457c54ed9e892f54bb5f2cebec2091432d9070f5d059f76b246"
    "ec283210f9de7e974abccd62e6ebf1498c8c501378c60572d89ef94820541b2499ffc838a472b1730c8c684f"
    "37b51af9cf5393756703a6698fba9b61269e3bdb52e5c895930521ef519515";
const char kMode3Bf16Runs[] =
    "0301780375ff0700ff0701ff0f077443002d004f005a006600fc0e00fe0d07742200690022002200e91c0058"
    "0069077445005d005d00c21c005d0016004506758a0100891c0037003700a601005307745e00a61c002e0075"
    "005e002e00460774e31b00230047004700b301006b004700a6018bc510048dd35401a3eb470090bb0100fd02"
    "12dd7c36617a291fbf0470f7cef99033bddb8df0f199eeae03ec61b7cda1663fc6af801360928eebe667681f"
    "0f4ffd04dcee727ec1e3eaa928c25750e376604397d01adceb625eaecbc2680710f26daa39b5c0c5d6552e3f"
    "ebc18cf34861e0650ee3f1fb7e07e6b44504a458ca0a31356da790eb3c5d0e2bb0f7933083f55ec5d37cb90e"
    "46e37cdd9cae89eb9a9c37c47ed0b5797a32626b12bb4510498a54079705e59534d71246c18d5a89e03c404e"
    "d618eaae2f1dc3825aa9190a471ebe870f84a9e08b24953ffb2da0b4a052ecd06168414b680ca89dc53a10a7"
    "09f6ec4bece6d20ee6f51cbdd8f08a04a42cdd16cf1d7c4b26ff11bd55702ce98f12de532c2d5e21464aa7be"
    "5ad81777ecca112022369ab067f6fee008496bcfd972949fd1574f18a923364380e4490f782c89ef59b29d78"
    "2cf16f07e0c7cf58e8160e2fd966a4f21080c94c49131eca48524581739383a575f06432dbe85786bafe4c03"
    "46585cb17b6160d9b76798aa5c3c45d772d74e3542f3dd61fbae0257502a4e1b162f7953eac6fbeac8deb5ad"
    "b4ea89f15480fc2a93fadb943e18d2cdaa9b14774beaf9da5daf9b7f7e7a77d5505c11cf1b8c8f8368055ccb"
    "a625c5e6c84f9e17e488de44d41c3e98d739dd213092dd71c5fd063fc114610632d7dda4aa47edfbe00b2693"
    "4f0de535d51de690548cedd754d260609e27ea45e12c18055083ff234171d3c5ce82905676259424bc4a4101"
    "c60a9fe4ff3ef788b526780bba03d58f05bce3dc517b3ffbbc50e5db68ccd9ef1da7c1cde45988cfacc3fbb5"
    "e8c76f402eea58d7d8f9f224a6a0dbb75912b5a158a7c8194d799d1ac805a302dacfcd34bafd31b563faa9d1"
    "331374b68d1cd517760cb2ca3a9c366907eb6ff4901bef6cabf46d78f27f640265abb2da05eb395179d481df"
    "abc353bc6b745e890aabd5e800ce0e1e858823b73a669322c17de14f5f013357a0eef413f3a272c3487f7fa8"
    "b88d12a91c15e6f0b446198dc1d3cd112a91ca34191d196e9e73a9a04a97edacd52f7b17b726adaed149431d"
    "05edfe97d88645741750c2ce6ee9052210f31ff455b6476a57bb78ef937110d08dcb72e16bdfa3199887ef31"
    "610284489a9315803a2078a1fad447b4f9bd82a8596d2af0e29be6219dc2a09879c02811e977cf50826f0dbb"
    "a1711afd022c97a369d326c23cbc0c8e2601d503b421f07ffb9f4d642fa105ba4c92f1cab0c051c3bdfd6658"
    "7b40175e33448e721427db90d10b8fbc3fb8629cfb37cc1b0177ae0655ebeab29d290593c48bcce597d1eb46"
    "6bbc9558b4b32263ae60acf0f753b06e319db2d0a475d82cd9d68d5c3f1e1e9fc9b05f388d91470d650d8f49"
    "905256fa5113beb28e268f287225d2d70b10769debe8ee5cc954cf9c203e7626ce769fa9b54d0e585d3b2989"
    "8f789b56faa5f13ed16440c46afabc0edff36187afbe8d7d5d4ba2c20fb3a84d30cfe8d90edf91847b245670"
    "6e850c65a22c506c35291e74490d7af0a6900a76552ab96045bc546ee9283061d7f3c1a069ea43d55fb95490"
    "7a9396e221d05102fe8a0eeba13e3cfb1b70ce95a346dabe342b3ac22c6c2dcfeeddf6987f757bf32bede77a"
    "2064482d11fc300dd47d56c103f035339e44ab33a6ec9a12c27d8a48dc54440dc42d7702cbcc56c9699737a7"
    "d6393428b33fccbba2be8250e8ea7c0011bf25a48c9bcb7c49e040c961967b72ad0637a16d5f9266e254ae52"
    "f3ba531dca2e8a3f77ac42998b38ee0dbe78242088573e9fcaa2fc3666ae1f18e1ef0e9d08a173df8762de5b"
    "91d460957e3f30b3682c4920cc0a09292eccd3a2b488ac82c918e082babb9dc15bb49661a3e9a12a4b855825"
    "7296bb413aaecbf16b842fca0e93d12912b981caead890712b787684ae7c03";

// Mode 4 payloads of the same elements, as the encoder wrote them when mode 4 was introduced
// (2 Dec 2026). Devices will hold patches with such blocks: do not regenerate.
const char kMode4Bf16[] =
    "040075a00800990273a70300c20500f00400f70300a00400cf0300a004583ce17e00579a7a010fac1f0034eb"
    "0d00af4733d4f7b7cd20d62f8a6cec27b3fc50bf7df17f7165a1772e08521fd29adc262c8b2449977637b9bb"
    "90511b5bc98d6d5bb7942fed61c0d7e73086b5df6a98037b027b41671f0b7a12499734c1e0d62f5a470f8bfb"
    "a06168c509ece6d8a4cf26558f2c465aec226708d9d1a98078592ce0e8d91049487375dbba467bb75c7242fb"
    "5016eac8b454933eaa4b5d7e501b68a6c8e4d4d730c5c132aae04fd554549ee15041ce76bcc6ffb5ba0551bc"
    "681de4ace82ed8a659584dc8daba63338d763a0790abf2650579ab6b0a00853ac15fa0f348b81cb4c12a199e"
    "4ad5b7d105d8176e105557938d6b98619a3afaf959e29d79e982a102693c26b4fb2f4cb0bd7b3314d13ffb01"
    "559dc4976bb4aef731a4d93fc9";
const char kMode4Fp16[] =
    "04000ea00700990209b40400d50500c80400f00400ff0500a00450c812ba019404b921dcd6be19dc92e12616"
    "3dc69ff204485f7cc1a521815a50ea6ea3b922af76c3efc3d240b2847029daeed2a60f6d8344df22a7d92c48"
    "2469e309842eb7d1b4b5925a4983b858dd1e04e2f9cb309275092afec7c50292cd22e9d9daa35cf6b3de9f6d"
    "06448967d9222d57b59ea70d59e4053a357e0a245821e0755e6b0167de353ce2600b3956a2550165b6b4e2a7"
    "984d9d9603d21288067a12499734c1e0d62f5a470f8bfba06168c509ece6d8a4cf26558f2c465aec226708d9"
    "d1a98078592ce0e8d91049487375dbba467bb75c7242fb5016eac8b454933eaa4b5d7e501b68a6c8e4d4d730"
    "c5c132aae04fd554549ee15041ce76bcc6ffb5ba0551bc681de4ace82ed8a659584dc8daba63338d763a0790"
    "abf2650579ab6b0a00853ac15fa0f348b81cb4c12a199e4ad5b7d105d8176e105557938d6b98619a3afaf959"
    "e29d79e982a102693c26b4fb2f4cb0bd7b3314d13ffb01559dc4976bb4aef731a4d93fc9";
const char kMode4Fp32[] =
    "040074a0a1a20800f20173870500b704008805009503009503008e0400880530d4019315c5767f012c2b6b04"
    "cab5fc031c56f0103b90479a9e7900ac30e697db11c2c47e67c4a7711dc6766f259ec2f37a2012cb497b97fb"
    "3494c18de093d6a52f525a3b475c0f198bdefb71a0dd615e68f1c54e0914ec28e6ebd89ea472cf53269e5563"
    "8fd82cf646415a8aecdf22bd674d08cad9a6d11ea94c802178c959862c39e063e892d90710f9498c4820730c"
    "7567db52ba1d46c97beeb7535cc87245426bfb2350d71612ead9c834b4b654c893a23ebfaaff4bb55d057e97"
    "50131b24684fa669c895e438d42ad7c03092c5b8c16e32c8aa97e0114f79d54a547e54ad9ebce107508341f4"
    "cebe76b2bccdc605ffc8b51aba9b052151953daeeb7ed20dadec0a04c83d67c663433bd93232f1f9b1933b59"
    "ba6351bf2ca0be7fc312db9308e9a6d8f50fde8c548c03e543fecc17ae475298fbfe0db0ac1e80922af29f4a"
    "7899378f9341b15697f47ea6115e07b9248807a1c257c246627238f961ef15";
const char kMode4Bf16Runs[] =
    "0401780375ff0700ff0701ff0f077443002d004f005a006600fc0e00fe0d07742200690022002200e91c0058"
    "0069077445005d005d00c21c005d0016004506758a0100891c0037003700a601005307745e00a61c002e0075"
    "005e002e00460774e31b00230047004700b301006b004700a6018bc510048dd35401a3eb470090bb0100fd02"
    "12dd7c36617a291fbf0470f7cef99033bddb8df0f199eeae03ec61b7cda1663fc6af801360928eebe667681f"
    "0f4ffd04dcee727ec1e3eaa928c25750e376604397d01adceb625eaecbc2680710f26daa39b5c0c5d6552e3f"
    "ebc18cf34861e0650ee3f1fb7e07e6b44504a458ca0a31356da790eb3c5d0e2bb0f7933083f55ec5d37cb90e"
    "46e37cdd9cae89eb9a9c37c47ed0b5797a12499734c1e0d62f5a470f8bfba06168c509ece6d8a4cf26558f2c"
    "465aec226708d9d1a98078592ce0e8d91049487375dbba467bb75c7242fb5016eac8b454933eaa4b5d7e501b"
    "68a6c8e4d4d730c5c132aae04fd554549ee15041ce76bcc6ffb5ba0551bc681de4ace82ed8a659584dc8daba"
    "63338d763a0790abf2650579ab6b0a00853ac15fa0f348b81cb4c12a199e4ad5b7d105d8176e105557938d6b"
    "98619a3afaf959e29d79e982a102693c26b4fb2f4cb0bd7b3314d13ffb01559dc4976bb4aef731a4d93fc98d"
    "6590518e720bebc920ceb55d8ffad16adfaf5d0f300e7b6ea23549a65545e9d7695f7a21fea11ba3342cee7f"
    "2b2011d4039ea6c2dcc4cb69d6b3a2e8118c4961ad6de2f3ca778bbe88ca66e10887917e68cc2eb4c9ba5ba3"
    "4b723a6b0e12ea2b32bb8a05d78d3c181da91e84242d52680c3af6e6f5f02c1dff70122d4ad8ca36f6497257"
    "23e42cb2f1c7166680135293f0e8fe5861673cd7f3ae2a2fc6deea80fa189beaaf7a5c8c05254f881c3992fd"
    "14d7470b0d1d8cd2272c837182254a0a3e2603bc7b50cca759c3c7eaf9a012a77905cffdfa131c0c9ceb1bf4"
    "7fabebd4c374abce88667d01eea27f8d1546d3911d73972f2649ed8650e9f3b6bb71cbdf87029320d4bd6d9b"
    "c2c0776f712cd3bc01219fa192c0fd4044270bb83777eb298bd1bcb360539d75d61eb0910d5213262510e854"
    "3e764d3b78a564faf3be4bb3cfdf24852c290d902abc28f3eab993d08a3e70462b6cdd75ed64fc7df044ec7d"
    "542dcc97393fbeeabf9be096065f54ba2eac387857a2aeefa162d43f2c0acc8818bbb4e98596ae8493b9d878"
    "624554e5125a40eac319bea995a0ec41a810ecd21c8add7c112cde5ea717119afe6b944f3649899d6fcf0ea4"
    "c91e458364574c5c6098454edd024e79fbb589fcdbd214f99b77118f5cc59ede3edddd0661dded26e5e6ed60"
    "ea18ffd39094419ff778d5e33fe5d9c188fb6f58f2dbb5c89da3cd31a974d5b2366fef6d64b23981535ed50e"
    "2393e133f4727f12e619cdca19a9ed7bad43fe45c2051f47781072a3ef84157847822ae6a028cf0d1a97260c"
    "d5f04d05f15166178edb8f62ccaeea05cceb9522acb0b2d88d1e5f478f56be8fd276eecf769f0e299bf140bc"
    "618da2a8e891560c501e7a0ab95430c1435496510e3cceda3a2df67be748305635ab9a8a4477563734cc827c"
    "25cb407b3792ae538a42ee243efc1f0e73de60304909d3ace09d96a158bbcb2fd18190766b10079546894eae"
    "820a87e03fb4d04b9da74b0ebd04164bbde95321be7720b0e0cf9f18430fef7807582ff24cca81a5328603b1"
    "d9aad73561571b53eaadf12a94cd77da7fd5cf83cbe617449821713f06a4fb933590d760450523c5562401e4"
    "880b8fdcfbdbefcdcfb540d724b7a1191a0234b5d1b617ca69f46c7802da51dfbc89e81eb7224f5713c3a8a9"
    "f08d11346ea0ac17ae1d9774ce22f46aefd0e119314880a1b4a8f021981150bbfda3c28e037f64bacac3585e"
    "7290bc9c1b06b293e5465863f06ed02c5c9f380d49fab228d79d5c9c26a95889563ec40e877dc24dd9847065"
    "6c74f076606e61a0d590e202ebfb95bec2cf98f37a2d0dc1333312480d02c9a728bb5000a47cc972a166521d"
    "3f990d209f36189ddf5b95b32029a28282c1612a2541f1ca29ca7184ae7c03";

// Deterministic float-like elements (an LCG, no <random>, so the golden payloads stay valid on
// any standard library): exponents in a narrow band, some zeros, random sign and mantissa; with
// `runs`, exponents that repeat for a while (the neighbour context pays off), then `tail` bytes.
std::vector<uint8_t> OldStyleFloats(ElementKind kind, unsigned width, size_t count, size_t tail,
                                    bool runs) {
  uint32_t x = 12345, cur = 118;
  auto next = [&] {
    x = x * 1664525u + 1013904223u;
    return x >> 8;
  };
  std::vector<uint8_t> v;
  for (size_t i = 0; i < count; ++i) {
    uint32_t r = next(), s = next();
    uint32_t e;
    if (runs) {
      if (r % 8 == 0) cur = 116 + (s % 7);
      e = cur;
    } else if (kind == ElementKind::kFp16) {
      e = 10 + (r % 6);
    } else {
      e = 116 + (r % 7);
    }
    if (!runs && s % 17 == 0) e = 0;
    uint64_t bits;
    if (kind == ElementKind::kBf16) {
      bits = (uint64_t{s >> 7 & 1} << 15) | (uint64_t{e} << 7) | (s & 0x7f);
    } else if (kind == ElementKind::kFp16) {
      bits = (uint64_t{s >> 11 & 1} << 15) | (uint64_t{e} << 10) | (s & 0x3ff);
    } else {
      bits = (uint64_t{r >> 23 & 1} << 31) | (uint64_t{e} << 23) | ((s ^ (r << 8)) & 0x7fffff);
    }
    for (unsigned k = 0; k < width; ++k) v.push_back(static_cast<uint8_t>(bits >> (8 * k)));
  }
  for (size_t k = 0; k < tail; ++k) v.push_back(static_cast<uint8_t>(0xa0 + k));
  return v;
}

std::string FromHex(const char* hex) {
  std::string out;
  for (const char* p = hex; p[0] != '\0' && p[1] != '\0'; p += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(p, 2), nullptr, 16)));
  }
  return out;
}

Status DecodeInto(const BlockInfo& info, const std::string& payload, std::vector<uint8_t>* out) {
  return DecodeResidualBlock(info, reinterpret_cast<const uint8_t*>(payload.data()), payload.size(),
                             nullptr, out->data(), out->size());
}

// A payload of `layout`'s mode, whatever the encoder would pick.
std::string EncodeAs(const BlockInfo& info, const std::vector<uint8_t>& data, FloatRaw layout) {
  std::string out(1, static_cast<char>(layout == FloatRaw::kBytes ? BlockMode::kFloatBytes
                                                                  : BlockMode::kFloatModel));
  internal::Scratch sc;
  internal::EncodeFloatModel(info, data.data(), data.size(), layout, &out, &sc);
  return out;
}

struct Golden {
  const char* hex;
  BlockInfo info;
  size_t count, tail;
  bool runs;
};
const Golden kGolden[] = {
    {kMode3Bf16, {ElementKind::kBf16, 2, 0}, 203, 1, false},
    {kMode3Fp16, {ElementKind::kFp16, 2, 0}, 203, 1, false},
    {kMode3Fp32, {ElementKind::kFp32, 4, 0}, 101, 3, false},
    {kMode3Bf16Runs, {ElementKind::kBf16, 2, 0}, 1203, 0, true},
};

TEST(FloatModel, OldMode3PayloadsStillDecode) {
  for (const Golden& g : kGolden) {
    std::vector<uint8_t> want = OldStyleFloats(g.info.kind, g.info.width, g.count, g.tail, g.runs);
    std::string payload = FromHex(g.hex);
    ASSERT_EQ(payload[0], static_cast<char>(BlockMode::kFloatModel));
    std::vector<uint8_t> got(want.size());
    EXPECT_OK(DecodeInto(g.info, payload, &got));
    EXPECT_EQ(got, want) << "kind " << int(g.info.kind);
    // The encoder still writes them byte for byte (mode 3 is only ever decoded now, but a
    // drift here would mean the shared model code changed under the old mode).
    EXPECT_EQ(EncodeAs(g.info, want, FloatRaw::kPackedBits), payload);
  }
}

TEST(FloatModel, Mode4GoldenPayloadsDecode) {
  const char* const hex[] = {kMode4Bf16, kMode4Fp16, kMode4Fp32, kMode4Bf16Runs};
  for (size_t k = 0; k < 4; ++k) {
    const Golden& g = kGolden[k];
    std::vector<uint8_t> want = OldStyleFloats(g.info.kind, g.info.width, g.count, g.tail, g.runs);
    std::string payload = FromHex(hex[k]);
    ASSERT_EQ(payload[0], static_cast<char>(BlockMode::kFloatBytes));
    std::vector<uint8_t> got(want.size());
    EXPECT_OK(DecodeInto(g.info, payload, &got));
    EXPECT_EQ(got, want) << "kind " << int(g.info.kind);
  }
}

TEST(FloatModel, GoldenSamplesCoverBothContextChoices) {
  EXPECT_EQ(FromHex(kMode3Bf16)[1], 0);
  EXPECT_EQ(FromHex(kMode3Bf16Runs)[1], 1);
  EXPECT_EQ(FromHex(kMode4Bf16)[1], 0);
  EXPECT_EQ(FromHex(kMode4Bf16Runs)[1], 1);
}

TEST(FloatModel, BothLayoutsRoundTripAtTheSameSize) {
  for (const Golden& g : kGolden) {
    for (size_t count :
         {size_t{0}, size_t{1}, size_t{3}, size_t{4}, size_t{5}, size_t{4099}, size_t{70001}}) {
      std::vector<uint8_t> data = OldStyleFloats(g.info.kind, g.info.width, count, g.tail, g.runs);
      std::string packed = EncodeAs(g.info, data, FloatRaw::kPackedBits);
      std::string bytes = EncodeAs(g.info, data, FloatRaw::kBytes);
      // fp16's three bit planes each round up to a byte where mode 3 packs them together.
      EXPECT_LE(bytes.size(), packed.size() + 2) << count;
      EXPECT_GE(bytes.size() + 1, packed.size()) << count;
      for (const std::string* p : {&packed, &bytes}) {
        std::vector<uint8_t> got(data.size());
        ASSERT_OK(DecodeInto(g.info, *p, &got)) << "mode " << int((*p)[0]) << " count " << count;
        EXPECT_EQ(got, data) << "mode " << int((*p)[0]) << " count " << count;
      }
    }
  }
}

TEST(FloatModel, EncoderPicksMode4ForLiteralFloats) {
  // Gaussian weights: the float model beats zstd's byte planes clearly for bf16 and fp32 (fp16
  // keeps more entropy in its mantissa and is often a tie).
  for (bool bf16 : {true, false}) {
    BlockInfo info =
        bf16 ? BlockInfo{ElementKind::kBf16, 2, 0} : BlockInfo{ElementKind::kFp32, 4, 0};
    auto data = GaussianWeights(50000, info.width, bf16, 0.02f, 0.0, 21);
    std::string out;
    EncodeResidualBlock(info, data.data(), nullptr, data.size(), &out);
    EXPECT_EQ(out[0], static_cast<char>(BlockMode::kFloatBytes)) << int(info.kind);
    // For older agents: mode 3, the same size to within a byte.
    EncodeOptions old_agents;
    old_agents.float_bytes = false;
    std::string mode3;
    EncodeResidualBlock(info, data.data(), nullptr, data.size(), &mode3, old_agents);
    EXPECT_EQ(mode3[0], static_cast<char>(BlockMode::kFloatModel)) << int(info.kind);
    EXPECT_LE(mode3.size(), out.size() + 1);
    EXPECT_GE(mode3.size() + 1, out.size());
  }
}

// --- mode 4 corruption ---------------------------------------------------------------------

struct Sample {
  BlockInfo info;
  std::vector<uint8_t> data;
  std::string payload;
};

// One mode 4 payload per float kind, with a partial element at the end.
std::vector<Sample> Mode4Samples() {
  std::vector<Sample> v;
  for (const Golden& g : kGolden) {
    Sample s{g.info, OldStyleFloats(g.info.kind, g.info.width, g.count + 2, g.tail, g.runs), {}};
    s.payload = EncodeAs(s.info, s.data, FloatRaw::kBytes);
    v.push_back(std::move(s));
  }
  return v;
}

Status Decode(const Sample& s, const std::string& payload) {
  std::vector<uint8_t> out(s.data.size());
  return DecodeInto(s.info, payload, &out);
}

TEST(FloatBytesCorrupt, SamplesDecode) {
  for (const Sample& s : Mode4Samples()) {
    std::vector<uint8_t> got(s.data.size());
    ASSERT_OK(DecodeInto(s.info, s.payload, &got));
    EXPECT_EQ(got, s.data);
  }
}

TEST(FloatBytesCorrupt, TruncatedIsCorrupt) {
  for (const Sample& s : Mode4Samples()) {
    for (size_t len = 0; len < s.payload.size(); ++len) {
      EXPECT_STATUS(Decode(s, s.payload.substr(0, len)), ErrorCode::kCorrupt) << len;
    }
  }
}

TEST(FloatBytesCorrupt, TrailingBytesAreCorrupt) {
  for (const Sample& s : Mode4Samples()) {
    for (size_t extra : {1u, 2u, 3u, 8u}) {
      EXPECT_STATUS(Decode(s, s.payload + std::string(extra, '\0')), ErrorCode::kCorrupt);
    }
  }
}

TEST(FloatBytesCorrupt, WrongBlockSizeIsCorrupt) {
  for (const Sample& s : Mode4Samples()) {
    for (size_t n : {s.data.size() - s.info.width, s.data.size() + s.info.width}) {
      std::vector<uint8_t> out(n);
      EXPECT_STATUS(DecodeInto(s.info, s.payload, &out), ErrorCode::kCorrupt) << n;
    }
  }
}

TEST(FloatBytesCorrupt, OutOfRangeHeaderIsCorrupt) {
  for (const Sample& s : Mode4Samples()) {
    std::string flags = s.payload;
    flags[1] = 2;
    EXPECT_STATUS(Decode(s, flags), ErrorCode::kCorrupt);
  }
  Sample fp16 = Mode4Samples()[1];
  ASSERT_EQ(fp16.info.kind, ElementKind::kFp16);
  fp16.payload[2] = 32;  // the reference exponent of a 5-bit exponent field
  EXPECT_STATUS(Decode(fp16, fp16.payload), ErrorCode::kCorrupt);
}

TEST(FloatBytesCorrupt, BadTableIsCorrupt) {
  for (const Sample& s : Mode4Samples()) {
    // The first table starts after the header and the tail bytes.
    size_t at = 3 + s.data.size() % s.info.width;
    std::string many = s.payload;
    many[at] = '\x7f';  // more symbols than the alphabet of fp16, or the table runs on
    EXPECT_STATUS(Decode(s, many), ErrorCode::kCorrupt);
    std::string freq = s.payload;
    freq[at + 2] = static_cast<char>(freq[at + 2] ^ 1);  // frequencies no longer sum up
    EXPECT_STATUS(Decode(s, freq), ErrorCode::kCorrupt);
  }
}

TEST(FloatBytesCorrupt, NonZeroPaddingBitsAreCorrupt) {
  Sample fp16 = Mode4Samples()[1];
  ASSERT_EQ(fp16.info.kind, ElementKind::kFp16);
  size_t m = fp16.data.size() / 2;
  ASSERT_NE(m % 8, 0u);
  // Three bit planes of ceil(m / 8) bytes, then m bytes, end the payload.
  size_t plane = (m + 7) / 8;
  size_t raw = fp16.payload.size() - 3 * plane - m;
  for (size_t k = 1; k <= 3; ++k) {
    std::string p = fp16.payload;
    size_t last = raw + k * plane - 1;
    p[last] = static_cast<char>(p[last] | 0x80);
    EXPECT_STATUS(Decode(fp16, p), ErrorCode::kCorrupt) << "plane " << k;
  }
}

// A hand-made bf16 payload: neighbour contexts on, context 0 codes only the reference exponent
// (freq 4096: x' = x), every other context is unused, among them the reference exponent's own
// (bucket 2), so a second element in any lane falls into an unused context. `stream` is the
// rANS stream (states, then words).
std::string ForgedPayload(size_t m, const std::string& stream) {
  const char ref = 120;
  std::string p = {static_cast<char>(BlockMode::kFloatBytes), 1, ref};
  p += {1, ref, '\xff', '\x1f'};  // context 0: one symbol, gap = ref, freq - 1 = 4095
  p += std::string(7, '\0');      // contexts 1..7: unused
  p += static_cast<char>(stream.size());
  p += stream;
  p += std::string(m, '\x05');  // raw bytes: sign 0, mantissa 5
  return p;
}

std::string Repeat(const char* bytes, size_t len, int times) {
  std::string s;
  for (int k = 0; k < times; ++k) s.append(bytes, len);
  return s;
}

TEST(FloatBytesCorrupt, UnusedContextIsCorruptButALastSymbolMayLeadToOne) {
  const BlockInfo info{ElementKind::kBf16, 2, 0};
  const std::string low_states = Repeat("\x00\x00\x01\x00", 4, 4);  // kRansLow, no words
  std::vector<uint8_t> four(8);
  ASSERT_OK(DecodeInto(info, ForgedPayload(4, low_states), &four));
  EXPECT_EQ(four[0], 0x05);
  EXPECT_EQ(four[1], 120 >> 1);
  std::vector<uint8_t> eight(16);
  EXPECT_STATUS(DecodeInto(info, ForgedPayload(8, low_states), &eight), ErrorCode::kCorrupt);
  // A stream made so that every other check passes: states 0, so the first symbol of each lane
  // reads the word 4096, which the unused context (decoded as freq 1) takes to 1, and the
  // second word 0 brings back to 2^16 exactly. Only the unused-context check is left to fail.
  const std::string sneaky =
      Repeat("\0\0\0\0", 4, 4) + Repeat("\x00\x10", 2, 4) + Repeat("\0\0", 2, 4);
  EXPECT_STATUS(DecodeInto(info, ForgedPayload(8, sneaky), &eight), ErrorCode::kCorrupt);
}

TEST(FloatBytesCorrupt, NotForResidualsOrOtherKinds) {
  Sample s = Mode4Samples()[0];
  std::vector<uint8_t> out(s.data.size());
  std::vector<uint8_t> base(s.data.size());
  EXPECT_STATUS(DecodeResidualBlock({ElementKind::kBf16, 2, 1},
                                    reinterpret_cast<const uint8_t*>(s.payload.data()),
                                    s.payload.size(), base.data(), out.data(), out.size()),
                ErrorCode::kCorrupt);
  EXPECT_STATUS(DecodeResidualBlock({ElementKind::kBytes, 2, 0},
                                    reinterpret_cast<const uint8_t*>(s.payload.data()),
                                    s.payload.size(), nullptr, out.data(), out.size()),
                ErrorCode::kCorrupt);
}

TEST(FloatBytesCorrupt, FlippedBytesNeverEscapeTheBlock) {
  std::mt19937 rng(7);
  for (const Sample& s : Mode4Samples()) {
    for (int trial = 0; trial < 500; ++trial) {
      std::string p = s.payload;
      size_t at = rng() % p.size();
      p[at] = static_cast<char>(p[at] ^ (1 + rng() % 255));
      std::vector<uint8_t> out(s.data.size() + 1, 0xcd);
      Status st = DecodeResidualBlock(s.info, reinterpret_cast<const uint8_t*>(p.data()), p.size(),
                                      nullptr, out.data(), s.data.size());
      EXPECT_TRUE(st.ok() || st.code() == ErrorCode::kCorrupt) << st.ToString();
      EXPECT_EQ(out.back(), 0xcd);
    }
  }
}

}  // namespace
}  // namespace oxide::codec
