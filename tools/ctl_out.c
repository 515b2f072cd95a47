/* ctl_out.c -- what tandemctl prints: messages, aligned tables, times, and the server's strings
 * made safe for a terminal (a hostile server could otherwise send escape sequences). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/ctl.h"

int ctl_fail(const struct ctl *c, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "tandemctl: ");
  if (c && c->cmd)
    fprintf(stderr, "%s: ", c->cmd);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return code;
}

char *ctl_clean(const char *s, size_t max) {
  if (!s)
    s = "-";
  size_t n = strlen(s);
  char *out = malloc(n + 4);
  if (!out)
    abort(); /* a few bytes: nothing sensible is left to do */
  size_t o = 0, chars = 0;
  for (size_t i = 0; i < n;) {
    unsigned char b = (unsigned char)s[i];
    if (b < 0x80 || b >= 0xc0) { /* a character starts here */
      if (chars == max) {
        memcpy(out + o, "...", 3);
        o += 3;
        break;
      }
      chars++;
    }
    if (b < 0x20 || b == 0x7f) {
      out[o++] = '?';
      i++;
    } else if (b == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
               (unsigned char)s[i + 1] <= 0x9f) {
      out[o++] = '?'; /* a C1 control, U+0080-U+009F (U+009B is a CSI) */
      i += 2;
    } else {
      out[o++] = (char)b;
      i++;
    }
  }
  out[o] = 0;
  return out;
}

const char *ctl_time(int64_t ms, char *buf, size_t cap) {
  if (ms <= 0) {
    snprintf(buf, cap, "-");
    return buf;
  }
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (!gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm))
    snprintf(buf, cap, "%lld", (long long)ms);
  return buf;
}

const char *ctl_span(int64_t s, char *buf, size_t cap) {
  if (s < 0)
    s = 0;
  if (s >= 86400)
    snprintf(buf, cap, "%lldd%lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
  else if (s >= 3600)
    snprintf(buf, cap, "%lldh%lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
  else if (s >= 60)
    snprintf(buf, cap, "%lldm%llds", (long long)(s / 60), (long long)(s % 60));
  else
    snprintf(buf, cap, "%llds", (long long)s);
  return buf;
}

/* ---- tables ---- */

struct ctl_table {
  size_t ncols, nrows, cap;
  char **cells; /* nrows * ncols, row 0 the heads */
};

static size_t width(const char *s) {
  size_t w = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xc0) != 0x80)
      w++;
  return w;
}

static void table_row(struct ctl_table *t, const char *const *cells, size_t max) {
  if (t->nrows == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));
    if (!c)
      abort();
    t->cells = c;
    t->cap = cap;
  }
  for (size_t i = 0; i < t->ncols; i++)
    t->cells[t->nrows * t->ncols + i] = ctl_clean(cells[i], max);
  t->nrows++;
}

struct ctl_table *ctl_table_new(size_t ncols, const char *const *heads) {
  struct ctl_table *t = calloc(1, sizeof(*t));
  if (!t)
    abort();
  t->ncols = ncols;
  table_row(t, heads, 64);
  return t;
}

void ctl_table_add(struct ctl_table *t, const char *const *cells) { table_row(t, cells, 80); }

void ctl_table_print(struct ctl_table *t) {
  size_t *w = calloc(t->ncols, sizeof(*w));
  if (!w)
    abort();
  for (size_t r = 0; r < t->nrows; r++)
    for (size_t i = 0; i < t->ncols; i++) {
      size_t x = width(t->cells[r * t->ncols + i]);
      if (x > w[i])
        w[i] = x;
    }
  for (size_t r = 0; r < t->nrows; r++) {
    for (size_t i = 0; i < t->ncols; i++) {
      const char *s = t->cells[r * t->ncols + i];
      fputs(s, stdout);
      if (i + 1 < t->ncols)
        printf("%*s", (int)(w[i] - width(s) + 2), "");
    }
    putchar('\n');
  }
  free(w);
}

void ctl_table_free(struct ctl_table *t) {
  if (!t)
    return;
  for (size_t i = 0; i < t->nrows * t->ncols; i++)
    free(t->cells[i]);
  free(t->cells);
  free(t);
}

/* ---- the server's JSON ---- */

const char *ctl_jint(json_t *o, const char *key, char *buf, size_t cap) {
  json_t *v = json_object_get(o, key);
  if (json_is_integer(v))
    snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
  else
    snprintf(buf, cap, "-");
  return buf;
}

const char *ctl_jstr(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (json_is_string(v))
    return json_string_value(v);
  return v && !json_is_null(v) ? "?" : "-";
}

int64_t ctl_jint64(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* ---- files ---- */

int ctl_write_file(const struct ctl *c, const char *path, const char *data, size_t len) {
  if (!strcmp(path, "-")) {
    if (fwrite(data, 1, len, stdout) != len || fflush(stdout))
      return ctl_fail(c, CTL_FAILED, "cannot write to stdout: %s", strerror(errno));
    return CTL_OK;
  }
  FILE *f = fopen(path, "wb");
  if (!f)
    return ctl_fail(c, CTL_FAILED, "cannot open %s: %s", path, strerror(errno));
  bool ok = fwrite(data, 1, len, f) == len;
  int e = errno;
  if (fclose(f) && ok) {
    ok = false;
    e = errno;
  }
  if (!ok)
    return ctl_fail(c, CTL_FAILED, "cannot write %s: %s", path, strerror(e));
  return CTL_OK;
}
