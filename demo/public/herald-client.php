<?php
/*
 * The browser client, served from its package (packages/herald-client) so
 * that the demo runs the very file an application ships, not a copy: the
 * classic-script build, which defines window.Herald.
 */
declare(strict_types=1);

$file = __DIR__ . '/../../packages/herald-client/herald-client.global.js';
header('Content-Type: text/javascript; charset=utf-8');
header('Cache-Control: no-cache');
header('X-Content-Type-Options: nosniff');
readfile($file);
