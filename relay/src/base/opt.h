/* SPDX-License-Identifier: MIT
 * opt.h: how a module declares its configuration keys. Each module keeps
 * its settings in a struct of its own and lists them in a group: INI name
 * (also the flag --name), type, bounds, default and help. app/config.c reads
 * the INI file and the flags against every registered group; settings are
 * written once at start and only read afterwards (by every loop). */
#ifndef HR_OPT_H
#define HR_OPT_H

#include <stddef.h>

enum hr_opt_type {
    HR_OPT_STR,   /* char **, malloc'd */
    HR_OPT_LONG,  /* long *, decimal, in [min, max] */
    HR_OPT_MODE,  /* int *, octal, in [min, max] */
    HR_OPT_LEVEL, /* int *, a log level name (base/log.h) */
};

typedef struct hr_opt {
    const char *name;
    enum hr_opt_type type;
    void *ptr;
    long min, max;
    const char *def; /* default, as it would be written in the INI file */
    const char *help;
} hr_opt_t;

typedef struct hr_opt_group {
    const hr_opt_t *opts;
    size_t n;
    /* Called once every option is set: combinations, files to read.
     * 0, or -1 with a message in err. NULL: nothing to check. */
    int (*check)(char *err, size_t errlen);
} hr_opt_group_t;

/* Set one option from text; 0, or -1 with a message in err. */
int hr_opt_set(const hr_opt_t *o, const char *value, char *err, size_t errlen);

/* Every option of the group to its default. */
void hr_opt_defaults(const hr_opt_group_t *g);

/* Free the group's strings. */
void hr_opt_free(const hr_opt_group_t *g);

/* The next entry of a comma-separated list option ("a, b,c"): 1 with
 * *item (*len bytes, blanks around it trimmed, possibly 0), or 0 at the
 * end. *cursor starts at the list and moves past the entry. */
int hr_opt_list_next(const char **cursor, const char **item, size_t *len);

#endif
