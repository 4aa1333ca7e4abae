/* SPDX-License-Identifier: MIT
 * uri_template.h: Mercure topic selectors. A selector is "*" (every topic),
 * an exact topic, or a URI template (RFC 6570) that matches the topics some
 * expansion of it could produce. Matching follows the reference hub
 * (dunglas/mercure's TopicSelectorStore, which calls Regexp() of
 * github.com/yosida95/uritemplate v3.0.2), not a stricter reading of the RFC:
 *
 *   - a selector equal to the topic, or "*", matches; a selector without '{',
 *     or one that does not parse as a template, matches only itself;
 *   - literals match byte for byte (pct-encoded triplets included);
 *   - an expression {op v1,v2,...} matches nothing, or its first string
 *     (the operator's: '#' '.' '/' ';' '?' '&') then a value, then up to
 *     (count - 1) more values each after the separator ('/' '.' ';' '&' ','),
 *     any number when a variable is exploded ('*');
 *   - a value is any run of pct-encoded triplets and of: for {+v} and {#v},
 *     unreserved and reserved characters; for the others, unreserved and ','
 *     (and '=' for ';' '?' '&' or an exploded variable), so {v} never spans
 *     a '/'. Variable names are not checked against the URI ({;x} matches
 *     ";y=1") and prefixes ({v:3}) do not bound the length, as in the hub.
 *
 * The template is compiled once to a small automaton and matched by
 * simulating every path at once (Thompson's construction), with no
 * recursion and no backtracking: the work is at most about 4 x nodes x
 * (len + 1) steps, nodes <= 3 x template length + 1, whatever the template
 * and the URI. Pure; fuzzed by tests/fuzz/fuzz_uri_template.c. */
#ifndef HR_URI_TEMPLATE_H
#define HR_URI_TEMPLATE_H

#include "base/common.h"

#define HR_URI_TEMPLATE_MAX 2048 /* bytes of a template, at most */

typedef struct hr_uri_template hr_uri_template_t;

/* Validate and compile tpl[0..len) (RFC 6570 level 4 syntax as the hub
 * accepts it). 0 and *out, or -1 with a reason in err: an unbalanced
 * brace, an unterminated expression, a reserved or unknown operator, a bad
 * variable name or prefix, a character a literal may not hold (use %XX),
 * a bad %XX, invalid UTF-8, longer than HR_URI_TEMPLATE_MAX. */
int hr_uri_template_parse(const char *tpl, size_t len, hr_uri_template_t **out, char *err,
                          size_t errlen);

/* 1 if uri[0..len) is matched by the whole template, else 0. */
int hr_uri_template_match(const hr_uri_template_t *t, const char *uri, size_t len);

/* The automaton's size (the work bound above), and its expressions. */
size_t hr_uri_template_nodes(const hr_uri_template_t *t);
size_t hr_uri_template_exprs(const hr_uri_template_t *t);

void hr_uri_template_free(hr_uri_template_t *t);

/* 1 if sel is "*", equal to the topic, or a valid template that matches
 * it; else 0 (the hub's rule: a selector that fails to parse is a raw
 * string). Parses each call: a subscriber's selectors should be parsed
 * once with hr_uri_template_parse instead. */
int hr_topic_selector_match(const char *sel, size_t sellen, const char *topic, size_t topiclen);

#endif
