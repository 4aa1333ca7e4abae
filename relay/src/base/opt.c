/* SPDX-License-Identifier: MIT
 * opt.c: setting declared options from text (opt.h). */
#include "base/opt.h"
#include "base/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hr_opt_set(const hr_opt_t *o, const char *value, char *err, size_t errlen)
{
    char *end;
    switch (o->type) {
    case HR_OPT_STR: {
        char *s = strdup(value);
        if (s == NULL)
            abort();
        free(*(char **)o->ptr);
        *(char **)o->ptr = s;
        return 0;
    }
    case HR_OPT_LEVEL: {
        int l = hr_log_parse_level(value);
        if (l < 0) {
            snprintf(err, errlen, "%s: '%s' is not debug, info, warn or error", o->name, value);
            return -1;
        }
        *(int *)o->ptr = l;
        return 0;
    }
    case HR_OPT_MODE:
    case HR_OPT_LONG: {
        errno = 0;
        long v = strtol(value, &end, o->type == HR_OPT_MODE ? 8 : 10);
        if (errno || end == value || *end != '\0') {
            snprintf(err, errlen, "%s: '%s' is not a%s number", o->name, value,
                     o->type == HR_OPT_MODE ? "n octal" : "");
            return -1;
        }
        if (v < o->min || v > o->max) {
            snprintf(err, errlen, "%s: %ld is out of range (%ld to %ld)", o->name, v, o->min,
                     o->max);
            return -1;
        }
        if (o->type == HR_OPT_MODE)
            *(int *)o->ptr = (int)v;
        else
            *(long *)o->ptr = v;
        return 0;
    }
    }
    return -1;
}

void hr_opt_defaults(const hr_opt_group_t *g)
{
    for (size_t i = 0; i < g->n; i++) {
        char err[256];
        if (hr_opt_set(&g->opts[i], g->opts[i].def, err, sizeof err) != 0) {
            /* A default that does not parse is a bug in the table. */
            fprintf(stderr, "herald-relay: bad default: %s\n", err);
            abort();
        }
    }
}

void hr_opt_free(const hr_opt_group_t *g)
{
    for (size_t i = 0; i < g->n; i++) {
        if (g->opts[i].type == HR_OPT_STR) {
            free(*(char **)g->opts[i].ptr);
            *(char **)g->opts[i].ptr = NULL;
        }
    }
}

int hr_opt_list_next(const char **cursor, const char **item, size_t *len)
{
    const char *p = *cursor;
    if (p == NULL || *p == '\0')
        return 0;
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    *cursor = end ? end + 1 : p + n;
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    *item = p;
    *len = n;
    return 1;
}
