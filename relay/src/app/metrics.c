/* SPDX-License-Identifier: MIT
 * metrics.c: the relay's own metrics (version, uptime). Every module
 * registers its own in the loop's registry (base/metrics.h); GET /metrics
 * renders the registry (app/router.c). */
#include "app/server.h"
#include "app/version.h"

static void render(hr_prom_t *o, void *ud)
{
    hr_loop_t *L = ud;
    hr_prom_printf(o, "# HELP herald_info Relay version.\n# TYPE herald_info gauge\n");
    hr_prom_printf(o, "herald_info{version=\"%s\"} 1\n", HR_VERSION);
    hr_prom_printf(o,
                   "# HELP herald_uptime_seconds Seconds since the relay started.\n"
                   "# TYPE herald_uptime_seconds gauge\nherald_uptime_seconds %.3f\n",
                   (double)(uv_hrtime() - L->start_ns) / 1e9);
}

void hr_app_metrics(hr_loop_t *L)
{
    hr_metrics_add_fn(&L->metrics, render, L);
}
