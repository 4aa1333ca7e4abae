<?php
/*
 * The demo's publisher: once a second it samples this host (/proc) and the
 * health of the relay and of the demo page, publishes the sample with
 * sse_emit('metrics', …, 'metrics'), and publishes alerts (sse_emit('alerts',
 * …, 'alert')) when a rule starts or stops firing. Run by scripts/demo.sh:
 *
 *   php -n -d extension=build/herald.so -d herald.socket=/tmp/herald.sock demo/publisher.php
 *
 * Env: HERALD_RELAY_URL (checked at /healthz), HERALD_DEMO_URL (the page),
 * HERALD_DEMO_INTERVAL_MS (default 1000).
 */
declare(strict_types=1);

require __DIR__ . '/lib/metrics.php';

$relayUrl = getenv('HERALD_RELAY_URL') ?: 'http://127.0.0.1:8080';
$pageUrl = getenv('HERALD_DEMO_URL') ?: 'http://127.0.0.1:8000';
$intervalUs = max(100, (int) (getenv('HERALD_DEMO_INTERVAL_MS') ?: 1000)) * 1000;

// Stop between two samples on SIGTERM/SIGINT (demo.sh stops it by pid).
$running = true;
if (function_exists('pcntl_async_signals')) {
    pcntl_async_signals(true);
    foreach ([SIGTERM, SIGINT] as $sig) {
        pcntl_signal($sig, function () use (&$running) { $running = false; });
    }
}

$host = gethostname() ?: 'localhost';
$sampler = new HostSampler();
$rules = new AlertRules();
$down = false;

$publishAlert = function (array $alert) use (&$down): void {
    if (!@sse_emit('alerts', $alert, 'alert')) { // failure reported below, once
        $down = true;
    }
};
$publishAlert([
    'level' => 'info',
    'rule' => 'publisher',
    'message' => sprintf('Publisher started on %s (pid %d)', $host, getmypid()),
    'time' => date(DATE_ATOM),
]);

while ($running) {
    $started = hrtime(true);
    $m = $sampler->sample();
    $m['checks'] = [
        'relay' => http_check($relayUrl . '/healthz'),
        'page' => http_check($pageUrl . '/health.php'),
    ];
    $m['host'] = $host;
    $m['time'] = date(DATE_ATOM);

    foreach ($rules->evaluate($m) as $alert) {
        $publishAlert($alert);
    }
    $m['firing'] = $rules->firing();

    if (@sse_emit('metrics', $m, 'metrics')) {
        if ($down) {
            fprintf(STDERR, "publisher: relay is back\n");
            $down = false;
        }
    } elseif (!$down) {
        fprintf(STDERR, "publisher: sse_emit failed: %s (retrying every second)\n", herald_last_error());
        $down = true;
    }

    $left = $intervalUs - intdiv(hrtime(true) - $started, 1000);
    if ($left > 0 && $running) {
        usleep($left);
    }
}
