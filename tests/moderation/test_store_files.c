/* test_store_files.c -- the store on disk: tandem.db mode 0600, WAL, the schema version, reopen
 * without migrating twice; a missing, non-directory or read-only data_dir, a file that is not
 * a database, a newer schema and a symbolic link are refused with a clear reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store_fixture.h"

/* ---- files ---- */

static int64_t pragma_int(const char *db, const char *sql) {
  sqlite3 *h;
  sqlite3_stmt *st;
  int64_t v = -1;
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

static void test_files_and_reopen(void **state) {
  struct fx *f = *state;
  char db[PATH_MAX + 16];
  struct stat st;
  (void)state;
  struct store_report in = report(3, 4, T0, "minor");
  int64_t id = add_report(f, &in);
  fx_close_store(f);

  snprintf(db, sizeof(db), "%s/tandem.db", f->dir);
  assert_int_equal(stat(db, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(pragma_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
  /* WAL is a property of the file: a fresh connection sees it. */
  sqlite3 *h;
  sqlite3_stmt *s;
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
  sqlite3_finalize(s);
  sqlite3_close(h);

  /* Reopened: the data is there and the schema is not migrated twice. */
  assert_int_equal(fx_open(f, NULL), 0);
  struct rows *r = get_report(f, id);
  assert_int_equal(r->status, 0);
  assert_string_equal(r->rep[0].reason, "minor");
  rows_free(r);
  fx_close_store(f);
  assert_int_equal(pragma_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
  assert_int_equal(pragma_int(db, "SELECT count(*) FROM reports"), 1);
}

static void test_bad_data_dir(void **state) {
  struct fx *f = *state;
  struct store_config c = {0};
  struct store *st = NULL;
  const char *why = NULL;
  char path[PATH_MAX + 16], db[PATH_MAX + 32];
  (void)state;

  c.data_dir = "/nonexistent/tandem-data";
  assert_int_equal(store_open_sqlite(&f->loop, &c, &st, &why), -ENOENT);
  assert_null(st);
  assert_string_equal(why, "data_dir does not exist");
  c.data_dir = "";
  assert_int_equal(store_open_sqlite(&f->loop, &c, &st, NULL), -ENOENT);

  snprintf(path, sizeof(path), "%s/plainfile", f->dir);
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fclose(fp);
  c.data_dir = path;
  assert_int_equal(store_open_sqlite(&f->loop, &c, &st, &why), -ENOTDIR);
  assert_string_equal(why, "data_dir is not a directory");

  if (geteuid() != 0) { /* root may write anywhere */
    snprintf(path, sizeof(path), "%s/ro", f->dir);
    assert_int_equal(mkdir(path, 0500), 0);
    c.data_dir = path;
    assert_int_equal(store_open_sqlite(&f->loop, &c, &st, &why), -EACCES);
    assert_string_equal(why, "data_dir is not writable");
  }

  /* tandem.db that is not a database: refused, and left as it was. */
  snprintf(path, sizeof(path), "%s/garbage", f->dir);
  assert_int_equal(mkdir(path, 0700), 0);
  snprintf(db, sizeof(db), "%s/tandem.db", path);
  fp = fopen(db, "w");
  assert_non_null(fp);
  for (int i = 0; i < 4096; i++)
    fputc("not a database\n"[i % 15], fp);
  fclose(fp);
  c.data_dir = path;
  assert_int_equal(store_open_sqlite(&f->loop, &c, &st, &why), -EBADMSG);
  assert_string_equal(why, "tandem.db is not an SQLite database, or is corrupt");
  struct stat sb;
  assert_int_equal(stat(db, &sb), 0);
  assert_int_equal(sb.st_size, 4096);

  /* A database from a newer build: refused, not touched. */
  snprintf(path, sizeof(path), "%s/newer", f->dir);
  assert_int_equal(mkdir(path, 0700), 0);
  snprintf(db, sizeof(db), "%s/tandem.db", path);
  sqlite3 *h;
  assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
  assert_int_equal(sqlite3_exec(h, "CREATE TABLE future (x); PRAGMA user_version = 99",
                                NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);
  c.data_dir = path;
  assert_int_equal(store_open_sqlite(&f->loop, &c, &st, &why), -ENOTSUP);
  assert_string_equal(why, "tandem.db has a newer schema than this build understands");
  assert_int_equal(pragma_int(db, "PRAGMA user_version"), 99);

  /* tandem.db as a symbolic link: refused. */
  snprintf(path, sizeof(path), "%s/link", f->dir);
  assert_int_equal(mkdir(path, 0700), 0);
  snprintf(db, sizeof(db), "%s/tandem.db", path);
  assert_int_equal(symlink("/tmp/elsewhere.db", db), 0);
  c.data_dir = path;
  assert_int_equal(store_open_sqlite(&f->loop, &c, &st, &why), -EACCES);
  assert_string_equal(why, "tandem.db is a symbolic link");
  assert_int_equal(access("/tmp/elsewhere.db", F_OK), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_files_and_reopen, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_bad_data_dir, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
