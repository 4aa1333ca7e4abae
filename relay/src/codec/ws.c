/* SPDX-License-Identifier: MIT
 * ws.c: the RFC 6455 codec behind ws.h. The handshake helpers and the frame
 * encoders are small and stateless; most of this file is hr_ws_reader_t, the
 * incremental reader that the WebSocket transport (net/transport_ws.c) feeds
 * with whatever bytes a read returned.
 * Pure: no sockets, no libuv; SHA-1 and base64 come from libcrypto. */
#include "codec/ws.h"

#include "base/utf8.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#define WS_GUID             "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define DEFAULT_MAX_MESSAGE ((size_t)64 * 1024)
#define MAX_CLIENT_HEADER   14 /* 2 + 8-byte extended length + 4-byte mask key */
#define MAX_CONTROL_PAYLOAD 125
#define MAX_CLOSE_REASON    123 /* 125 minus the 2-byte code */

/* ---- handshake ---- */

static int is_base64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* 16 bytes encode to 22 base64 characters plus "==", so anything but 24
 * bytes in that shape is not a key. The last character also carries 4 unused
 * bits; a lenient decoder ignores them and so do we: rejecting a key for them
 * would only break some odd client and protects nothing. */
int hr_ws_key_valid(const char *key, size_t len)
{
    if (key == NULL || len != 24)
        return 0;
    for (size_t i = 0; i < 22; i++)
        if (!is_base64_char((unsigned char)key[i]))
            return 0;
    return key[22] == '=' && key[23] == '=';
}

void hr_ws_accept_key(const char *key, size_t len, char out[HR_WS_ACCEPT_LEN + 1])
{
    unsigned char stack[128];
    unsigned char *buf = stack;
    unsigned char digest[SHA_DIGEST_LENGTH];
    size_t n = len + sizeof WS_GUID - 1;

    /* SHA1() wants one contiguous input; a valid key always fits the stack
     * buffer, and an oversized one (the caller skipped validation) still gets
     * a correct answer from the heap. */
    if (n > sizeof stack)
        buf = hr_xmalloc(n);
    if (len > 0)
        memcpy(buf, key, len);
    memcpy(buf + len, WS_GUID, sizeof WS_GUID - 1);
    SHA1(buf, n, digest);
    if (buf != stack)
        free(buf);
    /* 20 bytes -> 28 characters and a NUL: exactly out's size. */
    EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH);
}

/* ---- server frames ---- */

size_t hr_ws_frame_header(uint8_t out[HR_WS_MAX_HEADER], unsigned opcode, uint64_t payload_len)
{
    out[0] = (uint8_t)(0x80 | (opcode & 0x0F));
    if (payload_len <= 125) {
        out[1] = (uint8_t)payload_len;
        return 2;
    }
    if (payload_len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(payload_len >> 8);
        out[3] = (uint8_t)payload_len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
    return 10;
}

size_t hr_ws_close_frame(uint8_t *out, uint16_t code, const char *reason, size_t reason_len)
{
    if (code == 0) {
        out[0] = 0x80 | HR_WS_OP_CLOSE;
        out[1] = 0;
        return 2;
    }
    if (reason == NULL)
        reason_len = 0;
    /* A longer reason would make an illegal control frame. Cut it, and cut
     * before a split character so the peer does not fail us with 1007. */
    if (reason_len > MAX_CLOSE_REASON) {
        reason_len = MAX_CLOSE_REASON;
        while (reason_len > 0 && ((unsigned char)reason[reason_len] & 0xC0) == 0x80)
            reason_len--;
    }
    out[0] = 0x80 | HR_WS_OP_CLOSE;
    out[1] = (uint8_t)(2 + reason_len);
    out[2] = (uint8_t)(code >> 8);
    out[3] = (uint8_t)code;
    if (reason_len > 0)
        memcpy(out + 4, reason, reason_len);
    return 4 + reason_len;
}

int hr_ws_close_code_valid(uint16_t code)
{
    /* 1012-1014 (service restart, try again later, bad gateway) are
     * registered with IANA (RFC 6455 11.7) and sent by servers and proxies. */
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* ---- client frames ----
 *
 * The reader works one frame at a time. A frame that lies whole in the input
 * is unmasked and handled where it is, without a copy. Otherwise its bytes go
 * to pend, and only as many as the frame needs, so pend never holds the start
 * of the next frame; when pend completes, it is detached from the reader,
 * handled and freed. Data frames of a fragmented message are appended to msg,
 * which is detached and freed once the last fragment is delivered. So the
 * pointer the callback receives is into the caller's input (a whole frame),
 * into the detached pend buffer (a frame that arrived in pieces) or into the
 * detached msg buffer (a reassembled message); all three live only until the
 * callback returns.
 *
 * Every header rule is checked as soon as the bytes it looks at are there,
 * which makes errors independent of how the input was split: the same stream
 * fails at the same frame with the same code whether it comes whole or a byte
 * at a time.
 */

#define STOP    (-1)    /* the callback asked to stop, or a close frame ended the stream */
#define BAD_RSV 0x10000 /* or'ed into a close code: the error was a reserved bit */

struct frame {
    size_t hlen;   /* header size including the mask key (or bytes needed, on HR_AGAIN) */
    uint64_t plen; /* payload length */
    uint8_t op;
    uint8_t fin;
    uint8_t rsv1;
};

static const uint8_t empty_payload[1];

static size_t limit_of(const hr_ws_reader_t *r)
{
    size_t m = r->max_message ? r->max_message : DEFAULT_MAX_MESSAGE;

    /* Keeps header + payload sizes from wrapping size_t whatever the limit. */
    if (m > SIZE_MAX - MAX_CLIENT_HEADER)
        m = SIZE_MAX - MAX_CLIENT_HEADER;
    return m;
}

static int is_control(unsigned op)
{
    return op & 0x8;
}

/* Validate the header in p[0..n). Returns 0 with *f filled in when it is all
 * there (mask key included), HR_AGAIN with f->hlen set to the header bytes
 * needed to go on, or the close code of the first broken rule. */
static int parse_header(const hr_ws_reader_t *r, const uint8_t *p, size_t n, struct frame *f)
{
    size_t ext = 0;
    uint64_t len;

    f->hlen = 2;
    if (n < 1)
        return HR_AGAIN;
    f->fin = p[0] >> 7;
    f->op = p[0] & 0x0F;
    f->rsv1 = (p[0] >> 6) & 1;
    /* RSV2-3: no extension we negotiate uses them. RSV1: permessage-deflate
     * only, and only on the first frame of a data message (RFC 7692 6.1). */
    if ((p[0] & 0x30) || (f->rsv1 && (!r->deflate || is_control(f->op) || f->op == HR_WS_OP_CONT)))
        return HR_WS_CLOSE_PROTOCOL_ERROR | BAD_RSV;
    switch (f->op) {
    case HR_WS_OP_CONT:
        if (r->msg_op == 0)
            return HR_WS_CLOSE_PROTOCOL_ERROR;
        break;
    case HR_WS_OP_TEXT:
    case HR_WS_OP_BINARY:
        if (r->msg_op != 0) /* messages do not nest: the previous one must finish first */
            return HR_WS_CLOSE_PROTOCOL_ERROR;
        break;
    case HR_WS_OP_CLOSE:
    case HR_WS_OP_PING:
    case HR_WS_OP_PONG:
        if (!f->fin) /* RFC 6455 5.5: control frames are never fragmented */
            return HR_WS_CLOSE_PROTOCOL_ERROR;
        break;
    default:
        return HR_WS_CLOSE_PROTOCOL_ERROR;
    }
    if (n < 2)
        return HR_AGAIN;
    if (!(p[1] & 0x80)) /* RFC 6455 5.1: the server must fail an unmasked client frame */
        return HR_WS_CLOSE_PROTOCOL_ERROR;
    len = p[1] & 0x7F;
    /* A control frame's payload fits the 7-bit length, so an extended length
     * here is refused at once, without waiting for its bytes (as the ws
     * package does), even if it would decode to 125 or less. */
    if (is_control(f->op) && len > MAX_CONTROL_PAYLOAD)
        return HR_WS_CLOSE_PROTOCOL_ERROR;
    if (len == 126)
        ext = 2;
    else if (len == 127)
        ext = 8;
    f->hlen = 2 + ext;
    if (n < f->hlen)
        return HR_AGAIN;
    if (ext > 0) {
        len = 0;
        for (size_t i = 0; i < ext; i++)
            len = len << 8 | p[2 + i];
        if (len >> 63) /* RFC 6455 5.2: the most significant bit must be 0 */
            return HR_WS_CLOSE_PROTOCOL_ERROR;
        /* Non-minimal encodings of data frames (126 announcing 5 bytes) are
         * accepted: the RFC says "must" to senders, and nothing breaks when
         * we read them. */
    }
    f->plen = len;
    /* Refuse an oversized message on its declared length, before buffering
     * a byte of it. Control frames are held to 125 bytes above instead. */
    if (!is_control(f->op)) {
        size_t limit = limit_of(r);
        size_t have = f->op == HR_WS_OP_CONT ? r->msg_len : 0;
        if (len > limit - have)
            return HR_WS_CLOSE_TOO_BIG;
    }
    f->hlen += 4;
    if (n < f->hlen)
        return HR_AGAIN;
    return 0;
}

/* Drop whatever the reader holds; it stays usable only after init. */
static void release(hr_ws_reader_t *r)
{
    free(r->pend);
    r->pend = NULL;
    r->pend_len = r->pend_cap = 0;
    free(r->msg);
    r->msg = NULL;
    r->msg_len = r->msg_cap = 0;
    r->msg_op = 0;
    r->msg_deflated = 0;
    r->utf8 = HR_UTF8_ACCEPT;
}

static int fail(hr_ws_reader_t *r, int code)
{
    r->bad_rsv = (code & BAD_RSV) != 0;
    code &= ~BAD_RSV;
    r->closed = 1;
    release(r);
    return code;
}

/* Grow *buf to hold need bytes, doubling (so appends stay amortised O(1))
 * but never past limit, the most the buffer can ever need: a client that
 * announces a big frame and sends it slowly gets memory as it sends. */
static void reserve(uint8_t **buf, size_t *cap, size_t need, size_t limit)
{
    size_t c;

    if (*cap >= need)
        return;
    c = *cap == 0 ? 64 : *cap < limit / 2 ? *cap * 2 : limit;
    if (c > limit)
        c = limit;
    if (c < need)
        c = need;
    *buf = hr_xrealloc(*buf, c);
    *cap = c;
}

static int emit(hr_ws_reader_t *r, hr_ws_event_cb cb, void *ud, hr_ws_event_t ev,
                const uint8_t *data, size_t len, uint16_t code)
{
    if (cb != NULL && cb(ud, ev, data, len, code) != 0) {
        /* The connection is going away; whatever follows in the input is
         * not parsed, so make later feeds no-ops rather than misparse. */
        r->closed = 1;
        return STOP;
    }
    return 0;
}

static void unmask(uint8_t *p, size_t n, const uint8_t key[4])
{
    for (size_t i = 0; i < n; i++)
        p[i] ^= key[i & 3];
}

static int on_close(hr_ws_reader_t *r, const uint8_t *p, size_t n, hr_ws_event_cb cb, void *ud)
{
    uint16_t code = HR_WS_CLOSE_NO_STATUS;

    if (n == 1) /* a code is two bytes; one byte is neither empty nor a code */
        return HR_WS_CLOSE_PROTOCOL_ERROR;
    if (n >= 2) {
        code = (uint16_t)(p[0] << 8 | p[1]);
        if (!hr_ws_close_code_valid(code))
            return HR_WS_CLOSE_PROTOCOL_ERROR;
        if (!hr_utf8_valid(p + 2, n - 2))
            return HR_WS_CLOSE_INVALID_DATA;
        p += 2;
        n -= 2;
    }
    /* Set before the callback so a feed from inside it is already a no-op. */
    r->closed = 1;
    emit(r, cb, ud, HR_WS_EV_CLOSE, p, n, code);
    return STOP;
}

/* Append one data frame of a fragmented message (the first included) and
 * deliver the message on its final frame. UTF-8 is checked per fragment, so
 * a bad byte fails the stream now rather than after the last fragment. */
static int on_fragment(hr_ws_reader_t *r, const uint8_t *p, size_t n, int fin, hr_ws_event_cb cb,
                       void *ud)
{
    uint8_t *m;
    size_t mlen;
    hr_ws_event_t ev;
    int rc;

    if (r->msg_op == HR_WS_OP_TEXT && !r->msg_deflated) {
        r->utf8 = hr_utf8_feed(r->utf8, p, n);
        if (r->utf8 == HR_UTF8_REJECT || (fin && r->utf8 != HR_UTF8_ACCEPT))
            return HR_WS_CLOSE_INVALID_DATA;
    }
    if (n > 0) {
        /* parse_header kept msg_len + n within the limit. */
        reserve(&r->msg, &r->msg_cap, r->msg_len + n, limit_of(r));
        memcpy(r->msg + r->msg_len, p, n);
        r->msg_len += n;
    }
    if (!fin)
        return 0;
    /* Detach first: the reader is idle (and holds nothing) during the
     * callback, whatever the callback does. */
    m = r->msg;
    mlen = r->msg_len;
    if (r->msg_deflated)
        ev = r->msg_op == HR_WS_OP_TEXT ? HR_WS_EV_TEXT_DEFLATED : HR_WS_EV_BINARY_DEFLATED;
    else
        ev = r->msg_op == HR_WS_OP_TEXT ? HR_WS_EV_TEXT : HR_WS_EV_BINARY;
    r->msg = NULL;
    r->msg_len = r->msg_cap = 0;
    r->msg_op = 0;
    r->msg_deflated = 0;
    r->utf8 = HR_UTF8_ACCEPT;
    rc = emit(r, cb, ud, ev, m != NULL ? m : empty_payload, mlen, 0);
    free(m);
    return rc;
}

/* Handle one whole frame at p, validated by parse_header into *f. Returns 0,
 * STOP or a close code. */
static int handle_frame(hr_ws_reader_t *r, uint8_t *p, const struct frame *f, hr_ws_event_cb cb,
                        void *ud)
{
    uint8_t *pl = p + f->hlen;
    size_t n = (size_t)f->plen;

    unmask(pl, n, pl - 4);
    switch (f->op) {
    case HR_WS_OP_PING:
        return emit(r, cb, ud, HR_WS_EV_PING, pl, n, 0);
    case HR_WS_OP_PONG:
        return emit(r, cb, ud, HR_WS_EV_PONG, pl, n, 0);
    case HR_WS_OP_CLOSE:
        return on_close(r, pl, n, cb, ud);
    case HR_WS_OP_TEXT:
    case HR_WS_OP_BINARY:
        if (f->fin && f->rsv1)
            return emit(r, cb, ud,
                        f->op == HR_WS_OP_TEXT ? HR_WS_EV_TEXT_DEFLATED : HR_WS_EV_BINARY_DEFLATED,
                        pl, n, 0);
        if (f->fin) {
            /* The common case, a one-frame message: no copy at all. */
            if (f->op == HR_WS_OP_TEXT && !hr_utf8_valid(pl, n))
                return HR_WS_CLOSE_INVALID_DATA;
            return emit(r, cb, ud, f->op == HR_WS_OP_TEXT ? HR_WS_EV_TEXT : HR_WS_EV_BINARY, pl, n,
                        0);
        }
        r->msg_op = f->op;
        r->msg_deflated = f->rsv1;
        r->utf8 = HR_UTF8_ACCEPT;
        return on_fragment(r, pl, n, 0, cb, ud);
    default: /* HR_WS_OP_CONT; parse_header let no other opcode through */
        return on_fragment(r, pl, n, f->fin, cb, ud);
    }
}

/* Move input into pend until it holds one whole frame (returns 0) or the
 * input runs out (HR_AGAIN). Takes no byte beyond the frame, and checks the
 * header again as each piece of it arrives. */
static int fill_pend(hr_ws_reader_t *r, uint8_t **data, size_t *len, struct frame *f)
{
    for (;;) {
        int rc = parse_header(r, r->pend, r->pend_len, f);
        size_t want, n;

        if (rc > 0)
            return rc;
        want = rc == HR_AGAIN ? f->hlen : f->hlen + (size_t)f->plen;
        if (rc == 0 && r->pend_len == want)
            return 0;
        if (*len == 0)
            return HR_AGAIN;
        n = want - r->pend_len;
        if (n > *len)
            n = *len;
        reserve(&r->pend, &r->pend_cap, r->pend_len + n, rc == 0 ? want : MAX_CLIENT_HEADER);
        memcpy(r->pend + r->pend_len, *data, n);
        r->pend_len += n;
        *data += n;
        *len -= n;
    }
}

void hr_ws_reader_init(hr_ws_reader_t *r, size_t max_message)
{
    memset(r, 0, sizeof *r);
    r->max_message = max_message;
}

int hr_ws_reader_feed(hr_ws_reader_t *r, uint8_t *data, size_t len, hr_ws_event_cb cb, void *ud)
{
    struct frame f;
    uint8_t *frame;
    int rc = 0;

    while (!r->closed) {
        if (r->pend_len == 0) {
            if (len == 0)
                return 0;
            rc = parse_header(r, data, len, &f);
            if (rc > 0)
                return fail(r, rc);
            if (rc == 0 && f.plen <= len - f.hlen) {
                size_t flen = f.hlen + (size_t)f.plen;

                rc = handle_frame(r, data, &f, cb, ud);
                if (rc != 0)
                    break;
                data += flen;
                len -= flen;
                continue;
            }
        }
        rc = fill_pend(r, &data, &len, &f);
        if (rc == HR_AGAIN)
            return 0;
        if (rc > 0)
            return fail(r, rc);
        /* Detach pend so the reader is idle while the frame is handled. */
        frame = r->pend;
        r->pend = NULL;
        r->pend_len = r->pend_cap = 0;
        rc = handle_frame(r, frame, &f, cb, ud);
        free(frame);
        if (rc != 0)
            break;
    }
    if (rc > 0)
        return fail(r, rc);
    /* Stopped by the callback or by a close frame: nothing more is read. */
    release(r);
    return 0;
}

void hr_ws_reader_free(hr_ws_reader_t *r)
{
    release(r);
}
