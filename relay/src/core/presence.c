/* SPDX-License-Identifier: MIT
 * presence.c: placeholder until the presence module lands (issue 15). */
#include "core/presence.h"
#include "base/alloc.h"

#include <stdlib.h>
#include <string.h>

hr_presence_cfg_t hr_presence_cfg;

static const hr_opt_t opts[] = {
    {"presence_prefixes", HR_OPT_STR, &hr_presence_cfg.prefixes, 0, 0, "presence-",
     "channel prefixes (comma-separated) of presence channels"},
    {"presence_leave_ms", HR_OPT_LONG, &hr_presence_cfg.leave_ms, 0, 600000, "2000",
     "a user's leave waits this long after the last tab (a reload is no leave)"},
    {"presence_ttl_ms", HR_OPT_LONG, &hr_presence_cfg.ttl_ms, 1000, 3600000, "15000",
     "cluster mode: a dead relay's members expire after this long"},
};

const hr_opt_group_t hr_presence_options = {opts, sizeof opts / sizeof opts[0], NULL};

struct hr_presence {
    hr_loop_t *loop;
};

int hr_presence_is(const char *name, size_t len)
{
    (void)name;
    (void)len;
    return 0;
}

hr_presence_t *hr_presence_local_new(hr_loop_t *L)
{
    hr_presence_t *p = hr_xcalloc(1, sizeof *p);
    p->loop = L;
    L->presence = p;
    return p;
}

void hr_presence_add(hr_presence_t *p, hr_slice_t ch, hr_slice_t user, hr_slice_t info)
{
    (void)p, (void)ch, (void)user, (void)info;
}

void hr_presence_remove(hr_presence_t *p, hr_slice_t ch, hr_slice_t user)
{
    (void)p, (void)ch, (void)user;
}

void hr_presence_members(hr_presence_t *p, hr_slice_t ch, hr_presence_fn fn, void *ud)
{
    (void)p, (void)ch;
    fn(ud, "[]", 2, NULL);
}

void hr_presence_sweep(hr_presence_t *p, uint64_t now_ms)
{
    (void)p, (void)now_ms;
}

void hr_presence_stop(hr_presence_t *p)
{
    (void)p;
}

void hr_presence_free(hr_presence_t *p)
{
    free(p);
}
