/* sdp.c -- WebRTC SDP offer parsing and fingerprint text (RFC 8866, 8829, 8843). */
#include "media/sdp_int.h"

#include <errno.h>
#include <string.h>

#include "base/hex.h"

/* A borrowed slice of the offer text. */
struct view {
  const char *p;
  size_t n;
};

/* Transport attributes at one level (session or one m-section). */
struct level {
  struct view ufrag, pwd, setup, fp; /* fp: value of the first sha-256 fingerprint */
  bool any_fp, has_sha, trickle;
};

/* What the first pass keeps about one m-section beyond struct sdp_media. */
struct msec {
  struct level t;
  struct view fmts;       /* the m-line's format list */
  size_t body, end;       /* offsets of its attribute lines in the offer */
  uint8_t codec[16];      /* PTs whose (first) rtpmap is our codec */
  uint8_t mapped[16];     /* PTs that have an rtpmap at all */
  bool has_dir, fid, got_fmtp;
};

struct parser {
  const char *s;
  size_t len;
  struct level sess;
  enum sdp_dir sess_dir;
  struct view groups[SDP_MAX_MEDIA]; /* a=group:BUNDLE mid lists */
  size_t n_groups;
  struct msec ms[SDP_MAX_MEDIA];
  struct sdp_offer o; /* copied to the caller's only on success */
  const char *err;
};

static int fail(struct parser *p, int rc, const char *msg) {
  p->err = msg;
  return rc;
}

static bool eq(struct view v, const char *lit) {
  return v.n == strlen(lit) && memcmp(v.p, lit, v.n) == 0;
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

static bool caseeq(struct view v, const char *lit) {
  if (v.n != strlen(lit))
    return false;
  for (size_t i = 0; i < v.n; i++)
    if (lower(v.p[i]) != lower(lit[i]))
      return false;
  return true;
}

static bool same(struct view a, struct view b) { return a.n == b.n && memcmp(a.p, b.p, a.n) == 0; }

/* Takes the next space-separated token of *v and skips the blanks after it. */
static struct view token(struct view *v) {
  while (v->n && (*v->p == ' ' || *v->p == '\t'))
    v->p++, v->n--;
  struct view t = {v->p, 0};
  while (t.n < v->n && v->p[t.n] != ' ' && v->p[t.n] != '\t')
    t.n++;
  v->p += t.n, v->n -= t.n;
  while (v->n && (*v->p == ' ' || *v->p == '\t'))
    v->p++, v->n--;
  return t;
}

/* Splits *v at the first `c`: returns what precedes it, leaves the rest in *v. */
static struct view cut(struct view *v, char c) {
  const char *at = v->n ? memchr(v->p, c, v->n) : NULL;
  struct view h = {v->p, at ? (size_t)(at - v->p) : v->n};
  v->p += at ? h.n + 1 : h.n;
  v->n -= at ? h.n + 1 : h.n;
  return h;
}

/* A plain decimal number (no sign, no blanks) no larger than max. */
static bool num(struct view v, uint32_t max, uint32_t *out) {
  uint64_t x = 0;
  for (size_t i = 0; i < v.n; i++)
    if (v.p[i] < '0' || v.p[i] > '9' || (x = x * 10 + (uint64_t)(v.p[i] - '0')) > max)
      return false;
  *out = (uint32_t)x;
  return v.n > 0;
}

static void copy(char *dst, struct view v) { /* the caller checked the size */
  memcpy(dst, v.p, v.n);
  dst[v.n] = '\0';
}

static bool bit(const uint8_t *set, uint32_t pt) { return set[pt >> 3] & (1u << (pt & 7)); }
static void setbit(uint8_t *set, uint32_t pt) { set[pt >> 3] |= (uint8_t)(1u << (pt & 7)); }

/* RFC 8866 token-char, which mids and msid ids are made of. */
static bool token_char(unsigned char c) {
  return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]", c);
}

/* 1..max printable, space-free ASCII characters (token_only: RFC 8866
 * token-chars), which can be echoed safely in an SDP line. */
static bool word(struct view v, size_t max, bool token_only) {
  for (size_t i = 0; i < v.n; i++) {
    unsigned char c = (unsigned char)v.p[i];
    if (c <= 0x20 || c >= 0x7f || (token_only && !token_char(c)))
      return false;
  }
  return v.n && v.n <= max;
}

/* word() for a NUL-terminated string that may be NULL. */
bool sdp__cword(const char *s, size_t max, bool token_only) {
  return s && word((struct view){s, strnlen(s, max + 1)}, max, token_only);
}

/* RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/". */
bool sdp__ice_chars(const char *s, size_t n, size_t min, size_t max) {
  for (size_t i = 0; i < n; i++) {
    char c = lower(s[i]);
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
      return false;
  }
  return n >= min && n <= max;
}

/* "AB:CD:..." in s[0..len) -> bytes. */
int sdp__fp_parse(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n) {
  size_t i = 0, k = 0;
  for (;;) {
    int b = len - i >= 2 ? hex_byte(s + i) : -1;
    if (b < 0)
      return -EBADMSG;
    if (k == cap)
      return -ENOSPC;
    out[k++] = (uint8_t)b;
    if ((i += 2) == len)
      break;
    if (s[i++] != ':')
      return -EBADMSG;
  }
  *n = k;
  return 0;
}

/* Returns the next line at *pos without its line end and trailing blanks. */
static bool next_line(const struct parser *p, size_t *pos, struct view *line) {
  if (*pos >= p->len)
    return false;
  const char *b = p->s + *pos;
  const char *nl = memchr(b, '\n', p->len - *pos);
  size_t n = nl ? (size_t)(nl - b) : p->len - *pos;
  *pos += nl ? n + 1 : n;
  while (n && (b[n - 1] == '\r' || b[n - 1] == ' ' || b[n - 1] == '\t'))
    n--;
  *line = (struct view){b, n};
  return true;
}

/* Transport attributes, wherever they are. Returns true if it took the line. */
static bool level_attr(struct level *l, struct view name, struct view val) {
  if (eq(name, "ice-ufrag")) {
    l->ufrag = l->ufrag.n ? l->ufrag : val;
  } else if (eq(name, "ice-pwd")) {
    l->pwd = l->pwd.n ? l->pwd : val;
  } else if (eq(name, "setup")) {
    l->setup = l->setup.n ? l->setup : val;
  } else if (eq(name, "ice-options")) {
    while (val.n)
      l->trickle |= eq(token(&val), "trickle");
  } else if (eq(name, "fingerprint")) {
    struct view alg = token(&val);
    l->any_fp = true;
    if (caseeq(alg, "sha-256") && !l->has_sha) {
      l->has_sha = true;
      l->fp = val;
    }
  } else {
    return false;
  }
  return true;
}

static bool direction(struct view name, enum sdp_dir *d) {
  static const char *const names[] = {"sendrecv", "sendonly", "recvonly", "inactive"};
  for (int i = 0; i < 4; i++)
    if (eq(name, names[i])) {
      *d = (enum sdp_dir)i;
      return true;
    }
  return false;
}

static int session_attr(struct parser *p, struct view name, struct view val) {
  if (level_attr(&p->sess, name, val) || direction(name, &p->sess_dir))
    return 0;
  if (eq(name, "group") && eq(token(&val), "BUNDLE")) {
    if (p->n_groups == SDP_MAX_MEDIA)
      return fail(p, -EBADMSG, "too many a=group lines");
    p->groups[p->n_groups++] = val;
  }
  return 0;
}

static int parse_mline(struct parser *p, struct sdp_media *m, struct msec *x, struct view v) {
  struct view media = token(&v), port = token(&v), proto = token(&v);
  x->fmts = v;
  struct view fmt = token(&v);
  port = cut(&port, '/'); /* a port count "/2" is legal and irrelevant here */
  uint32_t n;
  if (!word(media, sizeof(m->media) - 1, false) || !num(port, 65535, &n) ||
      !word(proto, sizeof(m->proto) - 1, false) || !word(fmt, sizeof(m->first_fmt) - 1, false))
    return fail(p, -EBADMSG, "malformed m-line");
  copy(m->media, media);
  copy(m->proto, proto);
  copy(m->first_fmt, fmt);
  m->port = (int)n;
  m->kind = eq(media, "audio") ? SDP_AUDIO : eq(media, "video") ? SDP_VIDEO : SDP_OTHER;
  m->pt = -1;
  return 0;
}

/* a=rtpmap:<pt> <name>/<clock>[/<channels>]: remembers whether pt is our codec. */
static void rtpmap(struct sdp_media *m, struct msec *x, struct view val) {
  uint32_t pt;
  if (m->kind == SDP_OTHER || !num(token(&val), 127, &pt) || bit(x->mapped, pt))
    return;
  setbit(x->mapped, pt);
  struct view name = cut(&val, '/'), clock = cut(&val, '/');
  bool ours = m->kind == SDP_AUDIO
                  ? caseeq(name, "opus") && eq(clock, "48000") && eq(val, "2")
                  : caseeq(name, "VP8") && eq(clock, "90000") && !val.n;
  if (ours)
    setbit(x->codec, pt);
}

/* a=extmap:<id>[/<direction>] <uri> [<attributes>] */
static void extmap(struct sdp_media *m, struct view val) {
  struct view idv = token(&val), uri = token(&val);
  uint32_t id;
  if (!num(cut(&idv, '/'), 255, &id) || id == 0)
    return;
  uint8_t *slot = eq(uri, "urn:ietf:params:rtp-hdrext:sdes:mid") ? &m->ext_mid
                  : eq(uri, "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time")
                      ? &m->ext_abs_send_time
                  : eq(uri, "urn:ietf:params:rtp-hdrext:ssrc-audio-level") ? &m->ext_audio_level
                  : eq(uri, "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01")
                      ? &m->ext_transport_cc
                  : eq(uri, "urn:ietf:params:rtp-hdrext:toffset") ? &m->ext_toffset
                                                                  : NULL;
  if (slot && !*slot)
    *slot = (uint8_t)id;
}

static int media_attr(struct parser *p, size_t i, struct view name, struct view val) {
  struct sdp_media *m = &p->o.media[i];
  struct msec *x = &p->ms[i];
  uint32_t a, b;
  if (level_attr(&x->t, name, val))
    return 0;
  if (direction(name, &m->dir)) {
    x->has_dir = true;
  } else if (eq(name, "mid")) {
    if (!word(val, sizeof(m->mid) - 1, true))
      return fail(p, -EBADMSG, "invalid a=mid");
    if (!m->mid[0])
      copy(m->mid, val);
  } else if (eq(name, "rtcp-mux")) {
    m->rtcp_mux = true;
  } else if (eq(name, "bundle-only")) {
    m->bundle_only = true;
  } else if (eq(name, "rtpmap")) {
    rtpmap(m, x, val);
  } else if (eq(name, "extmap")) {
    extmap(m, val);
  } else if (eq(name, "ssrc")) {
    if (!num(token(&val), UINT32_MAX, &a))
      return fail(p, -EBADMSG, "malformed a=ssrc");
    size_t k = 0;
    while (k < m->n_ssrc && m->ssrcs[k] != a)
      k++;
    if (k == m->n_ssrc) {
      if (m->n_ssrc == SDP_MAX_SSRC)
        return fail(p, -EBADMSG, "too many a=ssrc in one m-section");
      m->ssrcs[m->n_ssrc++] = a;
    }
  } else if (eq(name, "ssrc-group") && eq(token(&val), "FID")) {
    if (!num(token(&val), UINT32_MAX, &a) || !num(token(&val), UINT32_MAX, &b))
      return fail(p, -EBADMSG, "malformed a=ssrc-group:FID");
    if (!x->fid) {
      x->fid = true;
      m->main_ssrc = a;
      m->rtx_ssrc = b;
    }
  }
  return 0;
}

/* Splits the offer into lines and sections and reads every attribute except
 * the per-PT ones (fmtp, rtcp-fb), which need the chosen PT first. */
static int first_pass(struct parser *p) {
  size_t pos = 0, start = 0;
  struct view ln;
  bool seen_v = false;
  for (; next_line(p, &start, &ln); pos = start) {
    if (!ln.n)
      continue;
    if (ln.n > SDP_MAX_LINE)
      return fail(p, -EBADMSG, "line too long");
    for (size_t k = 0; k < ln.n; k++) {
      unsigned char c = (unsigned char)ln.p[k];
      if ((c < 0x20 && c != '\t') || c == 0x7f)
        return fail(p, -EBADMSG, "offer contains control characters");
    }
    if (ln.n < 2 || ln.p[0] < 'a' || ln.p[0] > 'z' || ln.p[1] != '=')
      return fail(p, -EBADMSG, "malformed line (expected <type>=<value>)");
    if (!seen_v) {
      if (!eq(ln, "v=0"))
        return fail(p, -EBADMSG, "offer must start with v=0");
      seen_v = true;
      continue;
    }
    struct view val = {ln.p + 2, ln.n - 2};
    if (ln.p[0] == 'm') {
      if (p->o.n_media == SDP_MAX_MEDIA)
        return fail(p, -ENOTSUP, "too many m-sections");
      if (p->o.n_media)
        p->ms[p->o.n_media - 1].end = pos;
      size_t i = p->o.n_media++;
      p->ms[i].body = start;
      p->ms[i].end = p->len;
      int rc = parse_mline(p, &p->o.media[i], &p->ms[i], val);
      if (rc)
        return rc;
      continue;
    }
    if (ln.p[0] != 'a')
      continue;
    struct view name = cut(&val, ':');
    int rc = p->o.n_media ? media_attr(p, p->o.n_media - 1, name, val)
                          : session_attr(p, name, val);
    if (rc)
      return rc;
  }
  if (!seen_v)
    return fail(p, -EBADMSG, "offer must start with v=0");
  return 0;
}

/* Picks the offerer's preferred PT of our codec and reads its fmtp and rtcp-fb. */
static int codec_pass(struct parser *p, size_t i) {
  struct sdp_media *m = &p->o.media[i];
  struct msec *x = &p->ms[i];
  struct view fmts = x->fmts, ln;
  uint32_t pt;
  while (fmts.n && m->pt < 0)
    if (num(token(&fmts), 127, &pt) && bit(x->codec, pt))
      m->pt = (int)pt;
  if (m->pt < 0)
    return 0;
  for (size_t pos = x->body; pos < x->end && next_line(p, &pos, &ln);) {
    if (ln.n < 2 || ln.p[0] != 'a')
      continue;
    struct view val = {ln.p + 2, ln.n - 2};
    struct view name = cut(&val, ':'), ptv = token(&val);
    bool mine = num(ptv, 127, &pt) && (int)pt == m->pt;
    if (eq(name, "fmtp") && mine && !x->got_fmtp) {
      if (val.n >= sizeof(m->fmtp))
        return fail(p, -EBADMSG, "a=fmtp too long");
      copy(m->fmtp, val);
      x->got_fmtp = true;
    } else if (eq(name, "rtcp-fb") && (mine || eq(ptv, "*"))) {
      struct view type = token(&val), param = token(&val);
      if (eq(type, "nack") && !param.n)
        m->fb_nack = true;
      else if (eq(type, "nack") && eq(param, "pli"))
        m->fb_pli = true;
      else if (eq(type, "ccm") && eq(param, "fir"))
        m->fb_fir = true;
      else if (eq(type, "goog-remb"))
        m->fb_remb = true;
      else if (eq(type, "transport-cc"))
        m->fb_transport_cc = true;
    }
  }
  return 0;
}

/* The value of a transport attribute for the bundled transport: media-level
 * wins over session-level, and a section that has neither borrows the other
 * section's. Returns 0, -ENOENT if neither has one, -EINVAL if they differ. */
static int bundled(struct view a, struct view v, struct view sess, struct view *out) {
  a = a.n ? a : sess;
  v = v.n ? v : sess;
  a = a.n ? a : v;
  v = v.n ? v : a;
  *out = a;
  return !a.n ? -ENOENT : same(a, v) ? 0 : -EINVAL;
}

/* Index of the first of mids a, b in a BUNDLE group that holds both: 0 (a
 * first), 1 (b first), or -1 when no group holds both. */
static int bundle_order(const struct parser *p, const char *a, const char *b) {
  struct view va = {a, strlen(a)}, vb = {b, strlen(b)};
  for (size_t g = 0; g < p->n_groups && va.n && vb.n; g++) {
    struct view v = p->groups[g];
    int ia = -1, ib = -1;
    for (int k = 0; v.n; k++) {
      struct view t = token(&v);
      if (ia < 0 && same(t, va))
        ia = k;
      if (ib < 0 && same(t, vb))
        ib = k;
    }
    if (ia >= 0 && ib >= 0)
      return ia < ib ? 0 : 1;
  }
  return -1;
}

static int transport(struct parser *p) {
  struct sdp_offer *o = &p->o;
  const struct level *a = &p->ms[o->audio].t, *v = &p->ms[o->video].t, *s = &p->sess;
  struct view uf, pw, st;
  int ru = bundled(a->ufrag, v->ufrag, s->ufrag, &uf);
  int rp = bundled(a->pwd, v->pwd, s->pwd, &pw);
  if (ru == -ENOENT || rp == -ENOENT)
    return fail(p, -EBADMSG, "offer has no ICE credentials");
  if (ru || rp)
    return fail(p, -EBADMSG, "bundled sections have different ICE credentials");
  if (!sdp__ice_chars(uf.p, uf.n, 4, 256))
    return fail(p, -EBADMSG, "invalid a=ice-ufrag (must be 4..256 ice-chars)");
  if (!sdp__ice_chars(pw.p, pw.n, 22, 256))
    return fail(p, -EBADMSG, "invalid a=ice-pwd (must be 22..256 ice-chars)");
  copy(o->ice_ufrag, uf);
  copy(o->ice_pwd, pw);

  const struct level *fa = a->any_fp ? a : s->any_fp ? s : NULL;
  const struct level *fv = v->any_fp ? v : s->any_fp ? s : NULL;
  fa = fa ? fa : fv;
  fv = fv ? fv : fa;
  if (!fa)
    return fail(p, -EBADMSG, "offer has no a=fingerprint");
  if (!fa->has_sha || !fv->has_sha)
    return fail(p, -ENOTSUP, "fingerprint must be sha-256");
  uint8_t other[32];
  size_t n1 = 0, n2 = 0;
  if (sdp__fp_parse(fa->fp.p, fa->fp.n, o->fp, 32, &n1) || n1 != 32 ||
      sdp__fp_parse(fv->fp.p, fv->fp.n, other, sizeof(other), &n2) || n2 != 32)
    return fail(p, -EBADMSG, "malformed a=fingerprint (need 32 hex bytes)");
  if (memcmp(o->fp, other, 32))
    return fail(p, -EBADMSG, "bundled sections have different fingerprints");
  o->fp_len = 32;
  strcpy(o->fp_alg, "sha-256");

  int rs = bundled(a->setup, v->setup, s->setup, &st);
  if (rs == -EINVAL)
    return fail(p, -EBADMSG, "bundled sections have different a=setup");
  if (rs == -ENOENT)
    st = (struct view){"active", 6}; /* RFC 4145's default */
  if (!caseeq(st, "actpass") && !caseeq(st, "active"))
    return fail(p, -ENOTSUP, "setup must be actpass or active");
  strcpy(o->setup, caseeq(st, "active") ? "active" : "actpass");
  o->ice_trickle = s->trickle || a->trickle || v->trickle;
  return 0;
}

/* Resolves defaults, picks the sections we use and checks what we require. */
static int finish(struct parser *p) {
  struct sdp_offer *o = &p->o;
  o->audio = o->video = -1;
  for (size_t i = 0; i < o->n_media; i++) {
    struct sdp_media *m = &o->media[i];
    if (!p->ms[i].has_dir)
      m->dir = p->sess_dir;
    if (!p->ms[i].fid && m->n_ssrc)
      m->main_ssrc = m->ssrcs[0];
    int rc = m->kind == SDP_OTHER ? 0 : codec_pass(p, i);
    if (rc)
      return rc;
    for (size_t j = 0; j < i; j++)
      if (m->mid[0] && !strcmp(m->mid, o->media[j].mid))
        return fail(p, -EBADMSG, "duplicate a=mid");
    /* Port 0 without bundle-only is a section the offerer itself disabled. */
    bool usable = (m->port || m->bundle_only) && m->pt >= 0;
    if (usable && m->kind == SDP_AUDIO && o->audio < 0)
      o->audio = (int)i;
    if (usable && m->kind == SDP_VIDEO && o->video < 0)
      o->video = (int)i;
  }
  if (o->audio < 0)
    return fail(p, -ENOTSUP, "no audio section with Opus");
  if (o->video < 0)
    return fail(p, -ENOTSUP, "no video section with VP8");
  struct sdp_media *ma = &o->media[o->audio], *mv = &o->media[o->video];
  if (strcmp(ma->proto, "UDP/TLS/RTP/SAVPF") || strcmp(mv->proto, "UDP/TLS/RTP/SAVPF"))
    return fail(p, -ENOTSUP, "audio and video must use UDP/TLS/RTP/SAVPF");
  if (!ma->rtcp_mux || !mv->rtcp_mux)
    return fail(p, -ENOTSUP, "rtcp-mux is required");
  int first = bundle_order(p, ma->mid, mv->mid);
  if (first < 0)
    return fail(p, -ENOTSUP, "BUNDLE is required (a=group:BUNDLE with the audio and video mids)");
  o->bundle_tag = first ? o->video : o->audio;
  int rc = transport(p);
  if (rc)
    return rc;
  ma->used = mv->used = true;
  return 0;
}

int sdp_parse_offer(const char *sdp, size_t len, struct sdp_offer *o, const char **err) {
  static struct parser zero;
  struct parser p = zero;
  int rc;
  p.s = sdp;
  p.len = len;
  if (!o || (!sdp && len))
    rc = fail(&p, -EINVAL, "invalid arguments");
  else if (len > SDP_MAX_OFFER)
    rc = fail(&p, -EBADMSG, "offer too large");
  else if (!(rc = first_pass(&p)))
    rc = finish(&p);
  if (!rc)
    *o = p.o;
  if (err)
    *err = rc ? p.err : NULL;
  return rc;
}

/* ---- fingerprints ---- */

int sdp_fingerprint_parse(const char *text, uint8_t *out, size_t cap, size_t *n) {
  if (!text || !n || (!out && cap))
    return -EBADMSG;
  return sdp__fp_parse(text, strlen(text), out, cap, n);
}

int sdp_fingerprint_format(const uint8_t *fp, size_t n, char *out, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  if (!out || n > INT32_MAX / 3 || cap < (n ? 3 * n : 1))
    return -ENOSPC;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (i)
      out[k++] = ':';
    out[k++] = hex[fp[i] >> 4];
    out[k++] = hex[fp[i] & 15];
  }
  out[k] = '\0';
  return (int)k;
}
