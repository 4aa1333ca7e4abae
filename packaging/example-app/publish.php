<?php
/*
 * php publish.php CHANNEL MESSAGE: publishes MESSAGE to the channel's SSE
 * subscribers from the command line, as a cron job or a queue worker does
 * (the CLI reads herald.socket from mods-available/herald.ini). Exit status
 * 0 when the relay took it, 1 when not (herald_last_error() says why).
 */
declare(strict_types=1);
if (PHP_SAPI !== 'cli' || $argc !== 3) {
    fwrite(STDERR, "usage: php publish.php CHANNEL MESSAGE\n");
    exit(2);
}
if (!sse_emit($argv[1], $argv[2])) {
    fwrite(STDERR, 'herald: ' . herald_last_error() . "\n");
    exit(1);
}
echo "published to $argv[1]\n";
