/* fuzz_classifier.c -- libFuzzer target: a classifier's answer as a verdict (moderation/
 * classifier_verdict.c). Whatever the body, the parser answers 0 or -EBADMSG, and a verdict it
 * accepts holds a known action and a reason that is a C string of printable bytes. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "moderation/classifier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct classifier_verdict v;
  memset(&v, 0xa5, sizeof(v));
  int rc = classifier_verdict_parse((const char *)data, size, &v);
  if (rc == 0) {
    if (v.action != CLASSIFIER_NONE && v.action != CLASSIFIER_KICK && v.action != CLASSIFIER_BAN)
      abort();
    size_t n = strnlen(v.reason, sizeof(v.reason));
    if (n == sizeof(v.reason))
      abort();
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)v.reason[i] < 0x20 || v.reason[i] == 0x7f)
        abort();
    if (v.duration_s > CLASSIFIER_MAX_DURATION_S)
      abort();
  } else if (rc != -EBADMSG) {
    abort();
  }
  return 0;
}
