/* An empty ICU data library for the Anemos initramfs, in place of Debian's 30 MB
 * libicudata.so.NN. anemos-agent links libarchive, which links libxml2 (for the xar format
 * only), which links ICU; the agent never reads xar, so ICU's data is never looked at. This
 * is ICU's own "stubdata" header (source/stubdata/stubdata.cpp): a table of contents with no
 * entries, so an ICU call that did need data would fail cleanly (U_FILE_ACCESS_ERROR)
 * instead of crashing. ICU_DATA_SYMBOL is the entry point, e.g. icudt72_dat; initramfs/build.sh
 * compiles it with the SONAME of the library it replaces. */
#include <stdint.h>

#ifndef ICU_DATA_SYMBOL
#error "compile with -DICU_DATA_SYMBOL=icudtNN_dat"
#endif

struct icu_stub_header {
	uint16_t header_size;
	uint8_t magic1, magic2;
	struct {
		uint16_t size, reserved_word;
		uint8_t is_big_endian, charset_family, sizeof_uchar, reserved_byte;
		uint8_t data_format[4], format_version[4], data_version[4];
	} info;
	char padding[8];
	uint32_t count, reserved;
	struct { uint32_t name_offset, data_offset; } toc[1];
	int fake_name_and_data[4];
};

__attribute__((visibility("default"))) extern const struct icu_stub_header ICU_DATA_SYMBOL;
const struct icu_stub_header ICU_DATA_SYMBOL = {
	32, 0xda, 0x27,
	{ 20, 0, 0 /* little endian */, 0 /* ASCII */, 2, 0, { 0x54, 0x6f, 0x43, 0x50 } /* "ToCP" */,
	  { 1, 0, 0, 0 }, { 0, 0, 0, 0 } },
	{ 0 }, 0, 0, { { 0, 0 } }, { 0, 0, 0, 0 }
};
