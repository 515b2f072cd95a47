/* bytes.h -- big-endian (network order) loads and stores for the packet
 * parsers and builders. */
#ifndef TANDEM_BYTES_H
#define TANDEM_BYTES_H

#include <stdint.h>

/* Each reads or writes exactly 2, 3 or 4 bytes at p; the caller has checked
 * that they are in bounds. */

static inline uint16_t bytes_get16(const uint8_t *p) {
  return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t bytes_get24(const uint8_t *p) {
  return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | (uint32_t)p[2];
}

static inline uint32_t bytes_get32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline void bytes_put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static inline void bytes_put24(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 16);
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)v;
}

static inline void bytes_put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

#endif
