/* SPDX-License-Identifier: MIT
 * test_mpscan.c: the msgpack boundary scanner that gates the unpacker:
 * boundaries of every type, whole / every prefix / one byte at a time, and
 * the limits that keep a hostile publisher from making msgpack-c allocate. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <msgpack.h>
#include <string.h>

#include "codec/mpscan.h"

static size_t scan_all(const void *p, size_t len, uint64_t max)
{
    hr_mpscan_t s;
    memset(&s, 0, sizeof s);
    int n = hr_mpscan_feed(&s, p, len, max);
    assert_true(n >= 0);
    return (size_t)n;
}

/* A stream with one value of every msgpack type, packed by msgpack-c. */
static void pack_everything(msgpack_sbuffer *sb, size_t *ends, size_t *n)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    char big[70000];
    memset(big, 'x', sizeof big);
    *n = 0;
#define END() ends[(*n)++] = sb->size
    msgpack_pack_nil(&pk);
    END();
    msgpack_pack_true(&pk);
    END();
    msgpack_pack_int(&pk, -5);
    END();
    msgpack_pack_uint8(&pk, 200);
    END();
    msgpack_pack_uint16(&pk, 60000);
    END();
    msgpack_pack_uint32(&pk, 4000000000u);
    END();
    msgpack_pack_uint64(&pk, 1ull << 60);
    END();
    msgpack_pack_int64(&pk, -(1ll << 60));
    END();
    msgpack_pack_float(&pk, 1.5f);
    END();
    msgpack_pack_double(&pk, 2.5);
    END();
    msgpack_pack_str_with_body(&pk, "", 0);
    END();
    msgpack_pack_str_with_body(&pk, big, 31);
    END();
    msgpack_pack_str_with_body(&pk, big, 200);
    END();
    msgpack_pack_str_with_body(&pk, big, 300);
    END();
    msgpack_pack_str_with_body(&pk, big, 70000);
    END();
    msgpack_pack_bin_with_body(&pk, big, 0);
    END();
    msgpack_pack_bin_with_body(&pk, big, 100);
    END();
    msgpack_pack_bin_with_body(&pk, big, 1000);
    END();
    for (size_t l = 1; l <= 16; l *= 2) {
        msgpack_pack_ext_with_body(&pk, big, l, 7);
        END();
    }
    msgpack_pack_ext_with_body(&pk, big, 3, 7);
    END();
    msgpack_pack_ext_with_body(&pk, big, 300, 7);
    END();
    msgpack_pack_array(&pk, 0);
    END();
    msgpack_pack_map(&pk, 0);
    END();
    msgpack_pack_array(&pk, 20);
    for (int i = 0; i < 20; i++) {
        msgpack_pack_map(&pk, 1);
        msgpack_pack_str_with_body(&pk, "k", 1);
        msgpack_pack_array(&pk, 0);
    }
    END();
    msgpack_pack_map(&pk, 17);
    for (int i = 0; i < 17; i++) {
        msgpack_pack_int(&pk, i);
        msgpack_pack_nil(&pk);
    }
    END();
#undef END
}

static void test_every_type_whole_prefix_bytewise(void **state)
{
    msgpack_sbuffer sb;
    size_t ends[64], n;
    pack_everything(&sb, ends, &n);
    assert_int_equal(scan_all(sb.data, sb.size, 1 << 20), n);

    /* Every prefix: exactly the values that end inside it. */
    for (size_t len = 0; len <= sb.size; len += (len < 2000 ? 1 : 997)) {
        size_t want = 0;
        while (want < n && ends[want] <= len)
            want++;
        assert_int_equal(scan_all(sb.data, len, 1 << 20), want);
    }

    /* One byte at a time: each value completes on its last byte. */
    hr_mpscan_t s;
    memset(&s, 0, sizeof s);
    size_t got = 0;
    for (size_t i = 0; i < sb.size; i++) {
        int k = hr_mpscan_feed(&s, (const uint8_t *)sb.data + i, 1, 1 << 20);
        assert_true(k == 0 || k == 1);
        if (k) {
            assert_int_equal(i + 1, ends[got]);
            got++;
        }
    }
    assert_int_equal(got, n);
    assert_true(hr_mpscan_idle(&s));
    msgpack_sbuffer_destroy(&sb);
}

static void expect_error(const char *bytes, size_t len, uint64_t max, const char *needle)
{
    hr_mpscan_t s;
    memset(&s, 0, sizeof s);
    assert_int_equal(hr_mpscan_feed(&s, (const uint8_t *)bytes, len, max), -1);
    assert_non_null(strstr(s.errstr, needle));
    /* Sticky. */
    assert_int_equal(hr_mpscan_feed(&s, (const uint8_t *)"\x00", 1, max), -1);
}

static void test_hostile_headers(void **state)
{
    /* A map32 / array32 claiming 2^31 elements: refused at the header. */
    expect_error("\xdf\x7f\xff\xff\xff", 5, 1 << 20, "too many elements");
    expect_error("\xdd\xff\xff\xff\xff", 5, 1 << 20, "too many elements");
    /* A str32 of 4 GiB: refused at the header, before its bytes. */
    expect_error("\xdb\xff\xff\xff\xff", 5, 1 << 20, "larger");
    expect_error("\xc6\x00\x10\x00\x00", 5, 1 << 20, "larger");
    /* 0xc1 is never msgpack. */
    expect_error("\x91\xc1", 2, 1 << 20, "not msgpack");
    /* Deep nesting. */
    char deep[64];
    memset(deep, 0x91, sizeof deep);
    expect_error(deep, sizeof deep, 1 << 20, "nested");
    /* Many small values in one frame still count against the size limit. */
    char many[300];
    many[0] = (char)0xdc, many[1] = 0x01, many[2] = 0x00; /* array16 of 256 */
    memset(many + 3, 0xc0, sizeof many - 3);
    expect_error(many, sizeof many, 100, "larger");
}

static void test_limits_reset_per_value(void **state)
{
    /* Two values each under the limit: fine even though together they are over. */
    char two[2 * 60];
    for (int v = 0; v < 2; v++) {
        two[v * 60] = (char)0xd9;
        two[v * 60 + 1] = 58;
        memset(two + v * 60 + 2, 'a', 58);
    }
    assert_int_equal(scan_all(two, sizeof two, 100), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_whole_prefix_bytewise),
        cmocka_unit_test(test_hostile_headers),
        cmocka_unit_test(test_limits_reset_per_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
