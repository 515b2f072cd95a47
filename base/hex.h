/* hex.h -- hexadecimal digits decoded, for every module's parsers (pure, no dependencies). */
#ifndef TANDEM_BASE_HEX_H
#define TANDEM_BASE_HEX_H

/* The value of one hex digit ('0'-'9', 'a'-'f', 'A'-'F'): 0..15, or -1 for any other char. */
int hex_digit(char c);
/* The byte spelled by the two hex digits at s (s[0] the high one): 0..255, or -1 if either is
 * not a hex digit. s[1] is read only when s[0] is a digit, so a NUL-terminated string may end
 * at s[1]. */
int hex_byte(const char *s);

#endif
