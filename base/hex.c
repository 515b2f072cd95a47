/* hex.c -- hexadecimal digits decoded (hex.h). */
#include "base/hex.h"

int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int hex_byte(const char *s) {
  int hi = hex_digit(s[0]);
  int lo = hi >= 0 ? hex_digit(s[1]) : -1;
  return lo >= 0 ? hi << 4 | lo : -1;
}
