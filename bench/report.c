/* report.c -- tandem-bench --report: one self-contained HTML page with inline SVG charts. */
#include "bench/report.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W 560
#define H 220
#define PAD_L 56
#define PAD_B 34
#define PAD_T 26
#define PAD_R 12
#define BINS 30

static void esc(FILE *f, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
  }
}

static void frame(FILE *f, const char *title) {
  fprintf(f, "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
             "xmlns=\"http://www.w3.org/2000/svg\">\n",
          W, H, W, H);
  fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\" stroke=\"#ccc\"/>\n",
          W, H);
  fprintf(f, "<text x=\"%d\" y=\"17\" font-size=\"13\" font-weight=\"bold\">", PAD_L);
  esc(f, title);
  fputs("</text>\n", f);
  fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", PAD_L,
          H - PAD_B, W - PAD_R, H - PAD_B);
  fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", PAD_L, PAD_T,
          PAD_L, H - PAD_B);
}

static void label(FILE *f, double x, double y, const char *anchor, const char *fmt, double v) {
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"%s\">", x, y, anchor);
  fprintf(f, fmt, v);
  fputs("</text>\n", f);
}

static void histogram(FILE *f, struct stats *s, const char *name, const char *unit) {
  char title[160];
  uint32_t bins[BINS];
  size_t n = stats_count(s);
  if (n)
    snprintf(title, sizeof(title), "%s (%s): n=%zu, p50 %.1f, p95 %.1f, max %.1f", name, unit, n,
             stats_pct(s, 0.5), stats_pct(s, 0.95), stats_max(s));
  else
    snprintf(title, sizeof(title), "%s (%s): no samples", name, unit);
  frame(f, title);
  double hi = stats_histogram(s, 0, 0, bins, BINS);
  uint32_t top = 1;
  for (int i = 0; i < BINS; i++)
    top = bins[i] > top ? bins[i] : top;
  double pw = W - PAD_L - PAD_R, ph = H - PAD_T - PAD_B, bw = pw / BINS;
  for (int i = 0; i < BINS; i++) {
    double h = ph * bins[i] / top;
    if (bins[i])
      fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#4a7bd0\">"
                 "<title>%u</title></rect>\n",
              PAD_L + i * bw + 1, H - PAD_B - h, bw - 2, h, bins[i]);
  }
  for (int i = 0; i <= 5; i++)
    label(f, PAD_L + pw * i / 5, H - PAD_B + 14, "middle", "%g", hi * i / 5);
  label(f, PAD_L - 4, PAD_T + 8, "end", "%.0f", top);
  label(f, PAD_L - 4, H - PAD_B, "end", "%.0f", 0);
  if (n) {
    for (int q = 0; q < 2; q++) {
      double v = stats_pct(s, q ? 0.95 : 0.5);
      double x = PAD_L + pw * (v > hi ? 1 : v / hi);
      fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" "
                 "stroke-dasharray=\"4 3\"/>\n",
              x, PAD_T, x, H - PAD_B, q ? "#c33" : "#393");
      label(f, x + 3, PAD_T + 10 + 12 * q, "start", q ? "p95 %.1f" : "p50 %.1f", v);
    }
  }
  fputs("</svg>\n", f);
}

struct series {
  const char *name, *color;
  size_t off; /* offset of a double or uint32_t/uint64_t field in struct tpoint */
  int type;   /* 0 double, 1 uint32_t, 2 uint64_t */
};

static double value(const struct tpoint *p, const struct series *s) {
  const char *b = (const char *)p + s->off;
  if (s->type == 1)
    return *(const uint32_t *)(const void *)b;
  if (s->type == 2)
    return (double)*(const uint64_t *)(const void *)b;
  return *(const double *)(const void *)b;
}

static void timeseries(FILE *f, const struct bench_result *res, const char *title,
                       const struct series *ss, size_t ns) {
  frame(f, title);
  double tmax = 1, vmax = 1;
  for (size_t i = 0; i < res->n_ts; i++) {
    tmax = res->ts[i].t_s > tmax ? res->ts[i].t_s : tmax;
    for (size_t k = 0; k < ns; k++) {
      double v = value(&res->ts[i], &ss[k]);
      vmax = v > vmax ? v : vmax;
    }
  }
  vmax *= 1.05;
  double pw = W - PAD_L - PAD_R, ph = H - PAD_T - PAD_B;
  for (size_t k = 0; k < ns; k++) {
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", ss[k].color);
    for (size_t i = 0; i < res->n_ts; i++)
      fprintf(f, "%.1f,%.1f ", PAD_L + pw * res->ts[i].t_s / tmax,
              H - PAD_B - ph * value(&res->ts[i], &ss[k]) / vmax);
    fputs("\"/>\n", f);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" fill=\"%s\">%s</text>\n",
            PAD_L + 8 + 120.0 * (double)k, PAD_T + 10, ss[k].color, ss[k].name);
  }
  for (int i = 0; i <= 5; i++)
    label(f, PAD_L + pw * i / 5, H - PAD_B + 14, "middle", "%.0f s", tmax * i / 5);
  label(f, PAD_L - 4, PAD_T + 8, "end", "%.4g", vmax);
  label(f, PAD_L - 4, H - PAD_B, "end", "%.0f", 0);
  fputs("</svg>\n", f);
}

#define S(name, color, field, type) {name, color, offsetof(struct tpoint, field), type}

int report_write(const char *path, struct brun *r, const struct bench_result *res) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -errno;
  fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>tandem-bench report</title>\n"
        "<style>body{font-family:sans-serif;margin:24px;max-width:1200px}"
        "pre{background:#f6f6f6;padding:12px;overflow-x:auto;font-size:12px}"
        "svg{margin:6px}.pass{color:#185}.fail{color:#b22}</style></head><body>\n",
        f);
  fprintf(f, "<h1>tandem-bench: <span class=\"%s\">%s</span></h1>\n", res->ok ? "pass" : "fail",
          res->ok ? "PASS" : "FAIL");
  fputs("<h2>Summary</h2>\n<pre>", f);
  /* The summary table, as the terminal shows it (escaped). */
  char *text = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&text, &len);
  if (mem) {
    summary_print_table(mem, r, res);
    fclose(mem);
    if (text)
      esc(f, text);
    free(text);
  }
  fputs("</pre>\n<h2>Latency and quality</h2>\n<div>\n", f);
  for (int m = 0; m < BM_COUNT; m++)
    histogram(f, r->m[m], bench_metric_names[m], bench_metric_units[m]);
  fputs("</div>\n<h2>Over time</h2>\n<div>\n", f);
  static const struct series peers[] = {S("connected", "#4a7bd0", connected, 1),
                                        S("ready", "#185", ready, 1),
                                        S("paired", "#c60", paired, 1)};
  static const struct series rates[] = {S("bench sent/s", "#4a7bd0", tx_pps, 0),
                                        S("bench received/s", "#185", rx_pps, 0),
                                        S("server forwarded/s", "#c60", fwd_pps, 0)};
  static const struct series cpu[] = {S("server CPU %", "#c33", srv_cpu_pct, 0),
                                      S("bench CPU %", "#4a7bd0", bench_cpu_pct, 0)};
  static const struct series mem_s[] = {S("server RSS MiB", "#806", srv_rss_mib, 0)};
  static const struct series bad[] = {S("cross-talk", "#c33", xtalk, 2),
                                      S("errors", "#c60", errors, 2)};
  timeseries(f, res, "Peers", peers, 3);
  timeseries(f, res, "RTP packets per second", rates, 3);
  timeseries(f, res, "CPU (% of one core)", cpu, 2);
  timeseries(f, res, "Server memory", mem_s, 1);
  timeseries(f, res, "Cross-talk and errors (cumulative)", bad, 2);
  fputs("</div>\n<p>Generated by tandem-bench; figures are explained in bench/README.md.</p>\n"
        "</body></html>\n",
        f);
  int rc = ferror(f) ? -EIO : 0;
  if (fclose(f) != 0 && rc == 0)
    rc = -EIO;
  return rc;
}
