/* testdata.h -- shared by the media tests: loading recorded packets from
 * tests/data and making exact-length heap copies for ASan. */
#ifndef TANDEM_TESTS_TESTDATA_H
#define TANDEM_TESTS_TESTDATA_H

/* cmocka needs these before it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads tests/data/<name> into buf; returns its length, which the test
 * asserts is non-zero and less than cap. */
static inline size_t testdata_load(const char *name, uint8_t *buf, size_t cap) {
  char path[512];
  FILE *f;
  size_t n;

  snprintf(path, sizeof(path), "%s/%s", TANDEM_TEST_DATA, name);
  f = fopen(path, "rb");
  assert_non_null(f);
  n = fread(buf, 1, cap, f);
  fclose(f);
  assert_true(n > 0 && n < cap);
  return n;
}

/* Returns a malloc'd copy of exactly len bytes (the caller frees it), so
 * ASan sees any read past the end. */
static inline uint8_t *testdata_copy(const uint8_t *src, size_t len) {
  uint8_t *copy = malloc(len > 0 ? len : 1);

  assert_non_null(copy);
  if (len > 0)
    memcpy(copy, src, len);
  return copy;
}

#endif
