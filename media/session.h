/* session.h -- one browser's media transport on a worker, and the forwarding between sessions. */
#ifndef TANDEM_SESSION_H
#define TANDEM_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct worker;
struct session;
struct sdp_offer;

enum session_kind { SESSION_AUDIO = 0, SESSION_VIDEO = 1 };

/* Creates a session for an SDP offer that sdp_parse_offer() accepted and writes the SDP answer
 * (NUL-terminated) into answer. `user` is the owner's pointer, returned by session_user().
 * Returns 0 and *out, -ENOSPC if the answer does not fit, -ENOMEM, -EIO. The session belongs to
 * the worker's loop; free it with session_close(). */
int session_new(struct worker *w, const struct sdp_offer *o, void *user, char *answer,
                size_t cap, struct session **out);

/* Unlinks the session from every partner at once (forwarding stops in this loop iteration),
 * sends a DTLS close_notify, forgets it in the worker's tables and frees it. The owner gets no
 * further callback for it. NULL is a no-op. */
void session_close(struct session *s);

void *session_user(const struct session *s);
uint64_t session_id(const struct session *s);

/* True once ICE and DTLS completed and media (video) arrived within the silence window. */
bool session_ready(const struct session *s);

/* A short label of the negotiated SRTP profile, or "" before DTLS completes. */
const char *session_srtp_profile(const struct session *s);

/* Pairs two sessions: each receives the other's audio and video from now on. Both are
 * unlinked from previous partners first; each receiver's streams continue with the same SSRC
 * and continuous sequence numbers/timestamps; video is held back until the new source's
 * keyframe, which is requested at once (PLI, repeated, then FIR). */
int router_link(struct session *a, struct session *b);

/* s stops receiving from its source and stops feeding its receivers. */
void router_unlink(struct session *s);

/* The session currently feeding s, or NULL. */
struct session *router_source(const struct session *s);

#endif
