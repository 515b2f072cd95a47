/* test_device.c -- device tokens: issue and verify; any tampered byte, a wrong key, truncated
 * or garbage text refused; the key file created 0600, read back on reopen, refused when
 * others can read it or it has the wrong size. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "moderation/device.h"
#include "tmpdir_fixture.h"

static const uint8_t key1[DEVICE_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                             17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
                                             30, 31, 32};
static const uint8_t key2[DEVICE_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                             17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
                                             30, 31, 33};

static void test_issue_verify(void **state) {
  struct device_signer *s = device_signer_new(key1);
  struct device_id id, got, other;
  char tok[DEVICE_TOKEN_LEN + 1], tok2[DEVICE_TOKEN_LEN + 1];
  uint64_t issued = 0;
  (void)state;

  assert_int_equal(device_issue(s, 1700000000123ULL, &id, tok), 0);
  assert_int_equal(strlen(tok), DEVICE_TOKEN_LEN);
  assert_int_equal(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                   DEVICE_TOKEN_LEN);
  assert_int_equal(device_verify(s, tok, strlen(tok), &got, &issued), 0);
  assert_memory_equal(got.b, id.b, DEVICE_ID_LEN);
  assert_true(issued == 1700000000123ULL);
  assert_int_equal(device_verify(s, tok, strlen(tok), NULL, NULL), 0);

  /* Fresh ids; the same id and time always give the same token. */
  assert_int_equal(device_issue(s, 1700000000123ULL, &other, tok2), 0);
  assert_memory_not_equal(other.b, id.b, DEVICE_ID_LEN);
  device_token_make(s, &id, 1700000000123ULL, tok2);
  assert_string_equal(tok, tok2);
  device_signer_free(s);
  device_signer_free(NULL);
}

static void test_tamper_every_byte(void **state) {
  static const char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  struct device_signer *s = device_signer_new(key1);
  struct device_id id, got;
  char tok[DEVICE_TOKEN_LEN + 1], bad[DEVICE_TOKEN_LEN + 1];
  (void)state;

  assert_int_equal(device_issue(s, 42, &id, tok), 0);
  memset(&got, 0xee, sizeof(got));
  /* Every position, every other base64url character: all refused, outputs untouched. */
  for (size_t i = 0; i < DEVICE_TOKEN_LEN; i++) {
    for (size_t c = 0; c < 64; c++) {
      if (alphabet[c] == tok[i])
        continue;
      memcpy(bad, tok, sizeof(bad));
      bad[i] = alphabet[c];
      assert_int_equal(device_verify(s, bad, DEVICE_TOKEN_LEN, &got, NULL), -EACCES);
    }
    /* And a character outside the alphabet (standard base64's '+', '/', '=', NUL). */
    memcpy(bad, tok, sizeof(bad));
    bad[i] = "+/=\0"[i % 4];
    assert_int_equal(device_verify(s, bad, DEVICE_TOKEN_LEN, &got, NULL), -EACCES);
  }
  for (size_t i = 0; i < DEVICE_ID_LEN; i++)
    assert_int_equal(got.b[i], 0xee);
  device_signer_free(s);
}

static void test_wrong_key(void **state) {
  struct device_signer *a = device_signer_new(key1), *b = device_signer_new(key2);
  struct device_id id;
  char tok[DEVICE_TOKEN_LEN + 1];
  (void)state;
  assert_int_equal(device_issue(a, 1, &id, tok), 0);
  assert_int_equal(device_verify(b, tok, DEVICE_TOKEN_LEN, NULL, NULL), -EACCES);
  assert_int_equal(device_verify(a, tok, DEVICE_TOKEN_LEN, NULL, NULL), 0);
  device_signer_free(a);
  device_signer_free(b);
}

static void test_truncated_and_garbage(void **state) {
  struct device_signer *s = device_signer_new(key1);
  struct device_id id;
  char tok[DEVICE_TOKEN_LEN + 1], longer[DEVICE_TOKEN_LEN + 8];
  (void)state;
  assert_int_equal(device_issue(s, 1, &id, tok), 0);
  for (size_t len = 0; len < DEVICE_TOKEN_LEN; len++)
    assert_int_equal(device_verify(s, tok, len, NULL, NULL), -EACCES);
  snprintf(longer, sizeof(longer), "%sAAAA", tok);
  assert_int_equal(device_verify(s, longer, strlen(longer), NULL, NULL), -EACCES);
  assert_int_equal(device_verify(s, NULL, 0, NULL, NULL), -EACCES);
  const char *junk = "this is not a token at all, just some text of the right size......";
  assert_int_equal(device_verify(s, junk, strlen(junk), NULL, NULL), -EACCES);
  char zeros[DEVICE_TOKEN_LEN];
  memset(zeros, 'A', sizeof(zeros)); /* decodes to all-zero bytes: version 0, zero MAC */
  assert_int_equal(device_verify(s, zeros, sizeof(zeros), NULL, NULL), -EACCES);
  device_signer_free(s);
}

static void test_hex(void **state) {
  struct device_id id, back;
  char hex[DEVICE_HEX_LEN + 1];
  (void)state;
  for (int i = 0; i < DEVICE_ID_LEN; i++)
    id.b[i] = (uint8_t)(i * 17 + 3);
  device_id_hex(&id, hex);
  assert_string_equal(hex, "031425364758697a8b9cadbecfe0f102");
  assert_int_equal(device_id_parse_hex(hex, &back), 0);
  assert_memory_equal(id.b, back.b, DEVICE_ID_LEN);
  assert_int_equal(device_id_parse_hex("031425364758697A8B9CADBECFE0F102", &back), 0);
  assert_memory_equal(id.b, back.b, DEVICE_ID_LEN);
  assert_int_equal(device_id_parse_hex("031425364758697a", &back), -EINVAL);
  assert_int_equal(device_id_parse_hex("031425364758697a8b9cadbecfe0f1020", &back), -EINVAL);
  assert_int_equal(device_id_parse_hex("0x1425364758697a8b9cadbecfe0f102", &back), -EINVAL);
  assert_int_equal(device_id_parse_hex("031425364758697a 8b9cadbecfe0f10", &back), -EINVAL);
  assert_int_equal(device_id_parse_hex(NULL, &back), -EINVAL);
}

static void test_key_file(void **state) {
  char dir[PATH_MAX], path[PATH_MAX + 16];
  struct device_signer *s1, *s2;
  struct device_id id;
  char tok[DEVICE_TOKEN_LEN + 1];
  struct stat st;
  (void)state;

  assert_non_null(tmpdir_make(dir));
  snprintf(path, sizeof(path), "%s/%s", dir, DEVICE_KEY_FILE);
  mode_t old = umask(0); /* the key must be 0600 whatever the umask */
  assert_int_equal(device_signer_open(dir, &s1), 0);
  umask(old);
  assert_int_equal(stat(path, &st), 0);
  assert_true(S_ISREG(st.st_mode));
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(st.st_size, DEVICE_KEY_LEN);

  /* Reopened: the same key, so old tokens still verify. No temporary file is left. */
  assert_int_equal(device_issue(s1, 5, &id, tok), 0);
  assert_int_equal(device_signer_open(dir, &s2), 0);
  assert_int_equal(device_verify(s2, tok, DEVICE_TOKEN_LEN, NULL, NULL), 0);
  device_signer_free(s2);
  char tmp[PATH_MAX + 32];
  snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
  assert_int_equal(access(tmp, F_OK), -1);

  /* Readable by others: refused until fixed. */
  assert_int_equal(chmod(path, 0644), 0);
  assert_int_equal(device_signer_open(dir, &s2), -EPERM);
  assert_null(s2);
  assert_int_equal(chmod(path, 0600), 0);

  /* The wrong size: refused, never replaced (a lost key would unban everyone). */
  assert_int_equal(truncate(path, 10), 0);
  assert_int_equal(device_signer_open(dir, &s2), -EBADMSG);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_size, 10);

  /* A symbolic link in its place: refused. */
  assert_int_equal(unlink(path), 0);
  assert_int_equal(symlink("/etc/hostname", path), 0);
  assert_int_equal(device_signer_open(dir, &s2), -EBADMSG);
  assert_int_equal(unlink(path), 0);

  /* Removed: a new key, and the old tokens no longer verify. */
  assert_int_equal(device_signer_open(dir, &s2), 0);
  assert_int_equal(device_verify(s2, tok, DEVICE_TOKEN_LEN, NULL, NULL), -EACCES);
  device_signer_free(s2);
  device_signer_free(s1);
  tmpdir_remove(dir);
}

static void test_bad_data_dir(void **state) {
  char dir[PATH_MAX], file[PATH_MAX + 8];
  struct device_signer *s;
  (void)state;
  assert_int_equal(device_signer_open("/nonexistent/tandem", &s), -ENOENT);
  assert_null(s);
  assert_int_equal(device_signer_open("", &s), -ENOENT);
  assert_non_null(tmpdir_make(dir));
  snprintf(file, sizeof(file), "%s/f", dir);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fclose(f);
  assert_int_equal(device_signer_open(file, &s), -ENOTDIR);
  if (geteuid() != 0) { /* root writes anywhere */
    assert_int_equal(chmod(dir, 0500), 0);
    assert_int_equal(device_signer_open(dir, &s), -EACCES);
    chmod(dir, 0700);
  }
  tmpdir_remove(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_issue_verify),    cmocka_unit_test(test_tamper_every_byte),
      cmocka_unit_test(test_wrong_key),       cmocka_unit_test(test_truncated_and_garbage),
      cmocka_unit_test(test_hex),             cmocka_unit_test(test_key_file),
      cmocka_unit_test(test_bad_data_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
