<?php
// The hook script of relay_workers_hooks.test.mjs: app.php, counting the
// requests that run at once (inflight.txt, under an exclusive lock) and the
// most ever seen (max.txt), so a test can show app_concurrency holds for
// the relay, whichever loop sent the request.
declare(strict_types=1);

function herald_test_inflight(int $delta): void
{
    $lock = fopen(__DIR__ . '/inflight.lock', 'c');
    flock($lock, LOCK_EX);
    $n = (int) @file_get_contents(__DIR__ . '/inflight.txt') + $delta;
    file_put_contents(__DIR__ . '/inflight.txt', (string) $n);
    if ($n > (int) @file_get_contents(__DIR__ . '/max.txt')) {
        file_put_contents(__DIR__ . '/max.txt', (string) $n);
    }
    flock($lock, LOCK_UN);
    fclose($lock);
}

herald_test_inflight(1);
register_shutdown_function(static fn () => herald_test_inflight(-1));
require __DIR__ . '/app.php';
