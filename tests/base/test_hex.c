/* test_hex.c -- hexadecimal digits decoded (base/hex.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/hex.h"

/* Every char: the 22 digits of either case have their value, nothing else is a digit. */
static void test_digit(void **state) {
  (void)state;
  for (int c = -128; c < 128; c++) {
    int want = c >= '0' && c <= '9'   ? c - '0'
               : c >= 'a' && c <= 'f' ? c - 'a' + 10
               : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                      : -1;
    assert_int_equal(hex_digit((char)c), want);
  }
  assert_int_equal(hex_digit('g'), -1);
  assert_int_equal(hex_digit('G'), -1);
  assert_int_equal(hex_digit('/'), -1);
  assert_int_equal(hex_digit(':'), -1);
  assert_int_equal(hex_digit('@'), -1);
  assert_int_equal(hex_digit('`'), -1);
  assert_int_equal(hex_digit('\0'), -1);
}

static void test_byte(void **state) {
  (void)state;
  assert_int_equal(hex_byte("00"), 0x00);
  assert_int_equal(hex_byte("ff"), 0xff);
  assert_int_equal(hex_byte("FF"), 0xff);
  assert_int_equal(hex_byte("a5"), 0xa5);
  assert_int_equal(hex_byte("5A"), 0x5a);
  assert_int_equal(hex_byte("7f:"), 0x7f); /* only two chars are read */
  assert_int_equal(hex_byte("0g"), -1);
  assert_int_equal(hex_byte("g0"), -1);
  assert_int_equal(hex_byte("f"), -1); /* the NUL is not a digit */
  assert_int_equal(hex_byte(""), -1);  /* and nothing after it is read */
  assert_int_equal(hex_byte(" 1"), -1);
  assert_int_equal(hex_byte("+1"), -1);
  char s[3] = {0, 0, 0};
  for (int v = 0; v < 256; v++) {
    static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
    s[0] = lower[v >> 4];
    s[1] = upper[v & 15];
    assert_int_equal(hex_byte(s), v);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_digit),
      cmocka_unit_test(test_byte),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
