/* ratelimit.c -- token buckets with integer arithmetic (milli-tokens). */
#include "moderation/ratelimit.h"

void ratelimit_init(struct ratelimit *r, uint32_t burst, uint32_t per_sec, uint64_t now_ms) {
  r->burst = burst;
  r->per_sec = per_sec;
  r->tokens_milli = (uint64_t)burst * 1000;
  r->last_ms = now_ms;
}

static void refill(struct ratelimit *r, uint64_t now_ms) {
  if (now_ms <= r->last_ms)
    return;
  uint64_t add = (now_ms - r->last_ms) * r->per_sec; /* milli-tokens: ms x tokens/s */
  uint64_t cap = (uint64_t)r->burst * 1000;
  r->tokens_milli = r->tokens_milli + add > cap ? cap : r->tokens_milli + add;
  r->last_ms = now_ms;
}

bool ratelimit_take(struct ratelimit *r, uint64_t now_ms) {
  refill(r, now_ms);
  if (r->tokens_milli < 1000)
    return false;
  r->tokens_milli -= 1000;
  return true;
}

uint64_t ratelimit_wait_ms(const struct ratelimit *r, uint64_t now_ms) {
  struct ratelimit t = *r;
  refill(&t, now_ms);
  if (t.tokens_milli >= 1000 || t.per_sec == 0)
    return t.tokens_milli >= 1000 ? 0 : UINT64_MAX;
  return (1000 - t.tokens_milli + t.per_sec - 1) / t.per_sec;
}
